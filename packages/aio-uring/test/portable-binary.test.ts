// The addon as shipped must load on older Linux distributions than the one it is built on: it
// needs only libc (libstdc++ and libgcc linked in) and, on x86-64 glibc, no symbol version newer
// than GLIBC_2.28 (RHEL 8, Debian 10). Read from the binary's dynamic section and version needs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lowestGlibc, readVersionNeeds } from '../../../scripts/elf-version-needs.mjs';

const addon = join(fileURLToPath(new URL('..', import.meta.url)), 'build', 'Release', 'proactor_uring.node');
const glibcX64 =
  process.platform === 'linux' &&
  process.arch === 'x64' &&
  (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime !==
    undefined;
const why = !glibcX64
  ? 'the 2.28 floor is arranged for x86-64 glibc only'
  : !existsSync(addon)
    ? 'the addon is not built (build/Release/proactor_uring.node)'
    : process.env.PROACTOR_URING_ADDON
      ? 'PROACTOR_URING_ADDON points at another build'
      : undefined;

describe.skipIf(why !== undefined)(`the built addon${why ? ` (skipped: ${why})` : ''}`, () => {
  it('needs no libstdc++ or libgcc_s at run time', () => {
    const { needed, versions } = readVersionNeeds(addon);
    expect(needed.filter((lib) => /libstdc\+\+|libgcc_s/.test(lib))).toEqual([]);
    const cxxVersions = Object.values(versions)
      .flat()
      .filter((v) => /^(GLIBCXX|CXXABI|GCC)_/.test(v));
    expect(cxxVersions).toEqual([]);
  });

  it('needs nothing newer than GLIBC_2.28', () => {
    const needs = readVersionNeeds(addon);
    const lowest = lowestGlibc(needs);
    expect(lowest).toBeDefined();
    const [major, minor] = (lowest as string).split('.').map(Number);
    expect(
      major * 1000 + minor,
      `needs GLIBC_${lowest}: ${JSON.stringify(needs.versions)}`,
    ).toBeLessThanOrEqual(2028);
  });
});
