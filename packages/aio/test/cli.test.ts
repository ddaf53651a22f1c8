// The proactor command line, run as a user runs it: node dist/cli.js <command>.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', PROACTOR_BACKEND: '' },
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Each command may take up to run()'s 120 s on a loaded machine (the conformance run took over
// vitest's default 5 s with other builds on the 2 cores).
describe.skipIf(!existsSync(cli))('proactor CLI', { timeout: 130_000 }, () => {
  it('info names the chosen backend, one line per candidate, and the deciding facts', () => {
    const { status, stdout } = run('info');
    expect(status).toBe(0);
    const backend = /^backend: (\S+)$/m.exec(stdout)?.[1];
    expect(backend).toBeDefined();
    expect(stdout).toMatch(new RegExp(`^ {2}selected +${backend} `, 'm'));
    if (process.platform === 'linux') {
      expect(stdout).toMatch(/^ {2}kernel +\d+\.\d+/m);
      expect(stdout).toMatch(/^ {2}kernel\.io_uring_disabled /m);
      expect(stdout).toMatch(/^ {2}RLIMIT_MEMLOCK +(\d+|unlimited) /m);
      expect(stdout).toMatch(/^ {2}seccomp +(off|strict mode|filter mode)/m);
      if (backend === 'io_uring')
        expect(stdout).toMatch(/^ {2}io_uring opcodes +\d+ of \d+ operations: .*\bread\b/m);
    }
  });

  it('conformance runs the filtered cases on the named backend and ends with the summary line', () => {
    const { status, stdout } = run('conformance', 'node', '--filter', 'linked');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^proactor conformance: node backend \(@proactor\/aio-node\), (\d+) cases$/m);
    const [, passed, failed, skipped] = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(stdout) ?? [];
    const total = Number(/, (\d+) cases$/m.exec(stdout)?.[1]);
    expect(Number(failed)).toBe(0);
    expect(Number(passed) + Number(skipped)).toBe(total);
  });

  it('bench read --json reports each variant with its ratio to fs.read, and --svg draws them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'proactor-cli-'));
    try {
      const svg = join(dir, 'chart.svg');
      const { status, stdout, stderr } = run(
        'bench',
        'read',
        '--rounds',
        '1',
        '--reads',
        '2000',
        '--json',
        '--svg',
        svg,
      );
      expect(status, stderr).toBe(0);
      const report = JSON.parse(stdout);
      expect(report.results).toHaveLength(3);
      expect(report.results[1]).toMatchObject({ name: 'node:fs fs.read (callbacks)', ratio: 1 });
      for (const r of report.results) expect(r.opsPerSecond).toBeGreaterThan(0);
      const chart = readFileSync(svg, 'utf8');
      expect(chart.startsWith('<svg')).toBe(true);
      expect(chart.match(/<rect x=/g)).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bench rejects an unknown workload with the list of workloads', () => {
    const { status, stderr } = run('bench', 'nope');
    expect(status).toBe(2);
    expect(stderr).toMatch(/no workload 'nope': use one of read/);
  });
});
