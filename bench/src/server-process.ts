/** A server started as a child process for one benchmark run, and saving partial results. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { BenchBackend } from './backends.js';
import { describeMachine, type Machine, renderMarkdown, type Workload } from './report.js';

/** Exits with status 2 and the install hint when wrk is not on the PATH. */
export function requireWrk(): void {
  if (spawnSync('wrk', ['--version']).error) {
    process.stderr.write('wrk is not installed: apt-get install wrk\n');
    process.exit(2);
  }
}

/**
 * A port nothing listens on right now (the kernel's pick for port 0): other benchmarks run on the
 * same machine, so a fixed range may already be served by one of theirs.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the process has exited. */
export function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Replaces `workloads` in bench/results/latest.json (keeping the others) and re-renders its README.
 * The file's machine description is this machine's, written now.
 */
export function saveWorkloads(benchDir: string, workloads: Workload[]): void {
  const latestPath = join(benchDir, 'results', 'latest.json');
  const saved = existsSync(latestPath)
    ? (JSON.parse(readFileSync(latestPath, 'utf8')) as { machine?: Machine; results: Workload[] })
    : { results: [] };
  const machine: Machine = { ...saved.machine, ...describeMachine(), date: new Date().toISOString() };
  const measuredHere = workloads.map((w) => ({ ...w, cpus: w.cpus ?? machine.cpus }));
  const merged = [...saved.results.filter((w) => !workloads.some((n) => n.id === w.id)), ...measuredHere];
  writeFileSync(latestPath, `${JSON.stringify({ machine, results: merged }, null, 2)}\n`);
  writeFileSync(join(benchDir, 'results', 'README.md'), renderMarkdown(machine, merged));
}

/**
 * Starts examples/<example> (its dist/main.js) on `backend` for one run: through PROACTOR_BACKEND
 * where @proactor/aio selects that backend by name, else through servers/example-on-backend.js,
 * which passes the backend (a poller other than the package's default) as the example's option.
 */
export function startExample(
  benchDir: string,
  example: 'http-server' | 'echo-server',
  backend: BenchBackend,
  port: number,
): ChildProcess {
  if (backend.selectName !== undefined)
    return spawn(
      process.execPath,
      [join(benchDir, '..', 'examples', example, 'dist', 'main.js'), String(port)],
      {
        env: { ...process.env, PROACTOR_BACKEND: backend.selectName },
        stdio: 'ignore',
      },
    );
  return spawn(
    process.execPath,
    [join(benchDir, 'dist', 'servers', 'example-on-backend.js'), example, String(port), backend.id],
    { stdio: 'ignore' },
  );
}
