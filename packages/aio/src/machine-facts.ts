/**
 * The facts about this machine that decide which backend can run: read from the kernel and the
 * process (never inferred from versions alone). Used by `proactor info`.
 */
import { readFileSync } from 'node:fs';
import { arch, platform, release, type, version } from 'node:os';

/** One fact: what it is and its value here. */
export interface Fact {
  name: string;
  value: string;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The libc this Node runs on (Linux): glibc with its version, or musl. */
function libc(): string {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  return header?.glibcVersionRuntime === undefined ? 'musl' : `glibc ${header.glibcVersionRuntime}`;
}

/** Facts of the operating system and the process that backend selection depends on. */
export function machineFacts(): Fact[] {
  const facts: Fact[] = [
    { name: 'platform', value: `${platform()}-${arch()} (${type()} ${release()})` },
    { name: 'node', value: `${process.version} (Node-API ${process.versions.napi})` },
  ];
  if (platform() !== 'linux') {
    facts.push({ name: 'kernel', value: version() });
    return facts;
  }
  facts.push({ name: 'kernel', value: release() });
  facts.push({ name: 'libc', value: libc() });
  const disabled = readProc('/proc/sys/kernel/io_uring_disabled')?.trim();
  facts.push({
    name: 'kernel.io_uring_disabled',
    value:
      disabled === undefined
        ? 'absent (kernel before 6.6: io_uring allowed)'
        : `${disabled} (${disabled === '0' ? 'allowed' : disabled === '1' ? 'only kernel.io_uring_group members' : 'disabled for everyone'})`,
  });
  const limits = readProc('/proc/self/limits')
    ?.split('\n')
    .find((l) => l.startsWith('Max locked memory'));
  if (limits !== undefined) {
    const [soft, hard] = limits.slice('Max locked memory'.length).trim().split(/\s+/);
    facts.push({
      name: 'RLIMIT_MEMLOCK',
      value: `${soft} (hard ${hard}) bytes; kernels before 5.12 charge io_uring rings against it`,
    });
  }
  const status = readProc('/proc/self/status') ?? '';
  const seccomp = /^Seccomp:\s*(\d)/m.exec(status)?.[1];
  const filters = /^Seccomp_filters:\s*(\d+)/m.exec(status)?.[1];
  facts.push({
    name: 'seccomp',
    value:
      seccomp === undefined
        ? 'unknown'
        : seccomp === '0'
          ? 'off'
          : seccomp === '1'
            ? 'strict mode'
            : `filter mode${filters === undefined ? '' : ` (${filters} filters)`}: it may block io_uring_setup`,
  });
  return facts;
}
