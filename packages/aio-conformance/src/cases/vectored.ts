import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern, rejectsWith, throwsArgError, withFd } from './expect.js';
import { instrument } from './instrumented-backend.js';

/** `count` buffers of varying sizes (1 to 257 bytes), each with its own content. */
function distinctBuffers(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => pattern(1 + ((i * 37) % 257), i + 1));
}

/** Empty buffers with the same sizes as `buffers`, filled with `fill`. */
function sameSizes(buffers: readonly Buffer[], fill = 0): Buffer[] {
  return buffers.map((b) => Buffer.alloc(b.length, fill));
}

function total(buffers: readonly ArrayBufferView[]): number {
  return buffers.reduce((sum, b) => sum + b.byteLength, 0);
}

export const vectoredCases: ConformanceCase[] = [
  {
    name: 'writev: 100 buffers land in the file back to back, in order',
    needs: ['open', 'writev', 'close'],
    async run(t) {
      const path = t.path('v100.bin');
      const buffers = distinctBuffers(100);
      const q = t.queue();
      const n = await withFd(q, path, 'w', (fd) => q.writev(fd, buffers));
      assert.equal(n, total(buffers));
      assert.ok(readFileSync(path).equals(Buffer.concat(buffers)), 'the file is the concatenation');
    },
  },
  {
    name: 'writev: 1024 buffers, the maximum, are written whole and in order',
    needs: ['open', 'writev', 'close'],
    async run(t) {
      const path = t.path('v1024.bin');
      const buffers = distinctBuffers(1024);
      const q = t.queue();
      const n = await withFd(q, path, 'w', (fd) => q.writev(fd, buffers, 0));
      assert.equal(n, total(buffers));
      assert.ok(readFileSync(path).equals(Buffer.concat(buffers)), 'the file is the concatenation');
    },
  },
  {
    name: 'readv: 1024 buffers are filled in order from the file',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const expected = distinctBuffers(1024);
      const path = fixture(t, 'r1024.bin', Buffer.concat(expected));
      const q = t.queue();
      const buffers = sameSizes(expected);
      const n = await withFd(q, path, 'r', (fd) => q.readv(fd, buffers, 0));
      assert.equal(n, total(expected));
      for (let i = 0; i < buffers.length; i++) assert.ok(buffers[i].equals(expected[i]), `buffer ${i}`);
    },
  },
  {
    name: 'readv: typed arrays and DataViews in one list are filled in order',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const content = pattern(100, 5);
      const path = fixture(t, 'mixed.bin', content);
      const q = t.queue();
      const u8 = new Uint8Array(10);
      const u32 = new Uint32Array(5);
      const dv = new DataView(new ArrayBuffer(40), 4, 30);
      const f64 = new Float64Array(5);
      const n = await withFd(q, path, 'r', (fd) => q.readv(fd, [u8, u32, dv, f64], 0));
      assert.equal(n, 100);
      assert.ok(Buffer.from(u8).equals(content.subarray(0, 10)));
      assert.ok(Buffer.from(u32.buffer).equals(content.subarray(10, 30)));
      assert.ok(Buffer.from(dv.buffer, 4, 30).equals(content.subarray(30, 60)));
      assert.ok(Buffer.from(f64.buffer).equals(content.subarray(60, 100)));
    },
  },
  {
    name: 'writev: a position writes there and does not move the file offset',
    needs: ['open', 'writev', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'vpos.txt', '..........');
      const q = t.queue();
      await withFd(q, path, 'r+', async (fd) => {
        assert.equal(await q.writev(fd, [Buffer.from('AB'), Buffer.from('CD')], 5), 4);
        // The file offset is still 0: a write at the current position lands at the start.
        assert.equal(await q.write(fd, Buffer.from('z')), 1);
      });
      assert.equal(readFileSync(path, 'utf8'), 'z....ABCD.');
    },
  },
  {
    name: 'readv: a position reads from there and does not move the file offset',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const path = fixture(t, 'rpos.txt', 'abcdefghijklmnop');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        const at = [Buffer.alloc(2), Buffer.alloc(3)];
        assert.equal(await q.readv(fd, at, 10n), 5);
        assert.deepEqual(
          at.map((b) => b.toString()),
          ['kl', 'mno'],
        );
        const current = [Buffer.alloc(2)];
        assert.equal(await q.readv(fd, current, null), 2);
        assert.equal(current[0].toString(), 'ab', 'the positional read left the offset at 0');
      });
    },
  },
  {
    name: 'readv: a null or omitted position reads at the current offset and advances it',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const path = fixture(t, 'rseq.txt', 'abcdefghij');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        const first = [Buffer.alloc(2), Buffer.alloc(2)];
        assert.equal(await q.readv(fd, first, null), 4);
        const second = [Buffer.alloc(3)];
        assert.equal(await q.readv(fd, second), 3);
        const third = [Buffer.alloc(2), Buffer.alloc(2)];
        assert.equal(await q.readv(fd, third, -1), 3);
        assert.deepEqual(
          [...first, ...second, ...third].map((b) => b.toString()),
          ['ab', 'cd', 'efg', 'hi', 'j\u0000'],
        );
      });
    },
  },
  {
    name: 'readv: a read short at EOF fills the buffers in order and leaves the rest untouched',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const path = fixture(t, 'vshort.txt', 'abcdefg');
      const q = t.queue();
      const buffers = [
        Buffer.alloc(3, '.'),
        Buffer.alloc(3, '.'),
        Buffer.alloc(3, '.'),
        Buffer.alloc(3, '.'),
      ];
      const n = await withFd(q, path, 'r', (fd) => q.readv(fd, buffers, 0));
      assert.equal(n, 7);
      assert.deepEqual(
        buffers.map((b) => b.toString()),
        ['abc', 'def', 'g..', '...'],
      );
    },
  },
  {
    name: 'vectored: more than 1024 buffers throw RangeError ERR_OUT_OF_RANGE and submit nothing',
    needs: ['readv', 'writev', 'nop'],
    async run(t) {
      const { backend, counts } = instrument(t.backend);
      const q = t.queue({}, backend);
      const fd = 1_000_000; // never used: validation fails before anything is submitted
      const buffers = Array.from({ length: 1025 }, () => Buffer.alloc(1));
      throwsArgError(() => q.readv(fd, buffers, 0), RangeError, 'ERR_OUT_OF_RANGE');
      throwsArgError(() => q.writev(fd, buffers, 0), RangeError, 'ERR_OUT_OF_RANGE');
      await q.nop();
      assert.equal(counts.entries, 1, 'only the nop was submitted');
    },
  },
  {
    name: 'writev: an empty buffer list resolves 0 and writes nothing',
    needs: ['open', 'writev', 'close'],
    async run(t) {
      const path = fixture(t, 'wempty.txt', 'keep');
      const q = t.queue();
      const n = await withFd(q, path, 'r+', (fd) => q.writev(fd, [], 0));
      assert.equal(n, 0);
      assert.equal(readFileSync(path, 'utf8'), 'keep');
    },
  },
  {
    name: 'readv: an empty buffer list resolves 0',
    needs: ['open', 'readv', 'close'],
    async run(t) {
      const path = fixture(t, 'rempty.txt', 'data');
      const q = t.queue();
      assert.equal(await withFd(q, path, 'r', (fd) => q.readv(fd, [], 0)), 0);
    },
  },
  {
    name: 'writev: a read-only fd rejects with EBADF',
    needs: ['open', 'writev', 'close'],
    async run(t) {
      const path = fixture(t, 'vro.txt', 'original');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        await rejectsWith(q.writev(fd, [Buffer.from('x'), Buffer.from('y')], 0), {
          code: 'EBADF',
          syscall: 'write',
        });
      });
      assert.equal(readFileSync(path, 'utf8'), 'original');
    },
  },
];
