/**
 * Sockets for the reference backend: stream sockets over node:net, UDP over node:dgram
 * (datagrams.ts). node:net hands out no descriptors,
 * so sockets live in a table of "virtual descriptors" numbered from VIRTUAL_FD_BASE, far above
 * any real fd: a number there names a net.Server (bound or listening) or a net.Socket
 * (connecting or connected), with the state the socket calls need.
 *
 * - bind starts a net.Server listening at once (so the port is really taken: EADDRINUSE comes
 *   from bind, and port 0 yields the real port); until listen() is called, connections that
 *   arrive are reset, as a kernel refuses them before listen(2).
 * - Received data is buffered per socket; above RECV_HIGH_WATER bytes the socket is paused and
 *   resumed once recv drained it below, so an unread socket never grows memory without bound.
 * - The table is per thread, shared by every queue on the backend, as real descriptors are.
 * - Servers and sockets are unref'd while no operation waits on them: an open socket alone does
 *   not keep the process alive, an operation in flight does.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { devNull } from 'node:os';
import {
  type AddressRecord,
  AF_INET,
  AF_INET6,
  AF_UNIX,
  errnoOf,
  Opcode,
  POLL_ERR,
  POLL_HUP,
  POLL_IN,
  POLL_OUT,
  POLL_RDHUP,
  readAddress,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_KEEPALIVE,
  SO_NODELAY,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_DGRAM,
  SOCK_STREAM,
  validateSocketAddress,
  writeAddress,
} from '@proactor/aio-core';
import { DatagramSocket } from './datagrams.js';
import { LoopHolds } from './loop-ref.js';
import { PollWaiters } from './poll.js';
import type { SocketRequest } from './socket-request.js';

/** The first virtual descriptor: real descriptors never come near it. */
export const VIRTUAL_FD_BASE = 0x40000000;
/** Buffered bytes per socket above which it is paused until recv drains it. */
export const RECV_HIGH_WATER = 1 << 20;

const EAFNOSUPPORT = errnoOf('EAFNOSUPPORT');
const EALREADY = errnoOf('EALREADY');
const EBADF = errnoOf('EBADF');
const ECANCELED = errnoOf('ECANCELED');
const EINVAL = errnoOf('EINVAL');
const EISCONN = errnoOf('EISCONN');
const ENOPROTOOPT = errnoOf('ENOPROTOOPT');
const ENOTCONN = errnoOf('ENOTCONN');
const ENOTSOCK = errnoOf('ENOTSOCK');
const ENOTSUP = errnoOf('ENOTSUP');
const EPIPE = errnoOf('EPIPE');
const EPROTONOSUPPORT = errnoOf('EPROTONOSUPPORT');

/** net.Server's reusePort option arrived in Node 22.12 / 23.1. */
const HAS_REUSE_PORT = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
})();

type Family = typeof AF_INET | typeof AF_INET6 | typeof AF_UNIX;
type State = 'idle' | 'bound' | 'listening' | 'connecting' | 'connected';

/** Received data and the recv calls waiting for it, for one connected socket. */
class Stream {
  readonly chunks: Buffer[] = [];
  buffered = 0;
  paused = false;
  ended = false;
  readShut = false;
  writeShut = false;
  /** The error the socket failed with (a negative errno). */
  errno = 0;
  /** `sender`: for recvfrom, the address reported with data (none: no address is written). */
  readonly waiters: { req: SocketRequest; target: Buffer; sender: AddressRecord | undefined }[] = [];
  /**
   * Sends node:net has not finished writing. close() ends them with ECANCELED: node:net calls
   * the write callback of a destroyed socket without an error, which would report the whole
   * length as sent when only part of it (or none) reached the peer.
   */
  readonly sends = new Set<SocketRequest>();
  /** The peer, captured when the connection arrived (node:net forgets it once closed). */
  peer: { host: string; port: number } | undefined;

  constructor(
    readonly socket: net.Socket,
    public owner: VirtualSocket,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.readShut) return;
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.serve();
      if (this.buffered >= RECV_HIGH_WATER && !this.paused) {
        this.paused = true;
        socket.pause();
      }
      this.owner.polls.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.changed();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.errno = errnoFromSocket(error);
      this.owner.onStreamError(this.errno);
      this.changed();
    });
    socket.on('close', () => {
      this.ended = true;
      this.changed();
    });
    socket.on('drain', () => this.owner.polls.notify());
  }

  /**
   * The events poll(2) reports for a connected socket on Linux: IN with data buffered or once
   * the reading side is shut (peer's FIN or our shutdown('read'), with RDHUP); HUP once both
   * sides are; OUT while a write would not wait (also after our shutdown('write'): the write
   * fails at once); after a reset or error everything, with ERR.
   */
  readiness(): number {
    if (this.errno !== 0) return POLL_IN | POLL_OUT | POLL_RDHUP | POLL_ERR | POLL_HUP;
    let mask = 0;
    const readDone = this.readShut || this.ended;
    if (this.buffered > 0 || readDone) mask |= POLL_IN;
    if (readDone) mask |= POLL_RDHUP;
    if (readDone && this.writeShut) mask |= POLL_HUP;
    if (this.writeShut || !this.socket.writableNeedDrain) mask |= POLL_OUT;
    return mask;
  }

  recv(req: SocketRequest, target: Buffer, sender?: AddressRecord): void {
    if (target.length === 0) {
      req.done(0);
      return;
    }
    this.waiters.push({ req, target, sender });
    this.owner.hold(req);
    req.onCancel(() => {
      const index = this.waiters.findIndex((w) => w.req === req);
      if (index < 0) return;
      this.waiters.splice(index, 1);
      this.owner.release(req);
      req.done(ECANCELED);
    });
    this.serve();
  }

  /** Completes waiting recv calls from the buffer, or with 0 / the error once no more will come. */
  serve(): void {
    while (this.waiters.length > 0) {
      const { req, target, sender } = this.waiters[0];
      let result: number;
      if (this.buffered > 0 && !this.readShut) {
        result = this.take(target);
        // As the kernel: the sender is reported with data, never with the 0 of an ended stream.
        if (sender !== undefined) writeAddress(req.ring.addresses, req.sub.slot, sender);
      } else if (this.readShut || this.ended)
        result = this.readErrno() && !this.readShut ? this.readErrno() : 0;
      else if (this.readErrno()) result = this.readErrno();
      else if (this.errno) result = 0;
      else break;
      this.waiters.shift();
      this.owner.release(req);
      req.done(result);
    }
    if (this.paused && this.buffered < RECV_HIGH_WATER) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /**
   * The error a recv reports after the socket failed. A write that failed with EPIPE (the
   * connection was shut for sending, the peer's reset already reported) leaves nothing for the
   * reading side but the end of the stream: Linux's recv returns 0 then, never EPIPE.
   */
  readErrno(): number {
    return this.errno === EPIPE ? 0 : this.errno;
  }

  /** The stream's state changed (ended, failed, closed): waiting recvs and polls look again. */
  changed(): void {
    this.serve();
    this.owner.polls.notify();
  }

  take(target: Buffer): number {
    let n = 0;
    while (n < target.length && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const count = Math.min(chunk.length, target.length - n);
      chunk.copy(target, n, 0, count);
      n += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    this.buffered -= n;
    return n;
  }

  /** Ends every waiting recv and unfinished send (the descriptor was closed). */
  cancelAll(): void {
    for (const { req } of this.waiters.splice(0)) {
      this.owner.release(req);
      req.done(ECANCELED);
    }
    const sends = [...this.sends];
    this.sends.clear();
    for (const req of sends) {
      this.owner.release(req);
      req.done(ECANCELED);
    }
  }
}

/** One virtual descriptor. */
class VirtualSocket {
  state: State = 'idle';
  server: net.Server | undefined;
  stream: Stream | undefined;
  /** Where bind put the server: listen options. */
  bound: net.ListenOptions | undefined;
  backlog = 511;
  /** Connections accepted by node:net and not yet by accept(). */
  readonly arrivals: Stream[] = [];
  readonly acceptWaiters: SocketRequest[] = [];
  connectRequest: SocketRequest | undefined;
  noDelay = false;
  keepAlive = false;
  reusePort = false;
  /** For accepted unix sockets: the listener's path, which getsockname reports. */
  localPath = '';
  /** For unix clients: the path connected to, which recvfrom reports as the sender. */
  peerPath = '';
  /** A UDP socket (datagrams.ts); the stream state above is unused then. */
  dgram: DatagramSocket | undefined;
  /** Polls waiting on this (stream) socket. */
  readonly polls = new PollWaiters(
    () => this.readiness(),
    (req) => this.hold(req),
    (req) => this.release(req),
  );
  readonly #holds = new LoopHolds(() => this.updateRef());

  constructor(
    readonly fd: number,
    readonly family: Family,
  ) {}

  /** The node:net object the event loop reference applies to. */
  /** What keeps the loop alive while operations wait; none once node:net destroyed the socket
   * (whose ref() and unref() would each add a 'connect' listener, waiting for a handle). */
  get handle(): net.Server | net.Socket | undefined {
    if (this.server) return this.server;
    const socket = this.stream?.socket;
    return socket?.destroyed ? undefined : socket;
  }

  /**
   * The events poll(2) reports on Linux: a socket neither connected nor listening is writable
   * and hung up (TCP_CLOSE); a connecting one nothing yet; a listener IN while a connection
   * waits to be accepted.
   */
  readiness(): number {
    switch (this.state) {
      case 'idle':
      case 'bound':
        return POLL_OUT | POLL_HUP;
      case 'connecting':
        return 0;
      case 'listening':
        return this.arrivals.length > 0 ? POLL_IN : 0;
      case 'connected':
        return this.stream?.readiness() ?? POLL_OUT | POLL_HUP;
    }
  }

  hold(req: SocketRequest): void {
    this.#holds.hold(req.loop);
  }

  release(req: SocketRequest): void {
    this.#holds.release(req.loop);
  }

  updateRef(): void {
    // A connecting socket has no handle to unref yet; it is referenced by its pending connect.
    if (this.state === 'connecting') return;
    if (this.#holds.referenced) this.handle?.ref();
    else this.handle?.unref();
  }

  onStreamError(errno: number): void {
    const req = this.connectRequest;
    if (req === undefined) return;
    this.connectRequest = undefined;
    this.stream?.socket.destroy();
    this.stream = undefined;
    this.state = 'idle';
    this.release(req);
    req.done(errno);
    this.polls.notify();
  }
}

const table = new Map<number, VirtualSocket>();
let nextFd = VIRTUAL_FD_BASE;

function allocate(family: Family): VirtualSocket {
  while (table.has(nextFd)) nextFd = nextFd >= 0x7fffffff ? VIRTUAL_FD_BASE : nextFd + 1;
  const socket = new VirtualSocket(nextFd, family);
  table.set(nextFd, socket);
  nextFd = nextFd >= 0x7fffffff ? VIRTUAL_FD_BASE : nextFd + 1;
  return socket;
}

export function isVirtualFd(fd: number): boolean {
  return fd >= VIRTUAL_FD_BASE;
}

/** Whether `fd` names an open virtual socket. */
export function isOpenVirtualFd(fd: number): boolean {
  return table.has(fd);
}

/**
 * EMFILE or ENFILE when the process (or system) has no descriptor left, else 0. socket(2) takes
 * a descriptor at once; node:net takes one only at bind or connect. Opening and closing the null
 * device asks the kernel the same question, so socket() fails where the kernel's would. (The
 * virtual descriptor itself still holds no real one until bind or connect.)
 */
function descriptorShortage(): number {
  try {
    fs.closeSync(fs.openSync(devNull, 'r'));
    return 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? errnoOf(code) : 0;
  }
}

/** close() of a virtual descriptor: destroys its server or socket; waiting operations end with ECANCELED. */
export function closeVirtual(fd: number): number {
  const vs = table.get(fd);
  if (vs === undefined) return EBADF;
  table.delete(fd);
  for (const req of vs.acceptWaiters.splice(0)) req.done(ECANCELED);
  for (const arrival of vs.arrivals.splice(0)) arrival.socket.destroy();
  const connect = vs.connectRequest;
  vs.connectRequest = undefined;
  connect?.done(ECANCELED);
  vs.stream?.cancelAll();
  vs.polls.cancelAll();
  vs.stream?.socket.destroy();
  vs.server?.close();
  vs.server = undefined;
  vs.dgram?.close();
  return 0;
}

/** Runs one socket operation; `req.done` receives its result exactly once. */
export function runSocketOperation(req: SocketRequest): void {
  const { sub } = req;
  if (sub.opcode === Opcode.SOCKET) {
    const family = sub.opFlags;
    if (family !== AF_INET && family !== AF_INET6 && family !== AF_UNIX) {
      req.done(EAFNOSUPPORT);
      return;
    }
    const shortage = descriptorShortage();
    if (shortage !== 0) {
      req.done(shortage);
      return;
    }
    if (sub.mode === SOCK_DGRAM) {
      // node:dgram has no unix datagram sockets.
      if (family === AF_UNIX) {
        req.done(EPROTONOSUPPORT);
        return;
      }
      const vs = allocate(family);
      vs.dgram = new DatagramSocket(family);
      req.done(vs.fd);
      return;
    }
    if (sub.mode !== SOCK_STREAM) {
      req.done(EPROTONOSUPPORT);
      return;
    }
    req.done(allocate(family).fd);
    return;
  }
  const vs = table.get(sub.fd);
  if (vs === undefined) {
    if (isVirtualFd(sub.fd)) {
      req.done(EBADF);
      return;
    }
    // A real descriptor: node:net cannot adopt it. EBADF when it is not open, else ENOTSOCK.
    fs.fstat(sub.fd, (error) => req.done(error ? errnoFromSocket(error) : ENOTSOCK));
    return;
  }
  if (vs.dgram !== undefined) {
    vs.dgram.run(req);
    return;
  }
  switch (sub.opcode) {
    case Opcode.BIND:
      bind(vs, req);
      return;
    case Opcode.LISTEN:
      listen(vs, req);
      return;
    case Opcode.ACCEPT:
      accept(vs, req);
      return;
    case Opcode.CONNECT:
      connect(vs, req);
      return;
    case Opcode.RECV:
    case Opcode.RECVFROM:
      if (vs.stream === undefined || vs.state !== 'connected') {
        req.done(ENOTCONN);
        return;
      }
      // recvfrom on a connection names the sender as Linux does: nobody on TCP (recvmsg leaves
      // the address empty), the peer's path on a unix socket whose peer has one (a client's peer
      // is the listener's path; an accepted socket's client is unnamed here).
      vs.stream.recv(
        req,
        bufferOf(req),
        sub.opcode === Opcode.RECVFROM && vs.peerPath !== '' ? unixRecord(vs.peerPath) : undefined,
      );
      return;
    case Opcode.SEND:
      send(vs, req);
      return;
    case Opcode.SHUTDOWN:
      shutdown(vs, req);
      return;
    case Opcode.SETSOCKOPT:
      req.done(setOption(vs, sub.opFlags, sub.len !== 0));
      return;
    case Opcode.GETSOCKNAME:
      writeLocalAddress(vs, req.ring.addresses, sub.slot);
      req.done(0);
      return;
    case Opcode.POLL:
      vs.polls.add(req);
      return;
    case Opcode.SENDTO:
      // sendto is for datagram sockets here.
      req.done(ENOTSUP);
      return;
    default:
      req.done(EINVAL);
      return;
  }
}

function bufferOf(req: SocketRequest): Buffer {
  const view = req.ring.resources[2 * req.sub.slot] as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset + req.sub.bufOffset, req.sub.len);
}

/** The address of a bind or connect, or the errno that refuses it. */
function addressOf(vs: VirtualSocket, req: SocketRequest): net.ListenOptions | number {
  const address = readAddress(req.ring.addresses, req.sub.slot);
  if (address === undefined) return EINVAL;
  if ('path' in address) return vs.family === AF_UNIX ? { path: address.path } : EAFNOSUPPORT;
  const family = address.family === 'IPv4' ? AF_INET : AF_INET6;
  if (family !== vs.family) return EAFNOSUPPORT;
  return { host: address.address, port: address.port };
}

function bind(vs: VirtualSocket, req: SocketRequest): void {
  if (vs.state !== 'idle') {
    req.done(EINVAL);
    return;
  }
  const target = addressOf(vs, req);
  if (typeof target === 'number') {
    req.done(target);
    return;
  }
  startServer(vs, target, req.done);
}

/** Starts the net.Server that holds a bound address; `done` gets 0 or the errno of listen(). */
function startServer(vs: VirtualSocket, target: net.ListenOptions, done: (result: number) => void): void {
  vs.state = 'bound';
  const server = net.createServer({ allowHalfOpen: true });
  vs.server = server;
  server.on('connection', (socket) => onConnection(vs, server, socket));
  const onError = (error: NodeJS.ErrnoException) => {
    if (vs.server === server) {
      vs.server = undefined;
      vs.state = 'idle';
    }
    done(errnoFromSocket(error));
  };
  server.once('error', onError);
  const options: net.ListenOptions & { reusePort?: boolean } = { ...target, backlog: 511, exclusive: true };
  if (vs.reusePort && HAS_REUSE_PORT) options.reusePort = true;
  server.listen(options, () => {
    server.off('error', onError);
    // Later server errors (none are expected once listening) must not crash the process.
    server.on('error', () => undefined);
    vs.bound = target;
    vs.updateRef();
    done(table.get(vs.fd) === vs ? 0 : ECANCELED);
  });
}

function onConnection(vs: VirtualSocket, server: net.Server, socket: net.Socket): void {
  if (vs.server !== server || vs.state !== 'listening' || vs.arrivals.length >= Math.max(1, vs.backlog)) {
    // Not listening yet, or the backlog is full: the kernel would have refused it.
    socket.on('error', () => undefined);
    socket.resetAndDestroy();
    return;
  }
  const stream = new Stream(socket, vs);
  if (socket.remoteAddress !== undefined) {
    stream.peer = { host: socket.remoteAddress, port: socket.remotePort ?? 0 };
  }
  socket.unref();
  const waiter = vs.acceptWaiters.shift();
  if (waiter) {
    waiter.onCancel(undefined);
    vs.release(waiter);
    completeAccept(vs, stream, waiter);
  } else {
    vs.arrivals.push(stream);
    vs.polls.notify();
  }
}

function listen(vs: VirtualSocket, req: SocketRequest): void {
  const backlog = req.sub.len;
  if (vs.state === 'listening' || vs.state === 'bound') {
    vs.backlog = backlog;
    vs.state = 'listening';
    req.done(0);
    vs.polls.notify();
    return;
  }
  if (vs.state !== 'idle' || vs.family === AF_UNIX) {
    req.done(EINVAL);
    return;
  }
  // listen(2) on an unbound socket binds it to an ephemeral port first.
  startServer(vs, { host: vs.family === AF_INET ? '0.0.0.0' : '::', port: 0 }, (result) => {
    if (result === 0) {
      vs.backlog = backlog;
      vs.state = 'listening';
    }
    req.done(result);
    vs.polls.notify();
  });
}

function accept(vs: VirtualSocket, req: SocketRequest): void {
  if (vs.state !== 'listening') {
    req.done(EINVAL);
    return;
  }
  const arrival = vs.arrivals.shift();
  if (arrival) {
    completeAccept(vs, arrival, req);
    return;
  }
  vs.acceptWaiters.push(req);
  vs.hold(req);
  req.onCancel(() => {
    const index = vs.acceptWaiters.indexOf(req);
    if (index < 0) return;
    vs.acceptWaiters.splice(index, 1);
    vs.release(req);
    req.done(ECANCELED);
  });
}

function completeAccept(listener: VirtualSocket, stream: Stream, req: SocketRequest): void {
  const accepted = allocate(listener.family);
  accepted.state = 'connected';
  accepted.stream = stream;
  stream.owner = accepted;
  accepted.noDelay = listener.noDelay;
  accepted.keepAlive = listener.keepAlive;
  if (listener.family === AF_UNIX) accepted.localPath = listener.bound?.path ?? '';
  else {
    if (accepted.noDelay) stream.socket.setNoDelay(true);
    if (accepted.keepAlive) stream.socket.setKeepAlive(true);
  }
  writePeer(listener.family, stream.peer, req.ring.addresses, req.sub.slot);
  accepted.updateRef();
  req.done(accepted.fd);
}

function connect(vs: VirtualSocket, req: SocketRequest): void {
  if (vs.state === 'connected') {
    req.done(EISCONN);
    return;
  }
  if (vs.state === 'connecting') {
    req.done(EALREADY);
    return;
  }
  if (vs.state === 'listening') {
    req.done(EINVAL);
    return;
  }
  const target = addressOf(vs, req);
  if (typeof target === 'number') {
    req.done(target);
    return;
  }
  const options: net.NetConnectOpts =
    target.path !== undefined
      ? { path: target.path }
      : { host: target.host!, port: target.port!, family: vs.family === AF_INET ? 4 : 6 };
  if (vs.state === 'bound' && vs.server && target.path === undefined) {
    // A client bound before connecting: connect from that address (the server only held it).
    const local = vs.server.address() as net.AddressInfo;
    Object.assign(options, { localAddress: local.address, localPort: local.port });
  }
  vs.server?.close();
  vs.server = undefined;
  vs.bound = undefined;
  vs.peerPath = target.path ?? '';
  const socket = new net.Socket({ allowHalfOpen: true });
  vs.state = 'connecting';
  vs.stream = new Stream(socket, vs);
  vs.connectRequest = req;
  vs.hold(req);
  req.onCancel(() => {
    if (vs.connectRequest !== req) return;
    vs.connectRequest = undefined;
    socket.destroy();
    vs.stream = undefined;
    vs.state = 'idle';
    vs.release(req);
    req.done(ECANCELED);
    vs.polls.notify();
  });
  socket.once('connect', () => {
    if (vs.connectRequest !== req) return;
    vs.connectRequest = undefined;
    req.onCancel(undefined);
    vs.state = 'connected';
    if (vs.noDelay) socket.setNoDelay(true);
    if (vs.keepAlive) socket.setKeepAlive(true);
    vs.release(req);
    vs.updateRef();
    req.done(0);
    vs.polls.notify();
  });
  socket.connect(options);
}

function send(vs: VirtualSocket, req: SocketRequest): void {
  const stream = vs.stream;
  if (stream === undefined || vs.state !== 'connected') {
    req.done(ENOTCONN);
    return;
  }
  const socket = stream.socket;
  if (stream.writeShut || stream.errno !== 0 || socket.destroyed || !socket.writable) {
    req.done(EPIPE);
    return;
  }
  const data = bufferOf(req);
  if (data.length === 0) {
    req.done(0);
    return;
  }
  vs.hold(req);
  stream.sends.add(req);
  socket.write(data, (error) => {
    if (!stream.sends.delete(req)) return; // ended by close()
    stream.owner.release(req);
    // node:net calls back without an error for a write still unfinished when the socket was
    // destroyed; after a reset or other failure that write did not all reach the peer, and
    // how much did is not known: the failure, as the kernel may also report it.
    if (!error && socket.destroyed && stream.errno !== 0) req.done(stream.errno);
    else req.done(error ? errnoFromSocket(error) : data.length);
  });
}

function shutdown(vs: VirtualSocket, req: SocketRequest): void {
  const stream = vs.stream;
  if (stream === undefined || vs.state !== 'connected') {
    req.done(ENOTCONN);
    return;
  }
  const how = req.sub.opFlags;
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) {
    req.done(EINVAL);
    return;
  }
  if (how !== SHUT_WR) {
    stream.readShut = true;
    stream.chunks.length = 0;
    stream.buffered = 0;
    stream.serve();
  }
  if (how !== SHUT_RD && !stream.writeShut) {
    stream.writeShut = true;
    stream.socket.end();
  }
  req.done(0);
  vs.polls.notify();
}

function setOption(vs: VirtualSocket, option: number, value: boolean): number {
  const socket = vs.state === 'connected' ? vs.stream?.socket : undefined;
  switch (option) {
    case SO_REUSEADDR:
      // node:net always sets SO_REUSEADDR on TCP listeners; turning it off cannot be honoured.
      return 0;
    case SO_REUSEPORT:
      if (value && !HAS_REUSE_PORT) return ENOPROTOOPT;
      vs.reusePort = value;
      return 0;
    case SO_NODELAY:
      if (vs.family === AF_UNIX) return ENOTSUP;
      vs.noDelay = value;
      socket?.setNoDelay(value);
      return 0;
    case SO_KEEPALIVE:
      vs.keepAlive = value;
      if (vs.family !== AF_UNIX) socket?.setKeepAlive(value);
      return 0;
    default:
      return ENOPROTOOPT;
  }
}

function writeLocalAddress(vs: VirtualSocket, area: Uint8Array, slot: number): void {
  if (vs.family === AF_UNIX) {
    const path = vs.bound?.path ?? vs.localPath;
    writeAddress(area, slot, unixRecord(path));
    return;
  }
  let info: net.AddressInfo | string | null | undefined;
  if (vs.server) info = vs.server.address();
  else if (vs.stream && vs.state === 'connected') info = vs.stream.socket.address() as net.AddressInfo;
  const any = vs.family === AF_INET ? '0.0.0.0' : '::';
  if (info && typeof info === 'object' && typeof info.address === 'string') {
    writeInet(area, slot, info.address, info.port, vs.family);
  } else writeInet(area, slot, any, 0, vs.family);
}

function writePeer(
  family: Family,
  peer: { host: string; port: number } | undefined,
  area: Uint8Array,
  slot: number,
): void {
  if (family === AF_UNIX) writeAddress(area, slot, unixRecord(''));
  else writeInet(area, slot, peer?.host ?? (family === AF_INET ? '0.0.0.0' : '::'), peer?.port ?? 0, family);
}

function writeInet(area: Uint8Array, slot: number, host: string, port: number, family: Family): void {
  let record: AddressRecord;
  try {
    record = validateSocketAddress({ address: host, port }, 'address', 0);
  } catch {
    record = validateSocketAddress({ address: family === AF_INET ? '0.0.0.0' : '::', port }, 'address', 0);
  }
  writeAddress(area, slot, record);
}

function unixRecord(path: string): AddressRecord {
  const bytes = Buffer.from(path);
  return {
    family: AF_UNIX,
    port: 0,
    scopeId: 0,
    bytes: new Uint8Array(0),
    path: bytes,
    display: path,
    host: path,
  };
}

/** The negative errno of a node:net error; stream errors without one mean the peer is gone (EPIPE). */
function errnoFromSocket(error: NodeJS.ErrnoException): number {
  if (typeof error.errno === 'number' && error.errno < 0) return error.errno;
  if (typeof error.code === 'string' && error.code.startsWith('E') && !error.code.startsWith('ERR_')) {
    try {
      return errnoOf(error.code);
    } catch {
      // Not a system error code.
    }
  }
  return EPIPE;
}

/** The result a file operation gets on a virtual descriptor: sockets are not files here. */
export const FILE_OP_ON_SOCKET = ENOTSUP;
