import { describe, expect, it } from 'vitest';
import {
  errnoOf,
  LinkedChains,
  Opcode,
  type RingContext,
  SQE_F_LINK,
  SQE_SIZE,
  SqeOffset,
  type Submission,
} from '../src/index.js';

const ECANCELED = errnoOf('ECANCELED');

/** A ring of 8 slots whose submission buffer the test fills, and the chains over it; `started`
 * and `posted` record what LinkedChains asked of the engine. */
function setup(finishAtStart?: (sub: Submission) => number | undefined) {
  const submissions = new ArrayBuffer(16 * SQE_SIZE);
  const ring = {
    entries: 8,
    submissions,
    resources: new Array(16).fill(undefined),
  } as unknown as RingContext;
  const started: Submission[] = [];
  const posted: [number, number][] = [];
  const chains: LinkedChains = new LinkedChains(
    ring,
    (sub) => {
      started.push(sub);
      const result = finishAtStart?.(sub);
      if (result !== undefined) chains.finish(sub, result);
    },
    (slot, result) => posted.push([slot, result]),
  );
  const view = new DataView(submissions);
  let count = 0;
  const entry = (
    opcode: Opcode,
    slot: number,
    options: { link?: boolean; len?: number; target?: number } = {},
  ) => {
    const b = count++ * SQE_SIZE;
    view.setUint8(b + SqeOffset.opcode, opcode);
    view.setUint8(b + SqeOffset.flags, options.link ? SQE_F_LINK : 0);
    view.setUint32(b + SqeOffset.len, options.len ?? 0, true);
    view.setUint32(b + SqeOffset.slot, slot, true);
    view.setUint32(b + SqeOffset.target, options.target ?? 0, true);
  };
  const cancels: number[] = [];
  const submit = () => chains.submit(new Uint32Array(submissions), count, (target) => cancels.push(target));
  return { ring, chains, started, posted, entry, submit, cancels };
}

describe('LinkedChains', () => {
  it('starts the first member of each chain at once, the next one only after it succeeded', () => {
    const t = setup();
    t.entry(Opcode.NOP, 0, { link: true });
    t.entry(Opcode.NOP, 1);
    t.entry(Opcode.NOP, 2);
    t.submit();
    expect(t.started.map((s) => s.slot)).toEqual([0, 2]);
    t.chains.finish(t.started[0], 0);
    expect(t.started.map((s) => s.slot)).toEqual([0, 2, 1]);
    expect(t.posted).toEqual([[0, 0]]);
  });

  it('an error completes every later member with ECANCELED, in order, after the error itself', () => {
    const t = setup();
    t.entry(Opcode.NOP, 0, { link: true });
    t.entry(Opcode.NOP, 1, { link: true });
    t.entry(Opcode.NOP, 2);
    t.submit();
    t.chains.finish(t.started[0], -2);
    expect(t.posted).toEqual([
      [0, -2],
      [1, ECANCELED],
      [2, ECANCELED],
    ]);
    expect(t.started).toHaveLength(1);
  });

  it('a short transfer breaks the chain; a full one, and a short result of a non-transfer, do not', () => {
    const t = setup();
    t.entry(Opcode.READ, 0, { link: true, len: 100 });
    t.entry(Opcode.POLL, 1, { link: true });
    t.entry(Opcode.WRITE, 2, { link: true, len: 10 });
    t.entry(Opcode.NOP, 3);
    t.submit();
    t.chains.finish(t.started[0], 100);
    t.chains.finish(t.started[1], 1);
    t.chains.finish(t.started[2], 9);
    expect(t.posted).toEqual([
      [0, 100],
      [1, 1],
      [2, 9],
      [3, ECANCELED],
    ]);
  });

  it("readv and writev are short when they moved less than their buffers' bytes, not their count", () => {
    const t = setup();
    t.ring.resources[2 * 0] = [new Uint8Array(4), new Uint8Array(6)];
    t.entry(Opcode.READV, 0, { link: true, len: 2 });
    t.entry(Opcode.NOP, 1);
    t.submit();
    t.chains.finish(t.started[0], 9);
    expect(t.posted).toEqual([
      [0, 9],
      [1, ECANCELED],
    ]);
  });

  it('a chain that the batch ends on a linked member ends with the batch', () => {
    const t = setup();
    t.entry(Opcode.NOP, 0, { link: true });
    t.submit();
    t.chains.finish(t.started[0], 0);
    expect(t.posted).toEqual([[0, 0]]);
  });

  it('a member completed inside start() finds the rest of its chain', () => {
    const t = setup((sub) => (sub.slot === 0 ? 0 : undefined));
    t.entry(Opcode.NOP, 0, { link: true });
    t.entry(Opcode.NOP, 1);
    t.submit();
    expect(t.started.map((s) => s.slot)).toEqual([0, 1]);
  });

  it('cancelWaiting ends a member not yet started and those after it; a started one is not waiting', () => {
    const t = setup();
    t.entry(Opcode.NOP, 0, { link: true });
    t.entry(Opcode.NOP, 1, { link: true });
    t.entry(Opcode.NOP, 2);
    t.entry(Opcode.CANCEL, 0xffffffff, { target: 5 });
    t.submit();
    expect(t.cancels).toEqual([5]);
    expect(t.chains.cancelWaiting(0)).toBe(false);
    expect(t.chains.cancelWaiting(1)).toBe(true);
    expect(t.posted).toEqual([
      [1, ECANCELED],
      [2, ECANCELED],
    ]);
    t.chains.finish(t.started[0], 0);
    expect(t.started).toHaveLength(1);
    expect(t.posted.at(-1)).toEqual([0, 0]);
  });
});
