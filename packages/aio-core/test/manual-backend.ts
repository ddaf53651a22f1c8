import {
  type Backend,
  type Capabilities,
  CQE_SIZE,
  decodeSubmission,
  type Engine,
  encodeCompletion,
  OPERATIONS,
  type RingContext,
  type Submission,
} from '../src/index.js';

/**
 * A backend the test drives by hand: it records every submission and completes operations only
 * when the test says so. waitSync completes every recorded operation with `syncResult`.
 */
export class ManualBackend implements Backend {
  readonly name = 'node' as const;
  readonly capabilities: Capabilities;
  ring!: RingContext;
  submitted: Submission[] = [];
  submitCalls: number[] = [];
  closed = false;
  syncResult = 0;
  /** When set, the next submit() throws it (a broken engine). */
  failNextSubmit: Error | undefined;
  /** What provideBuffers() was given (multishot recv). */
  provided: { memory: Uint8Array; size: number; count: number } | undefined;

  constructor(overrides: Partial<Capabilities> = {}) {
    this.capabilities = {
      ops: OPERATIONS,
      linkedOperations: true,
      waitSync: true,
      cancelInFlight: true,
      multishot: false,
      zeroCopySend: false,
      registeredBuffers: false,
      registeredFiles: false,
      ...overrides,
    };
  }

  attach(ring: RingContext): Engine {
    this.ring = ring;
    const sq = new Uint32Array(ring.submissions);
    return {
      submit: (count) => {
        const failure = this.failNextSubmit;
        this.failNextSubmit = undefined;
        if (failure) throw failure;
        this.submitCalls.push(count);
        for (let i = 0; i < count; i++) this.submitted.push(decodeSubmission(sq, i));
      },
      waitSync: (min) => {
        const open = this.submitted.filter((s) => s.slot !== 0xffffffff);
        this.submitted = [];
        this.complete(open.map((s) => [s.slot, this.syncResult]));
        return Math.max(open.length, Math.min(min, 0));
      },
      ref: () => {},
      unref: () => {},
      close: () => {
        this.closed = true;
      },
      provideBuffers: (memory, size, count) => {
        this.provided = { memory, size, count };
      },
    };
  }

  /** Delivers completions as one batch: [slot, result] or [slot, result, CQE flags, buffer index]. */
  complete(entries: ([number, number] | [number, number, number, number])[]): void {
    const cq = new Int32Array(this.ring.completions);
    if (entries.length * CQE_SIZE > this.ring.completions.byteLength) throw new Error('batch too large');
    for (const [i, [slot, result, flags = 0, buffer = 0]] of entries.entries())
      encodeCompletion(cq, i, slot, result, flags, buffer);
    this.ring.complete(entries.length);
  }

  /** Completes every recorded non-cancel submission with `result` and forgets them. */
  completeAll(result = 0): Submission[] {
    const done = this.submitted.filter((s) => s.slot !== 0xffffffff);
    this.submitted = [];
    this.complete(done.map((s) => [s.slot, result]));
    return done;
  }
}

export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
