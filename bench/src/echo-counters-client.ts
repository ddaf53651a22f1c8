/**
 * The client of echo-counters.js (a child process, so that the server's process counts only its
 * own work): one node:net connection to 127.0.0.1:`port`; says 'connected', then on 'go' sends a
 * 64-byte message and waits for it to come back, `messages` times, and says 'done'; on 'end'
 * closes the connection and exits.
 */
import net from 'node:net';

const [port, messages] = process.argv.slice(2).map(Number);
const send = (message: string): void => {
  process.send?.(message);
};
const message = Buffer.alloc(64, 0x61);
const socket = net.connect(port, '127.0.0.1');
socket.setNoDelay(true);
let got = 0;
let echoed = 0;
socket.on('connect', () => send('connected'));
socket.on('data', (chunk) => {
  got += chunk.length;
  if (got < message.length) return;
  got = 0;
  if (++echoed === messages) send('done');
  else socket.write(message);
});
socket.on('close', () => process.exit(0));
socket.on('error', (error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
process.on('message', (command) => {
  if (command === 'go') socket.write(message);
  else if (command === 'end') socket.end();
});
