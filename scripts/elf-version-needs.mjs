#!/usr/bin/env node
// Reads what a 64-bit little-endian ELF shared object needs from the dynamic linker: its DT_NEEDED
// libraries and, per library, the symbol versions it requires (.gnu.version_r, what
// `readelf -V` prints as "Version needs"). No binutils needed, so an installed package can be
// checked on a machine without a compiler.
//
//   node scripts/elf-version-needs.mjs <file.node>   prints the needs and the lowest glibc that has them
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const SHT_DYNAMIC = 6;
const SHT_GNU_VERNEED = 0x6ffffffe;
const DT_NEEDED = 1;

/**
 * @param {string} path
 * @returns {{ needed: string[], versions: Record<string, string[]> }}
 */
export function readVersionNeeds(path) {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error(`${path} is not a 64-bit little-endian ELF file`);
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    sections.push({
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
      link: elf.readUInt32LE(at + 0x28),
      info: elf.readUInt32LE(at + 0x2c),
    });
  }
  const string = (section, index) => {
    const start = sections[section].offset + index;
    return elf.toString('latin1', start, elf.indexOf(0, start));
  };
  const needed = [];
  for (const s of sections.filter((s) => s.type === SHT_DYNAMIC)) {
    for (let at = s.offset; at < s.offset + s.size; at += 16) {
      if (Number(elf.readBigInt64LE(at)) === DT_NEEDED)
        needed.push(string(s.link, Number(elf.readBigUInt64LE(at + 8))));
    }
  }
  const versions = {};
  for (const s of sections.filter((s) => s.type === SHT_GNU_VERNEED)) {
    // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32.
    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
    let need = s.offset;
    for (let n = 0; n < s.info; n++) {
      const file = string(s.link, elf.readUInt32LE(need + 4));
      versions[file] ??= [];
      const list = versions[file];
      let aux = need + elf.readUInt32LE(need + 8);
      for (let a = 0; a < elf.readUInt16LE(need + 2); a++) {
        list.push(string(s.link, elf.readUInt32LE(aux + 8)));
        aux += elf.readUInt32LE(aux + 12);
      }
      need += elf.readUInt32LE(need + 12);
    }
  }
  return { needed, versions };
}

/**
 * The newest GLIBC_x.y version among the needs: the oldest glibc the object loads on.
 * @param {{ versions: Record<string, string[]> }} needs
 * @returns {string | undefined} e.g. "2.28"
 */
export function lowestGlibc(needs) {
  const all = Object.values(needs.versions)
    .flat()
    .map((v) => /^GLIBC_(\d+(?:\.\d+)*)$/.exec(v)?.[1])
    .filter((v) => v !== undefined);
  const compare = (a, b) => {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++)
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  };
  return all.sort(compare).at(-1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const needs = readVersionNeeds(process.argv[2]);
  process.stdout.write(
    `${JSON.stringify(needs, null, 2)}\nlowest glibc: ${lowestGlibc(needs) ?? 'none needed'}\n`,
  );
}
