/**
 * Servers and socket lifetimes as node:net users rely on them (@proactor/aio-streams on the
 * backend under test): 'close' with `hadError`, listen()'s default address, a failed accept as
 * the server's 'error' with the server going on, and ref()/unref() deciding whether the process
 * stays alive.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { ConformanceCase } from '../case.js';
import { skipAcceptExhaustion } from './exhaustion.js';
import { assertExited, childPrelude, runNode } from './lifecycle.js';
import { STREAM_SOCKETS, withStreams } from './stream-scope.js';

const streamsUrl = import.meta.resolve('@proactor/aio-streams');

/** Child-process source: the backend, Queue, and aio-streams' createNet, imported as a user would. */
function streamsPrelude(t: Parameters<typeof childPrelude>[0]): string {
  return `${childPrelude(t)}const { createNet } = await import(${JSON.stringify(streamsUrl)});
import { once } from 'node:events';
`;
}

/** The address and family node:net's own server listens on without a host, and how it names an IPv4 peer. */
async function nodeNetDefaults(): Promise<{ address: string; family: string; peer: string | undefined }> {
  const server = net.createServer();
  server.listen(0);
  await once(server, 'listening');
  const { address, family, port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [peer] = await accepted;
  const remote = peer.remoteAddress;
  peer.destroy();
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
  return { address, family, peer: remote };
}

export const streamServerCases: ConformanceCase[] = [
  {
    name: "stream socket: 'close' says whether the socket was destroyed by an error (hadError), as net.Socket's does",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const { port } = await s.listen((socket) => socket.resume());
        const plain = await s.connect(port);
        const failed = await s.connect(port);
        failed.on('error', () => {});
        const plainClose = once(plain, 'close');
        const failedClose = new Promise<unknown[]>((resolve) =>
          failed.once('close', (...args) => resolve(args)),
        );
        plain.destroy();
        failed.destroy(new Error('case failure'));
        assert.deepEqual(await plainClose, [false]);
        assert.deepEqual(await failedClose, [true]);
        // A refused connect is an error too.
        const { server, port: gone } = await s.listen(() => {});
        await new Promise<void>((resolve) => server.close(() => resolve()));
        const refused = s.track(s.net.connect(gone, '127.0.0.1'));
        refused.on('error', () => {});
        assert.deepEqual(await new Promise((resolve) => refused.once('close', (...args) => resolve(args))), [
          true,
        ]);
      }),
  },
  {
    name: "stream server: listen() without a host listens where node:net's does (dual-stack '::' on a machine with IPv6), and an IPv4 client is named as node:net names it",
    needs: STREAM_SOCKETS,
    run: (t) =>
      withStreams(t, async (s) => {
        const expected = await nodeNetDefaults();
        const server = s.adopt(s.net.createServer());
        const accepted = once(server, 'connection');
        server.listen(0);
        await once(server, 'listening');
        const address = server.address();
        assert.ok(address !== null && typeof address === 'object');
        assert.equal(address.address, expected.address);
        assert.equal(address.family, expected.family);
        const client = s.track(s.net.connect(address.port, '127.0.0.1'));
        await once(client, 'connect');
        const [peer] = (await accepted) as [
          { remoteAddress: string | undefined; localPort: number | undefined },
        ];
        assert.equal(peer.remoteAddress, expected.peer);
        assert.equal(peer.localPort, address.port);
      }),
  },
  {
    name: "stream server: an accept that runs out of descriptors is the server's 'error' (EMFILE, accept), the server keeps listening, and the waiting connection is accepted once a descriptor is free",
    needs: STREAM_SOCKETS,
    timeoutMs: 30_000,
    skip: skipAcceptExhaustion,
    async run(t) {
      const r = await runNode(
        t,
        `${streamsPrelude(t)}import { openSync, closeSync } from 'node:fs';
const q = new Queue(backend);
const server = createNet(q).createServer();
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address();
// The client's descriptor exists before the descriptors run out: its connect needs none.
const client = await q.socket(4);
const out = { errors: [], connections: 0 };
const accepted = new Promise((resolve) => server.on('connection', (socket) => {
  out.connections++;
  out.listeningThen = server.listening;
  socket.destroy();
  resolve();
}));
const held = [];
try { for (;;) held.push(openSync('/dev/null', 'r')); } catch (e) { if (e.code !== 'EMFILE') throw e; }
server.on('error', (e) => {
  out.errors.push([e.code, e.syscall]);
  // The first failed accept frees the descriptors: the waiting connection must come next.
  for (const fd of held.splice(0)) closeSync(fd);
});
await q.connect(client, { address: '127.0.0.1', port });
await accepted;
await q.close(client);
await new Promise((resolve) => server.close(resolve));
console.log(JSON.stringify(out));
await q.destroy();
`,
        { timeoutMs: 25_000, limits: { descriptors: 256 } },
      );
      assertExited(r);
      const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
      assert.deepEqual(out, { errors: [['EMFILE', 'accept']], connections: 1, listeningThen: true });
    },
  },
  {
    name: 'stream server and socket: unref() lets the process exit while listening and connected; ref() after unref() keeps it alive',
    needs: STREAM_SOCKETS,
    timeoutMs: 30_000,
    async run(t) {
      const script = (keepAlive: boolean) => `${streamsPrelude(t)}
const q = new Queue(backend);
const pnet = createNet(q);
const server = pnet.createServer((socket) => { socket.unref(); ${keepAlive ? 'socket.ref();' : ''} });
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const connection = once(server, 'connection');
const client = pnet.connect(server.address().port, '127.0.0.1');
await once(client, 'connect');
await connection;
server.unref();
client.unref();
${keepAlive ? 'client.ref(); server.ref();' : ''}
console.log('connected');
// Exits the process only if nothing else kept it alive for 1 s.
setTimeout(() => { console.log('alive'); process.exit(0); }, 1000).unref();
`;
      const [unrefd, refd] = await Promise.all([
        runNode(t, script(false), { timeoutMs: 20_000 }),
        runNode(t, script(true), { timeoutMs: 20_000 }),
      ]);
      assertExited(unrefd);
      assertExited(refd);
      assert.deepEqual(
        unrefd.stdout.trim().split('\n'),
        ['connected'],
        'everything unref()d: the process exits at once',
      );
      assert.deepEqual(
        refd.stdout.trim().split('\n'),
        ['connected', 'alive'],
        'ref()d again: the process stays alive',
      );
    },
  },
  {
    name: "stream server and socket: a queue destroyed under a listening server and its reading connections ends them all with 'close', and nothing escapes as an uncaught exception",
    needs: STREAM_SOCKETS,
    timeoutMs: 30_000,
    async run(t) {
      const r = await runNode(
        t,
        `${streamsPrelude(t)}
const q = new Queue(backend);
const pnet = createNet(q);
const seen = [];
const watch = (name, emitter) => {
  emitter.on('error', (e) => seen.push(name + ' error ' + e.code));
  return new Promise((resolve) => emitter.once('close', () => { seen.push(name + ' close'); resolve(); }));
};
let accepted;
const server = pnet.createServer((socket) => { accepted = socket.resume(); });
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const connection = once(server, 'connection');
const client = pnet.connect(server.address().port, '127.0.0.1');
await once(client, 'connect');
client.resume();
await connection;
const closed = [watch('server', server), watch('client', client), watch('accepted', accepted)];
await q.destroy();
await Promise.all(closed);
console.log(JSON.stringify(seen.filter((e) => e.endsWith('close')).sort()));
`,
        { timeoutMs: 25_000 },
      );
      assertExited(r);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]'), [
        'accepted close',
        'client close',
        'server close',
      ]);
    },
  },
];
