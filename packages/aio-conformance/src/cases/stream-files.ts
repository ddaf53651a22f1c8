/**
 * Files as Node streams and fs.promises-style helpers (@proactor/aio-streams) on the backend
 * under test, each checked against node:fs doing the same.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  appendFile,
  copyFile,
  createReadStream,
  createWriteStream,
  readFile,
  writeFile,
} from '@proactor/aio-streams';
import type { ConformanceCase, Need } from '../case.js';
import { pattern } from './expect.js';
import { recordEvents } from './stream-scope.js';

const FILES: Need[] = ['open', 'read', 'write', 'writev', 'fstat', 'close'];

/** The chunks a readable gives in flowing mode, one 'data' event each. */
async function chunksOf(stream: NodeJS.ReadableStream): Promise<Buffer[]> {
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => out.push(chunk));
  await once(stream, 'end');
  return out;
}

/** The error `promise` rejects with (fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  assert.fail('expected a rejection');
}

/** Asserts two errors agree where Node's system errors carry meaning. */
function assertSameError(actual: Record<string, unknown>, expected: Record<string, unknown>): void {
  for (const key of ['code', 'errno', 'syscall', 'path', 'dest', 'message']) {
    assert.equal(actual[key], expected[key], `${key} as node:fs has it`);
  }
}

export const streamFileCases: ConformanceCase[] = [
  {
    name: 'file stream: createReadStream with start, end and highWaterMark gives the bytes and chunks fs.createReadStream gives',
    needs: FILES,
    run: async (t) => {
      const q = t.queue();
      const path = t.path('data');
      const data = pattern(1_000_003, 21);
      fs.writeFileSync(path, data);
      for (const options of [
        {},
        { highWaterMark: 4096 },
        { start: 10, end: 99_999, highWaterMark: 7000 },
        { start: 999_000 },
        { start: 5, end: 5 },
        { start: 2_000_000 },
      ]) {
        const ours = await chunksOf(createReadStream(q, path, { ...options, readAhead: 3 }));
        const theirs = await chunksOf(fs.createReadStream(path, options));
        assert.deepEqual(
          ours.map((c) => c.length),
          theirs.map((c) => c.length),
          `chunk sizes with ${JSON.stringify(options)}`,
        );
        assert.ok(Buffer.concat(ours).equals(Buffer.concat(theirs)), `bytes with ${JSON.stringify(options)}`);
      }
      const text = await chunksOf(createReadStream(q, path, { encoding: 'hex', end: 9 }));
      assert.equal(text.join(''), data.subarray(0, 10).toString('hex'));
    },
  },
  {
    name: "file stream: a read stream of a missing file emits node:fs's ENOENT error, then 'close', nothing after",
    needs: FILES,
    run: async (t) => {
      const q = t.queue();
      const path = t.path('missing');
      const stream = createReadStream(q, path);
      const events = recordEvents(stream);
      const closed = new Promise((resolve) => stream.once('close', resolve));
      const error = (await new Promise((resolve) => stream.once('error', resolve))) as Record<
        string,
        unknown
      >;
      await closed;
      const expected = await failure(fsp.open(path, 'r'));
      assertSameError(error, expected);
      assert.deepEqual(events, ['error', 'close']);
    },
  },
  {
    name: 'file stream: destroy() in the middle of reading closes the file; finished streams emit nothing after close',
    needs: FILES,
    run: async (t) => {
      const q = t.queue();
      const path = t.path('data');
      fs.writeFileSync(path, pattern(4 << 20, 3));
      const stream = createReadStream(q, path, { highWaterMark: 65536, readAhead: 8 });
      const events = recordEvents(stream);
      await once(stream, 'data');
      const fd = stream.fd;
      assert.equal(typeof fd, 'number');
      stream.destroy();
      await once(stream, 'close');
      assert.equal(stream.fd, null);
      assert.equal(events.at(-1), 'close');
      // The descriptor was closed: the queue refuses it now.
      await assert.rejects(q.fstat(fd as number), { code: 'EBADF' });
    },
  },
  {
    name: 'file stream: createWriteStream writes queued writes in order (writev), honours start and flags, and pipeline() copies a file',
    needs: FILES,
    timeoutMs: 30_000,
    run: async (t) => {
      const q = t.queue();
      const data = pattern(3_000_017, 9);
      const out = createWriteStream(q, t.path('out'), { highWaterMark: 1024 });
      for (
        let offset = 0, size = 1;
        offset < data.length;
        offset += size, size = (size * 5 + 7) % 40_000 || 1
      ) {
        out.write(data.subarray(offset, offset + size));
      }
      out.end();
      await once(out, 'close');
      assert.equal(out.bytesWritten, data.length);
      assert.ok(fs.readFileSync(t.path('out')).equals(data));
      // start with r+: overwrite in place, as fs.createWriteStream does.
      const patch = createWriteStream(q, t.path('out'), { flags: 'r+', start: 100 });
      patch.end('PATCH');
      await once(patch, 'close');
      const expected = Buffer.from(data);
      expected.write('PATCH', 100);
      assert.ok(fs.readFileSync(t.path('out')).equals(expected));
      // pipeline(read stream, write stream) copies a file.
      await pipeline(createReadStream(q, t.path('out')), createWriteStream(q, t.path('copy')));
      assert.ok(fs.readFileSync(t.path('copy')).equals(expected));
      // A pipeline whose source fails rejects with the source's error and destroys the sink.
      const sink = createWriteStream(q, t.path('never'));
      const error = await failure(pipeline(createReadStream(q, t.path('missing')), sink));
      assert.equal(error.code, 'ENOENT');
      assert.equal(sink.destroyed, true);
      // Its file (opened meanwhile) is closed through the queue after that: waited for, as a
      // handle still open keeps the case's directory on Windows (ENOTEMPTY at its removal, once
      // under Wine on aio-node).
      // (Not once(): it rejects on the 'error' the destroyed sink emits first.)
      if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve));
    },
  },
  {
    name: 'fs promises: readFile, writeFile and appendFile give what node:fs/promises gives, across several batches',
    needs: FILES,
    timeoutMs: 30_000,
    run: async (t) => {
      const q = t.queue();
      const big = pattern(40 << 20, 5); // 40 chunks of 1 MiB: more than one batch in flight
      await writeFile(q, t.path('big'), big);
      assert.ok((await fsp.readFile(t.path('big'))).equals(big));
      assert.ok(((await readFile(q, t.path('big'))) as Buffer).equals(big));
      await writeFile(q, t.path('text'), 'héllo', 'latin1');
      assert.ok((await fsp.readFile(t.path('text'))).equals(Buffer.from('héllo', 'latin1')));
      assert.equal(await readFile(q, t.path('text'), { encoding: 'latin1' }), 'héllo');
      await appendFile(q, t.path('text'), ' world');
      await appendFile(q, t.path('text'), Buffer.from('!'));
      assert.equal(await readFile(q, t.path('text'), 'latin1'), 'héllo world!');
      // The mode node:fs/promises gives the same call (Windows: read-only or not, 0o666 here).
      await writeFile(q, t.path('mode'), 'x', { mode: 0o600 });
      await fsp.writeFile(t.path('mode-fsp'), 'x', { mode: 0o600 });
      assert.equal(fs.statSync(t.path('mode')).mode & 0o777, fs.statSync(t.path('mode-fsp')).mode & 0o777);
      await writeFile(q, t.path('iter'), ['a', Buffer.from('b'), new Uint8Array([99])]);
      assert.equal(fs.readFileSync(t.path('iter'), 'utf8'), 'abc');
      if (process.platform === 'linux') {
        assert.equal(
          ((await readFile(q, '/proc/self/stat')) as Buffer).length > 0,
          true,
          'files whose size is 0 in stat',
        );
      }
      assertSameError(
        await failure(readFile(q, t.path('missing'))),
        await failure(fsp.readFile(t.path('missing'))),
      );
      const dirError = await failure(readFile(q, t.dir));
      assert.equal(dirError.code, 'EISDIR');
      assert.equal(dirError.code, (await failure(fsp.readFile(t.dir))).code);
      assertSameError(
        await failure(writeFile(q, t.path('no/such/dir'), 'x')),
        await failure(fsp.writeFile(t.path('no/such/dir'), 'x')),
      );
      const aborted = AbortSignal.abort();
      assert.equal((await failure(readFile(q, t.path('big'), { signal: aborted }))).name, 'AbortError');
    },
  },
  {
    name: 'fs promises: copyFile copies bytes and mode, COPYFILE_EXCL refuses an existing file, errors are node:fs/promises',
    needs: FILES,
    timeoutMs: 30_000,
    run: async (t) => {
      const q = t.queue();
      const data = pattern((20 << 20) + 12345, 8);
      fs.writeFileSync(t.path('src'), data, { mode: 0o640 });
      await copyFile(q, t.path('src'), t.path('dest'));
      assert.ok(fs.readFileSync(t.path('dest')).equals(data));
      assert.equal(fs.statSync(t.path('dest')).mode & 0o777, fs.statSync(t.path('src')).mode & 0o777);
      fs.writeFileSync(t.path('empty'), '');
      await copyFile(q, t.path('empty'), t.path('empty-copy'));
      assert.equal(fs.readFileSync(t.path('empty-copy')).length, 0);
      const { COPYFILE_EXCL } = fs.constants;
      assertSameError(
        await failure(copyFile(q, t.path('src'), t.path('dest'), COPYFILE_EXCL)),
        await failure(fsp.copyFile(t.path('src'), t.path('dest'), COPYFILE_EXCL)),
      );
      assertSameError(
        await failure(copyFile(q, t.path('missing'), t.path('x'))),
        await failure(fsp.copyFile(t.path('missing'), t.path('x'))),
      );
      // The copy over an existing file replaced it whole (truncated, not overlaid).
      fs.writeFileSync(t.path('small'), 'tiny');
      await copyFile(q, t.path('small'), t.path('dest'));
      assert.equal(fs.readFileSync(t.path('dest'), 'utf8'), 'tiny');
      const sink = new Writable({ write: (_c, _e, cb) => cb() });
      await pipeline(createReadStream(q, t.path('dest')), sink);
    },
  },
];
