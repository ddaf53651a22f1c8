import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { ConformanceCase } from '../case.js';
import { fixture, pattern, rejectsWith, withFd } from './expect.js';

const MiB = 1024 * 1024;
/** Larger than 64 MiB, so a backend that splits or caps transfers at that size shows it. */
const LARGE = 80 * MiB;

export const readWriteCases: ConformanceCase[] = [
  // ---- read ------------------------------------------------------------------------------
  {
    name: 'read: a read of a whole file fills the buffer and resolves the byte count',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const content = pattern(4096, 7);
      const path = fixture(t, 'whole.bin', content);
      const q = t.queue();
      const buf = Buffer.alloc(4096);
      const n = await withFd(q, path, 'r', (fd) => q.read(fd, buf, 0, buf.length, 0));
      assert.equal(n, 4096);
      assert.ok(buf.equals(content), 'the buffer holds the file content');
    },
  },
  {
    name: 'read: an explicit position reads from there and does not move the file offset',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'pos.txt', 'abcdefghij');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        const at = Buffer.alloc(3);
        assert.equal(await q.read(fd, at, 0, 3, 6), 3);
        assert.equal(at.toString(), 'ghi');
        const current = Buffer.alloc(3);
        assert.equal(await q.read(fd, current, 0, 3, null), 3);
        assert.equal(current.toString(), 'abc', 'the positional read left the offset at 0');
      });
    },
  },
  {
    name: 'read: a null position reads at the current offset and advances it',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'seq.txt', 'abcdefghij');
      const q = t.queue();
      const parts = await withFd(q, path, 'r', async (fd) => {
        const out: string[] = [];
        for (let i = 0; i < 3; i++) {
          const buf = Buffer.alloc(4);
          const n = await q.read(fd, buf, 0, 4, null);
          out.push(buf.subarray(0, n).toString());
        }
        return out;
      });
      assert.deepEqual(parts, ['abcd', 'efgh', 'ij']);
    },
  },
  {
    name: 'read: a position of -1 (number or bigint) reads at the current offset like null',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'minus-one.txt', '0123456789');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        const first = Buffer.alloc(4);
        assert.equal(await q.read(fd, first, 0, 4, -1), 4);
        assert.equal(first.toString(), '0123');
        const second = Buffer.alloc(4);
        assert.equal(await q.read(fd, second, 0, 4, -1n), 4);
        assert.equal(second.toString(), '4567', 'the first read advanced the offset');
      });
    },
  },
  {
    name: 'read: offset and length place the bytes inside the buffer and leave the rest untouched',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'slice.txt', 'HELLO WORLD');
      const q = t.queue();
      const buf = Buffer.alloc(12, '.');
      const n = await withFd(q, path, 'r', (fd) => q.read(fd, buf, 3, 5, 0));
      assert.equal(n, 5);
      assert.equal(buf.toString(), '...HELLO....');
    },
  },
  {
    name: 'read: the options form takes offset, length and position',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'options.txt', 'abcdefghij');
      const q = t.queue();
      const buf = Buffer.alloc(8, '-');
      await withFd(q, path, 'r', async (fd) => {
        assert.equal(await q.read(fd, buf, { offset: 2, length: 4, position: 5 }), 4);
        assert.equal(buf.toString(), '--fghi--');
        // Defaults: the whole buffer, at the current offset (still 0).
        const rest = Buffer.alloc(3);
        assert.equal(await q.read(fd, rest, {}), 3);
        assert.equal(rest.toString(), 'abc');
      });
    },
  },
  {
    name: 'read: a bigint position reads at that position',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const content = pattern(70_000, 3);
      const path = fixture(t, 'bigint.bin', content);
      const q = t.queue();
      const buf = Buffer.alloc(100);
      const n = await withFd(q, path, 'r', (fd) => q.read(fd, buf, 0, 100, 65_536n));
      assert.equal(n, 100);
      assert.ok(buf.equals(content.subarray(65_536, 65_636)));
    },
  },
  {
    name: 'read: a read that crosses EOF is short and resolves the bytes available',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'short.txt', '0123456789');
      const q = t.queue();
      const buf = Buffer.alloc(8, '.');
      const n = await withFd(q, path, 'r', (fd) => q.read(fd, buf, 0, 8, 6));
      assert.equal(n, 4);
      assert.equal(buf.toString(), '6789....');
    },
  },
  {
    name: 'read: a read at or beyond EOF resolves 0 and leaves the buffer untouched',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'eof.txt', 'abc');
      const q = t.queue();
      const buf = Buffer.alloc(4, '.');
      await withFd(q, path, 'r', async (fd) => {
        assert.equal(await q.read(fd, buf, 0, 4, 3), 0, 'at EOF');
        assert.equal(await q.read(fd, buf, 0, 4, 1000), 0, 'beyond EOF');
        assert.equal(await q.read(fd, buf, 0, 4, null), 3);
        assert.equal(await q.read(fd, buf, 0, 4, null), 0, 'at EOF through the file offset');
      });
      assert.equal(buf.toString(), 'abc.');
    },
  },
  {
    name: 'read: Uint8Array and DataView buffers receive the file bytes',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const content = pattern(64, 11);
      const path = fixture(t, 'views.bin', content);
      const q = t.queue();
      const u8 = new Uint8Array(64);
      const backing = new ArrayBuffer(80);
      const view = new DataView(backing, 8, 64);
      await withFd(q, path, 'r', async (fd) => {
        assert.equal(await q.read(fd, u8, 0, 64, 0), 64);
        assert.equal(await q.read(fd, view, 0, 64, 0), 64);
      });
      assert.ok(Buffer.from(u8).equals(content), 'Uint8Array');
      assert.ok(Buffer.from(backing, 8, 64).equals(content), 'DataView, at its byteOffset');
      assert.ok(
        Buffer.from(backing, 0, 8).every((b) => b === 0) && Buffer.from(backing, 72).every((b) => b === 0),
      );
    },
  },
  {
    name: 'read: multi-byte typed arrays count offset and length in bytes',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const content = pattern(64, 12);
      const path = fixture(t, 'typed.bin', content);
      const q = t.queue();
      const f64 = new Float64Array(8);
      const u32 = new Uint32Array(16);
      await withFd(q, path, 'r', async (fd) => {
        assert.equal(await q.read(fd, f64, 0, 64, 0), 64);
        assert.equal(await q.read(fd, u32, 4, 8, 16), 8);
      });
      assert.ok(Buffer.from(f64.buffer).equals(content), 'Float64Array holds the 64 bytes');
      const bytes = Buffer.from(u32.buffer);
      assert.ok(bytes.subarray(4, 12).equals(content.subarray(16, 24)), 'bytes 4..12 of the Uint32Array');
      assert.ok(bytes.subarray(0, 4).every((b) => b === 0) && bytes.subarray(12).every((b) => b === 0));
    },
  },
  {
    name: 'read: reading a directory fd rejects with EISDIR',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const q = t.queue();
      await withFd(q, t.dir, 'r', async (fd) => {
        await rejectsWith(q.read(fd, Buffer.alloc(16), 0, 16, 0), { code: 'EISDIR', syscall: 'read' });
      });
    },
  },
  {
    name: 'read: a write-only fd rejects with EBADF',
    needs: ['open', 'read', 'close'],
    async run(t) {
      const path = fixture(t, 'wo.txt', 'secret');
      const q = t.queue();
      await withFd(q, path, 'a', async (fd) => {
        await rejectsWith(q.read(fd, Buffer.alloc(6), 0, 6, 0), { code: 'EBADF', syscall: 'read' });
      });
    },
  },

  // ---- write -----------------------------------------------------------------------------
  {
    name: 'write: a write at a position replaces those bytes and leaves the rest',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'patch.txt', 'aaaaaaaaaa');
      const q = t.queue();
      const n = await withFd(q, path, 'r+', (fd) => q.write(fd, Buffer.from('XYZ'), 0, 3, 4));
      assert.equal(n, 3);
      assert.equal(readFileSync(path, 'utf8'), 'aaaaXYZaaa');
    },
  },
  {
    name: 'write: writes at the current position land one after another in order',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = t.path('sequential.txt');
      const q = t.queue();
      await withFd(q, path, 'w', async (fd) => {
        for (const word of ['one ', 'two ', 'three']) {
          assert.equal(await q.write(fd, Buffer.from(word), 0, word.length, null), word.length);
        }
        // The buffer-only form writes at the current position too.
        assert.equal(await q.write(fd, Buffer.from('!')), 1);
      });
      assert.equal(readFileSync(path, 'utf8'), 'one two three!');
    },
  },
  {
    name: 'write: a string is written as UTF-8 by default and resolves its byte length',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = t.path('utf8.txt');
      const q = t.queue();
      const text = 'héllo → 世界';
      const n = await withFd(q, path, 'w', (fd) => q.write(fd, text));
      assert.equal(n, Buffer.byteLength(text, 'utf8'));
      assert.equal(readFileSync(path, 'utf8'), text);
    },
  },
  {
    name: 'write: a string with an encoding is decoded with it, at the position given',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'encodings.bin', Buffer.alloc(8, 0x2e));
      const q = t.queue();
      await withFd(q, path, 'r+', async (fd) => {
        assert.equal(await q.write(fd, 'cafe', 0, 'hex'), 2);
        assert.equal(await q.write(fd, 'AQID', 2, 'base64'), 3);
        assert.equal(await q.write(fd, 'ÿ', 5, 'latin1'), 1);
      });
      assert.deepEqual([...readFileSync(path)], [0xca, 0xfe, 1, 2, 3, 0xff, 0x2e, 0x2e]);
    },
  },
  {
    name: 'write: offset and length write only that slice of the buffer',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = t.path('slice-out.txt');
      const q = t.queue();
      const source = Buffer.from('0123456789');
      await withFd(q, path, 'w', async (fd) => {
        assert.equal(await q.write(fd, source, 2, 5, 0), 5);
        assert.equal(await q.write(fd, source, { offset: 8, length: 2, position: 5 }), 2);
      });
      assert.equal(readFileSync(path, 'utf8'), '2345689');
    },
  },
  {
    name: 'write: a typed array is written as its bytes in memory order',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = t.path('typed-out.bin');
      const q = t.queue();
      const data = new Uint16Array([0x0102, 0x0304, 0xa0b0]);
      const n = await withFd(q, path, 'w', (fd) => q.write(fd, data, 0, 6, 0));
      assert.equal(n, 6);
      assert.ok(readFileSync(path).equals(Buffer.from(data.buffer)));
    },
  },
  {
    name: 'write: a read-only fd rejects with EBADF and the file is unchanged',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'ro.txt', 'original');
      const q = t.queue();
      await withFd(q, path, 'r', async (fd) => {
        await rejectsWith(q.write(fd, Buffer.from('X'), 0, 1, 0), { code: 'EBADF', syscall: 'write' });
      });
      assert.equal(readFileSync(path, 'utf8'), 'original');
    },
  },
  {
    name: 'write: a write past EOF extends the file and leaves a zero-filled hole',
    needs: ['open', 'write', 'close'],
    async run(t) {
      const path = fixture(t, 'hole.bin', 'abc');
      const q = t.queue();
      const n = await withFd(q, path, 'r+', (fd) => q.write(fd, Buffer.from('end'), 0, 3, 10_000n));
      assert.equal(n, 3);
      const data = readFileSync(path);
      assert.equal(data.length, 10_003);
      assert.equal(data.subarray(0, 3).toString(), 'abc');
      assert.ok(
        data.subarray(3, 10_000).every((b) => b === 0),
        'the hole reads as zeros',
      );
      assert.equal(data.subarray(10_000).toString(), 'end');
    },
  },

  // ---- large transfers -------------------------------------------------------------------
  {
    name: 'write: one write of 80 MiB transfers every byte intact',
    needs: ['open', 'write', 'close'],
    timeoutMs: 60_000,
    async run(t) {
      const path = t.path('large-out.bin');
      const data = pattern(LARGE, 21);
      const q = t.queue();
      const n = await withFd(q, path, 'w', (fd) => q.write(fd, data, 0, data.length, 0));
      assert.equal(n, LARGE);
      assert.equal(statSync(path).size, LARGE);
      assert.ok(readFileSync(path).equals(data), 'the file holds exactly the bytes written');
    },
  },
  {
    name: 'read: one read of 80 MiB transfers every byte intact',
    needs: ['open', 'read', 'close'],
    timeoutMs: 60_000,
    async run(t) {
      const path = t.path('large-in.bin');
      const data = pattern(LARGE, 22);
      writeFileSync(path, data);
      const q = t.queue();
      const buf = Buffer.alloc(LARGE);
      const n = await withFd(q, path, 'r', (fd) => q.read(fd, buf, 0, buf.length, 0));
      assert.equal(n, LARGE);
      assert.ok(buf.equals(data), 'the buffer holds exactly the file content');
    },
  },
];
