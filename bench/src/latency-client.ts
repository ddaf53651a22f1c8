/**
 * Echo ping-pong client: `connections` node:net connections, each sending a 64-byte message and
 * waiting for it to come back before sending the next, for `seconds`. Prints JSON with the
 * round-trip percentiles in microseconds. The same client measures every server.
 */
import net from 'node:net';

const [port, connections, seconds] = process.argv.slice(2).map(Number);
const message = Buffer.alloc(64, 0x61);
const samples: number[] = [];
const deadline = performance.now() + seconds * 1000;

function run(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let got = 0;
    let sent = 0;
    const ping = () => {
      got = 0;
      sent = performance.now();
      socket.write(message);
    };
    socket.on('connect', ping);
    socket.on('data', (chunk) => {
      got += chunk.length;
      if (got < message.length) return;
      const now = performance.now();
      samples.push((now - sent) * 1000);
      if (now < deadline) ping();
      else socket.end();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

await Promise.all(Array.from({ length: connections }, run));
samples.sort((a, b) => a - b);
const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
process.stdout.write(`${JSON.stringify({ count: samples.length, p50: at(0.5), p99: at(0.99) })}\n`);
