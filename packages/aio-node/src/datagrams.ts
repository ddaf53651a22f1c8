/**
 * UDP sockets for the reference backend, over node:dgram (udp4 / udp6). A datagram socket is a
 * virtual descriptor like the stream sockets of sockets.ts; this module holds its state.
 *
 * - bind creates and binds the dgram.Socket (EADDRINUSE and the port chosen for port 0 come
 *   from the real bind). sendto on a socket never bound binds it to the any address and a free
 *   port first, as the kernel does on the first sendto(2); bind after that fails with EINVAL.
 * - Datagrams that arrive while no recvfrom waits are queued, up to RECV_QUEUE_BYTES bytes of
 *   payload (the size of Linux's default UDP receive buffer); a datagram that does not fit is
 *   dropped, as a kernel drops datagrams when the socket's receive buffer is full.
 * - recvfrom takes one datagram: a datagram longer than the buffer is truncated to it and the
 *   rest discarded (recvfrom(2) without MSG_TRUNC); the result is the bytes copied.
 * - shutdown fails with ENOTCONN (the socket is not connected) but takes effect, as on Linux.
 * - connect, listen, accept and send (without an address) are not supported on datagram
 *   sockets here; recv receives like recvfrom without reporting the sender.
 * - The socket is unref'd while no operation waits on it.
 */
import * as dgram from 'node:dgram';
import {
  AF_INET,
  type AF_INET6,
  errnoOf,
  type InetSocketAddress,
  Opcode,
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
  validateSocketAddress,
  writeAddress,
} from '@proactor/aio-core';
import { LoopHolds } from './loop-ref.js';
import { PollWaiters } from './poll.js';
import type { SocketRequest } from './socket-request.js';

/** Bytes of queued datagram payload per socket above which arriving datagrams are dropped. */
export const RECV_QUEUE_BYTES = 212_992;

const EAFNOSUPPORT = errnoOf('EAFNOSUPPORT');
const ECANCELED = errnoOf('ECANCELED');
const EDESTADDRREQ = errnoOf('EDESTADDRREQ');
const EINVAL = errnoOf('EINVAL');
const EIO = errnoOf('EIO');
const ENOPROTOOPT = errnoOf('ENOPROTOOPT');
const ENOTCONN = errnoOf('ENOTCONN');
const ENOTSUP = errnoOf('ENOTSUP');
const EPIPE = errnoOf('EPIPE');

type InetFamily = typeof AF_INET | typeof AF_INET6;

interface Datagram {
  readonly data: Buffer;
  readonly host: string;
  readonly port: number;
}

interface Waiter {
  readonly req: SocketRequest;
  readonly target: Buffer;
  /** recvfrom reports the sender; recv does not. */
  readonly withAddress: boolean;
}

/** One UDP socket: its dgram.Socket once bound, the datagrams not yet received, the waiting calls. */
export class DatagramSocket {
  socket: dgram.Socket | undefined;
  /** 'idle' until bind (or an implicit bind by sendto) starts, 'binding', then 'bound'. */
  state: 'idle' | 'binding' | 'bound' | 'closed' = 'idle';
  reuseAddr = false;
  dropped = 0;
  /** shutdown() of a datagram socket that is not connected fails with ENOTCONN on Linux but
   * still takes effect: recvfrom then returns 0 once the queue is empty, sendto fails (EPIPE). */
  readShut = false;
  writeShut = false;
  readonly #queue: Datagram[] = [];
  #queued = 0;
  readonly #waiters: Waiter[] = [];
  /** Sends issued while the implicit bind runs. */
  readonly #afterBind: ((bindResult: number) => void)[] = [];
  readonly #holds = new LoopHolds((referenced) => {
    if (referenced) this.socket?.ref();
    else this.socket?.unref();
  });
  /**
   * Polls waiting on the socket. As Linux's datagram_poll: OUT always (a first sendto binds an
   * unbound socket), IN while a datagram is queued.
   */
  readonly #polls = new PollWaiters(
    () =>
      POLL_OUT |
      (this.#queue.length > 0 || this.readShut ? POLL_IN : 0) |
      (this.readShut ? POLL_RDHUP : 0) |
      (this.readShut && this.writeShut ? POLL_HUP : 0),
    (req) => this.#hold(req),
    (req) => this.#release(req),
  );

  constructor(readonly family: InetFamily) {}

  run(req: SocketRequest): void {
    switch (req.sub.opcode) {
      case Opcode.BIND:
        this.#bind(req);
        return;
      case Opcode.RECVFROM:
        this.#recv(req, true);
        return;
      case Opcode.RECV:
        this.#recv(req, false);
        return;
      case Opcode.SENDTO:
        this.#sendto(req);
        return;
      case Opcode.SEND:
        req.done(EDESTADDRREQ);
        return;
      case Opcode.SHUTDOWN:
        this.#shutdown(req);
        return;
      case Opcode.SETSOCKOPT:
        req.done(this.#setOption(req.sub.opFlags, req.sub.len !== 0));
        return;
      case Opcode.GETSOCKNAME:
        this.#writeLocal(req);
        req.done(0);
        return;
      case Opcode.POLL:
        this.#polls.add(req);
        return;
      default:
        // connect, listen and accept on a datagram socket.
        req.done(ENOTSUP);
        return;
    }
  }

  close(): void {
    // A bind in progress finishes by itself: its 'listening' handler sees the state and closes.
    const binding = this.state === 'binding';
    this.state = 'closed';
    for (const waiter of this.#waiters.splice(0)) waiter.req.done(ECANCELED);
    this.#polls.cancelAll();
    this.#queue.length = 0;
    this.#queued = 0;
    for (const run of this.#afterBind.splice(0)) run(ECANCELED);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !binding) {
      try {
        socket.close();
      } catch {
        // Already closed (a failed bind closes it).
      }
    }
  }

  #hold(req: SocketRequest): void {
    this.#holds.hold(req.loop);
  }

  #release(req: SocketRequest): void {
    this.#holds.release(req.loop);
  }

  /** Creates and binds the dgram.Socket; `done` gets 0 or the errno of bind(). */
  #start(host: string | undefined, port: number, done: (result: number) => void): void {
    const socket = dgram.createSocket({
      type: this.family === AF_INET ? 'udp4' : 'udp6',
      reuseAddr: this.reuseAddr,
    });
    this.socket = socket;
    this.state = 'binding';
    const onError = (error: NodeJS.ErrnoException) => {
      socket.removeListener('listening', onListening);
      if (this.socket === socket) {
        this.socket = undefined;
        this.state = 'idle';
      }
      socket.close();
      this.#bound(errnoFromError(error), done);
    };
    const onListening = () => {
      socket.removeListener('error', onError);
      // Errors after bind (e.g. ICMP errors reported on a later send) reach the send callbacks.
      socket.on('error', () => {});
      if (this.state === 'closed') {
        socket.close();
        this.#bound(ECANCELED, done);
        return;
      }
      this.state = 'bound';
      if (!this.#holds.referenced) socket.unref();
      socket.on('message', (data: Buffer, rinfo: dgram.RemoteInfo) => this.#arrive(data, rinfo));
      this.#bound(0, done);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port, exclusive: true });
  }

  /** A bind finished: its caller, then the sends that waited for it, get its result. */
  #bound(result: number, done: (result: number) => void): void {
    done(result);
    for (const run of this.#afterBind.splice(0)) run(result);
  }

  /** The request's address when it is one of this socket's family; else the request fails
   * (EINVAL without one, EAFNOSUPPORT for a path or the other family) and undefined. */
  #inetAddress(req: SocketRequest): InetSocketAddress | undefined {
    const address = readAddress(req.ring.addresses, req.sub.slot);
    if (address === undefined || 'path' in address) {
      req.done(address === undefined ? EINVAL : EAFNOSUPPORT);
      return undefined;
    }
    if ((address.family === 'IPv4' ? AF_INET : 6) !== this.family) {
      req.done(EAFNOSUPPORT);
      return undefined;
    }
    return address;
  }

  #bind(req: SocketRequest): void {
    if (this.state !== 'idle') {
      req.done(EINVAL);
      return;
    }
    const address = this.#inetAddress(req);
    if (address === undefined) return;
    this.#hold(req);
    this.#start(address.address, address.port, (result) => {
      this.#release(req);
      req.done(result);
    });
  }

  #shutdown(req: SocketRequest): void {
    const how = req.sub.opFlags;
    if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) {
      req.done(EINVAL);
      return;
    }
    if (how !== SHUT_WR) this.readShut = true;
    if (how !== SHUT_RD) this.writeShut = true;
    if (this.readShut) {
      for (const waiter of this.#waiters.splice(0)) {
        waiter.req.onCancel(undefined);
        this.#release(waiter.req);
        waiter.req.done(0);
      }
    }
    this.#polls.notify();
    req.done(ENOTCONN);
  }

  #arrive(data: Buffer, rinfo: dgram.RemoteInfo): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.#deliver(waiter, { data, host: rinfo.address, port: rinfo.port });
      return;
    }
    if (this.#queued + data.length > RECV_QUEUE_BYTES) {
      this.dropped++;
      return;
    }
    this.#queue.push({ data, host: rinfo.address, port: rinfo.port });
    this.#queued += data.length;
    this.#polls.notify();
  }

  #deliver(waiter: Waiter, datagram: Datagram): void {
    const { req, target } = waiter;
    const copied = datagram.data.copy(target, 0, 0, Math.min(target.length, datagram.data.length));
    if (waiter.withAddress) writeInet(req, datagram.host, datagram.port, this.family);
    req.onCancel(undefined);
    this.#release(req);
    req.done(copied);
  }

  #recv(req: SocketRequest, withAddress: boolean): void {
    const waiter: Waiter = { req, target: bufferOf(req), withAddress };
    const datagram = this.#queue.shift();
    if (datagram !== undefined) {
      this.#queued -= datagram.data.length;
      this.#hold(req);
      this.#deliver(waiter, datagram);
      return;
    }
    if (this.readShut) {
      req.done(0);
      return;
    }
    this.#waiters.push(waiter);
    this.#hold(req);
    req.onCancel(() => {
      const index = this.#waiters.indexOf(waiter);
      if (index < 0) return;
      this.#waiters.splice(index, 1);
      this.#release(req);
      req.done(ECANCELED);
    });
  }

  #sendto(req: SocketRequest): void {
    const address = this.#inetAddress(req);
    if (address === undefined) return;
    if (this.writeShut) {
      req.done(EPIPE);
      return;
    }
    const data = bufferOf(req);
    this.#hold(req);
    const send = (bindResult: number) => {
      const socket = this.socket;
      if (bindResult !== 0 || socket === undefined || this.state !== 'bound') {
        this.#release(req);
        req.done(bindResult !== 0 ? bindResult : ECANCELED);
        return;
      }
      try {
        socket.send(data, address.port, address.address, (error) => {
          this.#release(req);
          req.done(error ? errnoFromError(error) : data.length);
        });
      } catch (error) {
        this.#release(req);
        req.done(errnoFromError(error as NodeJS.ErrnoException));
      }
    };
    if (this.state === 'bound' || this.state === 'closed') {
      send(0);
      return;
    }
    this.#afterBind.push(send);
    if (this.state === 'binding') return;
    // The first send of a socket never bound binds it to the any address and a free port, as
    // the kernel does; the sends issued meanwhile wait for that bind and share its result.
    this.#start(undefined, 0, () => {});
  }

  #setOption(option: number, value: boolean): number {
    switch (option) {
      case SO_REUSEADDR:
        // Takes effect at bind, as setsockopt(2) before bind(2) does.
        this.reuseAddr = value;
        return 0;
      case SO_KEEPALIVE:
        // Accepted and without effect on UDP, as on Linux.
        return 0;
      case SO_REUSEPORT:
      case SO_NODELAY:
        return ENOPROTOOPT;
      default:
        return ENOPROTOOPT;
    }
  }

  #writeLocal(req: SocketRequest): void {
    const any = this.family === AF_INET ? '0.0.0.0' : '::';
    if (this.socket !== undefined && this.state === 'bound') {
      try {
        const info = this.socket.address();
        writeInet(req, info.address, info.port, this.family);
        return;
      } catch {
        // Not bound after all.
      }
    }
    writeInet(req, any, 0, this.family);
  }
}

function bufferOf(req: SocketRequest): Buffer {
  const view = req.ring.resources[2 * req.sub.slot] as ArrayBufferView;
  return Buffer.from(view.buffer, view.byteOffset + req.sub.bufOffset, req.sub.len);
}

function writeInet(req: SocketRequest, host: string, port: number, family: InetFamily): void {
  // node:dgram reports link-local IPv6 senders with a '%scope' suffix; the record keeps the address.
  const bare = host.includes('%') ? host.slice(0, host.indexOf('%')) : host;
  let record: ReturnType<typeof validateSocketAddress>;
  try {
    record = validateSocketAddress({ address: bare, port }, 'address', 0);
  } catch {
    record = validateSocketAddress({ address: family === AF_INET ? '0.0.0.0' : '::', port }, 'address', 0);
  }
  writeAddress(req.ring.addresses, req.sub.slot, record);
}

function errnoFromError(error: NodeJS.ErrnoException): number {
  if (typeof error.errno === 'number' && error.errno < 0) return error.errno;
  if (typeof error.code === 'string' && error.code.startsWith('E') && !error.code.startsWith('ERR_')) {
    try {
      return errnoOf(error.code);
    } catch {
      // Not a system error code.
    }
  }
  return EIO;
}
