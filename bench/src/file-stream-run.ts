/**
 * One timed run of a file workload in a process of its own (`streams.js` starts it):
 *
 *   node file-stream-run.js <variant> <file> [port]
 *
 * Prints the milliseconds the operation took, from the first call to its completion.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import { pipeline } from 'node:stream/promises';
import { Queue } from '@proactor/aio-core';
import { copyFile, createNet, createReadStream, createWriteStream, readFile } from '@proactor/aio-streams';
import uring from '@proactor/aio-uring';

const [variant, file, portArg] = process.argv.slice(2);
const port = Number(portArg);
const queue = new Queue(uring);
const copy = `${file}.copy`;

/** A queue on io_uring that claims no in-kernel sendfile, so that copyFile reads and writes. */
function copyingQueue(): Queue {
  return new Queue({ ...uring, capabilities: { ...uring.capabilities, zeroCopySendfile: false } });
}

const variants: Record<string, () => Promise<unknown>> = {
  'proactor pipeline to /dev/null': () =>
    pipeline(createReadStream(queue, file), createWriteStream(queue, '/dev/null')),
  'fs pipeline to /dev/null': () => pipeline(fs.createReadStream(file), fs.createWriteStream('/dev/null')),
  'proactor pipeline to a socket': async () => {
    const socket = createNet(queue).connect(port, '127.0.0.1');
    await pipeline(createReadStream(queue, file), socket);
  },
  'node:fs + node:net pipeline to a socket': async () => {
    const socket = net.connect(port, '127.0.0.1');
    await pipeline(fs.createReadStream(file), socket);
  },
  'proactor readFile': () => readFile(queue, file),
  'fs.promises.readFile': () => fsp.readFile(file),
  'proactor copyFile': () => copyFile(queue, file, copy),
  // The path copyFile takes where sendfile is not in the kernel: reads linked to writes.
  'proactor copyFile, read + write': () => copyFile(copyingQueue(), file, copy),
  'fs.promises.copyFile': () => fsp.copyFile(file, copy),
};

const run = variants[variant];
if (!run) throw new Error(`unknown variant ${variant}`);
const started = performance.now();
await run();
const ms = performance.now() - started;
fs.rmSync(copy, { force: true });
await queue.destroy();
process.stdout.write(`${ms}\n`);
