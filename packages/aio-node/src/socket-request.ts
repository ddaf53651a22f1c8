/**
 * The request every socket operation of the reference backend works from: the engine makes
 * one per operation (index.ts), and stream sockets (sockets.ts), datagram sockets
 * (datagrams.ts) and poll waiters (poll.ts) serve it. In a module of its own so that those
 * three import it without importing each other.
 */
import type { RingContext, Submission } from '@proactor/aio-core';
import type { LoopRef } from './loop-ref.js';

/** What a socket operation gets from the engine. */
export interface SocketRequest {
  readonly sub: Submission;
  readonly ring: RingContext;
  /** The queue's ref()/unref() state: the handle the operation waits on keeps the loop alive while it is referenced. */
  readonly loop: LoopRef;
  /** Delivers the result, exactly once. */
  done(result: number): void;
  /** Sets (or clears) what the engine calls to cancel the operation while it waits. */
  onCancel(cancel: (() => void) | undefined): void;
}
