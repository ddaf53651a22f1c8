import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as abi from '../src/abi.js';

const header = readFileSync(new URL('../../../native/include/proactor/abi.h', import.meta.url), 'utf8');

function defines(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(/^#define PROACTOR_(\w+)\s+(0x[0-9a-fA-F]+|\d+)u?\b/gm)) {
    out.set(m[1], Number(m[2]));
  }
  return out;
}

function enumValues(name: string): Map<string, number> {
  const body = header.match(new RegExp(`enum ${name} \\{([^}]*)\\}`))?.[1];
  if (!body) throw new Error(`enum ${name} not found in abi.h`);
  const out = new Map<string, number>();
  for (const m of body.matchAll(/PROACTOR_(\w+)\s*=\s*(\d+)/g)) out.set(m[1], Number(m[2]));
  return out;
}

const sizes: Record<string, number> = {
  uint8_t: 1,
  uint16_t: 2,
  int32_t: 4,
  uint32_t: 4,
  int64_t: 8,
  uint64_t: 8,
};

/** Field offsets of a struct in abi.h, laid out with natural alignment as a C compiler does. */
function structLayout(name: string): { offsets: Map<string, number>; size: number } {
  const body = header.match(new RegExp(`struct ${name} \\{([^}]*)\\}`))?.[1];
  if (!body) throw new Error(`struct ${name} not found in abi.h`);
  const offsets = new Map<string, number>();
  let offset = 0;
  let align = 1;
  for (const m of body.matchAll(/(\w+_t)\s+(\w+)(?:\[(\d+)\])?;/g)) {
    const size = sizes[m[1]];
    if (!size) throw new Error(`unknown type ${m[1]}`);
    offset = Math.ceil(offset / size) * size;
    offsets.set(m[2], offset);
    offset += size * (m[3] === undefined ? 1 : Number(m[3]));
    align = Math.max(align, size);
  }
  return { offsets, size: Math.ceil(offset / align) * align };
}

describe('abi.ts mirrors native/include/proactor/abi.h', () => {
  it('has the same sizes, limits and flags', () => {
    const d = defines();
    expect(abi.ABI_VERSION).toBe(d.get('ABI_VERSION'));
    expect(abi.SQE_SIZE).toBe(d.get('SQE_SIZE'));
    expect(abi.CQE_SIZE).toBe(d.get('CQE_SIZE'));
    expect(abi.STAT_FIELDS).toBe(d.get('STAT_FIELDS'));
    expect(abi.SLOT_NONE).toBe(d.get('SLOT_NONE'));
    expect(abi.IOV_MAX).toBe(d.get('IOV_MAX'));
    expect(abi.SQE_F_LINK).toBe(d.get('SQE_F_LINK'));
    expect(abi.STAT_F_NOFOLLOW).toBe(d.get('STAT_F_NOFOLLOW'));
    expect(abi.UNLINK_F_DIR).toBe(d.get('UNLINK_F_DIR'));
    expect(abi.CQE_F_MORE).toBe(d.get('CQE_F_MORE'));
    expect(abi.CQE_F_BUFFER).toBe(d.get('CQE_F_BUFFER'));
    expect(abi.SEND_F_ZEROCOPY).toBe(d.get('SEND_F_ZEROCOPY'));
  });

  it('has the same poll events', () => {
    const d = defines();
    const mirrored: Record<string, number> = {
      POLL_IN: abi.POLL_IN,
      POLL_OUT: abi.POLL_OUT,
      POLL_ERR: abi.POLL_ERR,
      POLL_HUP: abi.POLL_HUP,
      POLL_RDHUP: abi.POLL_RDHUP,
    };
    for (const [name, value] of Object.entries(mirrored)) expect([name, value]).toEqual([name, d.get(name)]);
  });

  it('has the same socket constants', () => {
    const d = defines();
    const mirrored: Record<string, number> = {
      AF_NONE: abi.AF_NONE,
      AF_UNIX: abi.AF_UNIX,
      AF_INET: abi.AF_INET,
      AF_INET6: abi.AF_INET6,
      SOCK_STREAM: abi.SOCK_STREAM,
      SOCK_DGRAM: abi.SOCK_DGRAM,
      SHUT_RD: abi.SHUT_RD,
      SHUT_WR: abi.SHUT_WR,
      SHUT_RDWR: abi.SHUT_RDWR,
      SO_REUSEADDR: abi.SO_REUSEADDR,
      SO_REUSEPORT: abi.SO_REUSEPORT,
      SO_NODELAY: abi.SO_NODELAY,
      SO_KEEPALIVE: abi.SO_KEEPALIVE,
      ADDRESS_SIZE: abi.ADDRESS_SIZE,
      ADDRESS_PATH_MAX: abi.ADDRESS_PATH_MAX,
    };
    for (const [name, value] of Object.entries(mirrored)) expect([name, value]).toEqual([name, d.get(name)]);
  });

  it('has the same address record layout', () => {
    const { offsets, size } = structLayout('proactor_address');
    expect(size).toBe(abi.ADDRESS_SIZE);
    for (const [field, offset] of Object.entries(abi.AddressOffset))
      expect([field, offsets.get(field)]).toEqual([field, offset]);
    // The path field runs to the record's end and holds a whole sun_path (108 bytes on Linux);
    // a path from JavaScript leaves room for sun_path's terminating NUL.
    expect(abi.ADDRESS_SIZE - abi.AddressOffset.path).toBeGreaterThanOrEqual(108);
    expect(abi.ADDRESS_PATH_MAX).toBe(107);
  });

  it('has the same opcodes', () => {
    const ops = enumValues('proactor_opcode');
    const count = ops.get('OP_COUNT');
    ops.delete('OP_COUNT');
    expect(abi.OPCODE_COUNT).toBe(count);
    expect(Object.fromEntries(Object.entries(abi.Opcode).map(([k, v]) => [`OP_${k}`, v]))).toEqual(
      Object.fromEntries(ops),
    );
  });

  it('has the same stat field order', () => {
    const fields = enumValues('proactor_stat_field');
    expect(Object.fromEntries(Object.entries(abi.StatField).map(([k, v]) => [`STAT_${k}`, v]))).toEqual(
      Object.fromEntries(fields),
    );
  });

  it('has the same submission entry layout', () => {
    const { offsets, size } = structLayout('proactor_sqe');
    expect(size).toBe(abi.SQE_SIZE);
    for (const [field, offset] of Object.entries(abi.SqeOffset))
      expect([field, offsets.get(field)]).toEqual([field, offset]);
  });

  it('has the same completion entry layout', () => {
    const { offsets, size } = structLayout('proactor_cqe');
    expect(size).toBe(abi.CQE_SIZE);
    for (const [field, offset] of Object.entries(abi.CqeOffset))
      expect([field, offsets.get(field)]).toEqual([field, offset]);
  });

  it('decodeSubmission reads what the layout says', () => {
    const buf = new ArrayBuffer(abi.SQE_SIZE * 2);
    const dv = new DataView(buf, abi.SQE_SIZE);
    dv.setUint8(abi.SqeOffset.opcode, abi.Opcode.READ);
    dv.setUint8(abi.SqeOffset.flags, abi.SQE_F_LINK);
    dv.setInt32(abi.SqeOffset.fd, 7, true);
    dv.setBigInt64(abi.SqeOffset.offset, 2n ** 40n + 5n, true);
    dv.setBigUint64(abi.SqeOffset.buf_offset, 4096n, true);
    dv.setUint32(abi.SqeOffset.len, 512, true);
    dv.setUint32(abi.SqeOffset.slot, 3, true);
    dv.setUint32(abi.SqeOffset.op_flags, 0x42, true);
    dv.setUint32(abi.SqeOffset.mode, 0o644, true);
    dv.setUint32(abi.SqeOffset.target, 9, true);
    dv.setInt32(abi.SqeOffset.fd_in, 11, true);
    dv.setBigUint64(abi.SqeOffset.timeout_ns, 1_500_000_000n, true);
    expect(abi.decodeSubmission(new Uint32Array(buf), 1)).toEqual({
      opcode: abi.Opcode.READ,
      flags: abi.SQE_F_LINK,
      fd: 7,
      offset: 2 ** 40 + 5,
      bufOffset: 4096,
      len: 512,
      slot: 3,
      opFlags: 0x42,
      mode: 0o644,
      target: 9,
      fdIn: 11,
      timeoutNs: 1_500_000_000,
    });
    dv.setBigInt64(abi.SqeOffset.offset, -1n, true);
    expect(abi.decodeSubmission(new Uint32Array(buf), 1).offset).toBe(-1);
  });
});
