import type { Backend } from '@proactor/aio-core';
import nodeBackend from '@proactor/aio-node';
import { describe, expect, it } from 'vitest';
import { createQueue, selectBackend } from '../src/index.js';

function notFound(specifier: string): Error {
  const err = new Error(`Cannot find package '${specifier}'`) as Error & { code: string };
  err.code = 'ERR_MODULE_NOT_FOUND';
  return err;
}

describe('selectBackend', () => {
  it('takes the first candidate of the platform that loads, and says why the others were skipped', async () => {
    const selection = await selectBackend({
      platform: 'linux',
      backend: '',
      load: async (specifier) => {
        if (specifier === '@proactor/aio-uring')
          throw new Error('io_uring_setup failed: EPERM (blocked by seccomp)');
        if (specifier === '@proactor/aio-epoll') throw notFound(specifier);
        return import(specifier);
      },
    });
    expect(selection.backend.name).toBe('node');
    expect(selection.outcomes).toEqual([
      {
        name: 'io_uring',
        package: '@proactor/aio-uring',
        status: 'unavailable',
        reason: 'io_uring_setup failed: EPERM (blocked by seccomp)',
      },
      {
        name: 'epoll',
        package: '@proactor/aio-epoll',
        status: 'unavailable',
        reason: 'not installed (npm install @proactor/aio-epoll)',
      },
      {
        name: 'node',
        package: '@proactor/aio-node',
        status: 'selected',
        reason:
          "loaded; io_uring and epoll came first in linux's order (io_uring, epoll, node) but were unavailable",
      },
    ]);
    expect(selection.explain()).toMatch(/unavailable io_uring .*EPERM/);
  });

  it('honours a requested backend and marks the others as not tried', async () => {
    const selection = await selectBackend({ platform: 'win32', backend: 'node' });
    expect(selection.backend).toBe(nodeBackend);
    expect(selection.outcomes.find((o) => o.name === 'iocp')).toMatchObject({
      status: 'not tried',
      reason: 'options.backend=node names node',
    });
    expect(selection.outcomes.find((o) => o.name === 'node')).toMatchObject({
      status: 'selected',
      reason: 'options.backend=node',
    });
  });

  it('on Windows selects iocp first, with its reason, and node after it', async () => {
    const iocp: Backend = { ...nodeBackend, name: 'iocp' };
    const selection = await selectBackend({
      platform: 'win32',
      backend: '',
      load: async (specifier) => (specifier === '@proactor/aio-iocp' ? { default: iocp } : import(specifier)),
    });
    expect(selection.backend).toBe(iocp);
    expect(selection.outcomes).toEqual([
      {
        name: 'iocp',
        package: '@proactor/aio-iocp',
        status: 'selected',
        reason: "the first in win32's order (iocp, node), and it loaded",
      },
      { name: 'node', package: '@proactor/aio-node', status: 'not tried', reason: 'iocp comes first' },
    ]);
  });

  it("on Windows falls back to node with aio-iocp's own load error as the reason", async () => {
    // The real package, imported here (not Windows): it refuses with ERR_PROACTOR_IOCP_UNAVAILABLE,
    // as it does on Windows when its addon is missing.
    const selection = await selectBackend({ platform: 'win32', backend: '' });
    expect(selection.backend).toBe(nodeBackend);
    expect(selection.outcomes[0]).toMatchObject({ name: 'iocp', status: 'unavailable' });
    expect(selection.outcomes[0].reason).toMatch(/^I\/O completion ports are Windows only \(this is \w+\)/);
    expect(selection.outcomes[1]).toMatchObject({
      name: 'node',
      status: 'selected',
      reason: "loaded; iocp came first in win32's order (iocp, node) but was unavailable",
    });
  });

  it('on Windows says iocp is planned when its package is not installed', async () => {
    const selection = await selectBackend({
      platform: 'win32',
      backend: '',
      load: async (specifier) =>
        specifier === '@proactor/aio-iocp' ? Promise.reject(notFound(specifier)) : import(specifier),
    });
    expect(selection.outcomes[0]).toMatchObject({
      name: 'iocp',
      status: 'unavailable',
      reason: 'planned, not published yet',
    });
  });

  it('rejects an unknown backend name with ERR_INVALID_ARG_VALUE, names of Object.prototype included', async () => {
    await expect(selectBackend({ backend: 'select' })).rejects.toThrow(/names no backend/);
    for (const name of ['select', 'constructor', '__proto__', 'toString']) {
      await expect(selectBackend({ backend: name })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    }
  });

  it('fails with ERR_PROACTOR_NO_BACKEND and every reason when nothing loads', async () => {
    await expect(
      selectBackend({ platform: 'darwin', backend: '', load: async (s) => Promise.reject(notFound(s)) }),
    ).rejects.toMatchObject({
      code: 'ERR_PROACTOR_NO_BACKEND',
      message: expect.stringMatching(
        /kqueue.*not installed \(npm install @proactor\/aio-kqueue\)[\s\S]*node.*not installed \(npm install @proactor\/aio-node\)/,
      ),
    });
  });

  it('puts a multi-line load error on one line of explain()', async () => {
    const selection = await selectBackend({
      platform: 'linux',
      backend: '',
      load: async (specifier) => {
        if (specifier === '@proactor/aio-uring') throw new Error('first line\n    second line\n');
        return import(specifier);
      },
    });
    const lines = selection.explain().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^unavailable io_uring +@proactor\/aio-uring: first line; second line$/);
  });

  it('createQueue exposes its selection on the queue', async () => {
    const q = await createQueue({ backend: 'node' });
    expect(q.selection.backend).toBe(q.backend);
    expect(q.selection.outcomes.find((o) => o.status === 'selected')?.name).toBe('node');
    expect(q.selection.explain()).toMatch(/^selected +node/m);
    await q.destroy();
  });

  it('createQueue gives a queue that does real I/O', async () => {
    const q = await createQueue({ backend: 'node' });
    const stats = await q.stat(new URL(import.meta.url));
    expect(stats.isFile()).toBe(true);
    await q.destroy();
  });
});
