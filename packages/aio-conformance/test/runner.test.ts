import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// A rejection nobody handles would end a CLI run at once (Node's default), or be reported by
// vitest against no case in particular: the runner fails the case it happened in instead. Run in
// a child process, so that this process sees no unhandled rejection at all.
const runnerUrl = new URL('../dist/index.js', import.meta.url).href;
const nodeBackendUrl = new URL('../../aio-node/dist/index.js', import.meta.url).href;

function runInChild(script: string): { status: number | null; stdout: string; stderr: string } {
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    timeout: 30_000,
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

describe('runCase and unhandled rejections', () => {
  it('fails the case during which a promise rejected unhandled, and the next case passes', () => {
    const { status, stdout, stderr } = runInChild(`
      const { runCase, loadTarget } = await import(${JSON.stringify(runnerUrl)});
      const target = await loadTarget(${JSON.stringify(nodeBackendUrl)});
      const leaky = { name: 'leaky', run: async () => {
        Promise.reject(new Error('a helper promise nobody awaited'));
        await new Promise((resolve) => setTimeout(resolve, 20));
      } };
      const clean = { name: 'clean', run: async () => {} };
      const outcome = async (c) => runCase(c, target).then(() => 'passed', (e) => 'failed: ' + e.message.split('\\n')[0]);
      console.log(await outcome(leaky));
      console.log(await outcome(clean));
    `);
    expect([status, stderr]).toEqual([0, '']);
    expect(stdout.trim().split('\n')).toEqual([
      'failed: 1 unhandled promise rejection(s) during the case; the first: Error: a helper promise nobody awaited',
      'passed',
    ]);
  });

  it('fails the next case with a rejection that arrived between cases, saying so', () => {
    const { status, stdout } = runInChild(`
      const { runCase, loadTarget } = await import(${JSON.stringify(runnerUrl)});
      const target = await loadTarget(${JSON.stringify(nodeBackendUrl)});
      const late = { name: 'late', run: async () => {
        setTimeout(() => Promise.reject(new Error('late')), 10);
      } };
      const next = { name: 'next', run: async () => {} };
      const outcome = async (c) => runCase(c, target).then(() => 'passed', (e) => 'failed: ' + e.message.split('\\n')[0]);
      console.log(await outcome(late));
      await new Promise((resolve) => setTimeout(resolve, 50));
      console.log(await outcome(next));
    `);
    expect(status).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([
      'passed',
      'failed: 1 unhandled promise rejection(s) after the previous case ended; the first: Error: late',
    ]);
  });
});
