// Run from the project the pack-install test creates: file I/O and a TCP round trip through
// createQueue(), as an npm user would write them. Exits non-zero (and says why) on any mismatch,
// or when io_uring was expected (PROACTOR_EXPECT_BACKEND) and another backend was chosen.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueue } from '@proactor/aio';

const q = await createQueue();
const expected = process.env.PROACTOR_EXPECT_BACKEND;
process.stdout.write(`smoke: backend ${q.backend.name}\n${q.selection.explain()}\n`);
if (expected && q.backend.name !== expected) {
  process.stderr.write(`smoke: expected the ${expected} backend, got ${q.backend.name}\n`);
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'proactor-smoke-'));
try {
  // Files: write 1 MiB in 16 writes of one batch, read it back in one read, compare with node:fs.
  const data = randomBytes(1 << 20);
  const path = join(dir, 'data.bin');
  const fd = await q.open(path, 'w+');
  const chunk = data.length / 16;
  await Promise.all(Array.from({ length: 16 }, (_, i) => q.write(fd, data, i * chunk, chunk, i * chunk)));
  await q.fsync(fd);
  const back = Buffer.alloc(data.length);
  const n = await q.read(fd, back, 0, back.length, 0);
  await q.close(fd);
  if (n !== data.length || !back.equals(data) || !readFileSync(path).equals(data))
    throw new Error('smoke: the file read back differs from what was written');
  const stats = await q.stat(path);
  if (stats.size !== data.length) throw new Error(`smoke: stat says ${stats.size} bytes`);

  // TCP over loopback: listen, connect, send both ways, compare.
  const server = await q.socket(4);
  await q.bind(server, { address: '127.0.0.1', port: 0 });
  await q.listen(server);
  const { port } = await q.localAddress(server);
  const client = await q.socket(4);
  const [{ fd: conn }] = await Promise.all([
    q.accept(server),
    q.connect(client, { address: '127.0.0.1', port }),
  ]);
  const message = randomBytes(64 * 1024);
  const sent = q.send(client, message);
  const received = Buffer.alloc(message.length);
  let got = 0;
  while (got < message.length) {
    const r = await q.recv(conn, received.subarray(got));
    if (r === 0) break;
    got += r;
  }
  await sent;
  if (!received.equals(message)) throw new Error('smoke: TCP bytes differ');
  await q.send(conn, Buffer.from('pong'));
  const reply = Buffer.alloc(4);
  await q.recv(client, reply);
  if (reply.toString() !== 'pong') throw new Error(`smoke: TCP reply '${reply}'`);
  await Promise.all([q.close(conn), q.close(client), q.close(server)]);
  process.stdout.write(`smoke: 1 MiB file and 64 KiB TCP round trip on ${q.backend.name}: ok\n`);
} finally {
  await q.destroy();
  rmSync(dir, { recursive: true, force: true });
}
