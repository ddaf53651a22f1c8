/**
 * Socket addresses: Node-style objects in the API, portable records in the address area
 * (native/include/proactor/abi.h, struct proactor_address) between the queue and its backend.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ADDRESS_PATH_MAX, ADDRESS_SIZE, AddressOffset, AF_INET, AF_INET6, AF_NONE, AF_UNIX } from './abi.js';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

/** An IPv4 or IPv6 address and port, as node:net reports them. */
export interface InetSocketAddress {
  /** The IP address as text: '127.0.0.1', '::1', 'fe80::1%eth0' (an IPv6 scope after '%'). */
  address: string;
  /** The port, 0 to 65535, in host order. */
  port: number;
  /** Which IP version `address` is. */
  family: 'IPv4' | 'IPv6';
}

/** A unix domain socket address: '' for an unnamed socket. */
export interface UnixSocketAddress {
  /** The socket's path; '' for an unnamed socket. */
  path: string;
}

/**
 * A socket address as the queue reports it (accept, recvfrom, localAddress): `{ address, port,
 * family }` for TCP and UDP, `{ path }` for unix sockets. Test with `'port' in a` to narrow it.
 */
export type SocketAddress = InetSocketAddress | UnixSocketAddress;

/** What the socket operations accept: `family` may also be 4 or 6 and may be left out. */
export type SocketAddressInput =
  | {
      /** An IP address as text (no host names: nothing is resolved); '%' and a scope id for IPv6. */
      address: string;
      /** The port, an integer from 0 (bind: any free port) to 65535. */
      port: number;
      /** Must agree with `address` when given; taken from it otherwise. */
      family?: 'IPv4' | 'IPv6' | 4 | 6;
    }
  | {
      /** A unix socket path, at most ADDRESS_PATH_MAX (107) bytes. */
      path: string | Buffer;
    };

/** A validated address, ready for the address area. */
export interface AddressRecord {
  /** The portable family written into the address area. */
  family: typeof AF_UNIX | typeof AF_INET | typeof AF_INET6;
  /** The port in host order (0 for unix sockets). */
  port: number;
  /** IPv6 scope (interface index); 0 when none. */
  scopeId: number;
  /** 16 bytes; IPv4 in the first 4. */
  bytes: Uint8Array;
  /** Unix path bytes. */
  path: Uint8Array;
  /** How errors show it: 'host:port' or the path. */
  display: string;
  /** The host (or path) and port as Node's net errors carry them. */
  host: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Validates a Node-style address. `minPort` is 0 for bind (any free port) and 1 for connect.
 * Throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE / ERR_OUT_OF_RANGE like node:net.
 */
export function validateSocketAddress(value: unknown, name: string, minPort: number): AddressRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
  const input = value as Record<string, unknown>;
  if (input.path !== undefined) {
    if (input.address !== undefined || input.port !== undefined) {
      throw invalidArgValue(name, value, 'must have either a path or an address and port, not both');
    }
    const path = input.path;
    let bytes: Uint8Array;
    if (typeof path === 'string') bytes = Buffer.from(path, 'utf8');
    else if (path instanceof Uint8Array) bytes = path;
    else throw invalidArgType(`${name}.path`, 'of type string or an instance of Buffer', path);
    if (bytes.length === 0) throw invalidArgValue(`${name}.path`, path, 'must not be empty');
    if (bytes.includes(0)) throw invalidArgValue(`${name}.path`, path, 'must not contain null bytes');
    if (bytes.length > ADDRESS_PATH_MAX) {
      throw outOfRange(`${name}.path`, `at most ${ADDRESS_PATH_MAX} bytes long`, bytes.length);
    }
    const shown = Buffer.from(bytes).toString();
    return { family: AF_UNIX, port: 0, scopeId: 0, bytes: EMPTY, path: bytes, display: shown, host: shown };
  }
  const address = input.address;
  if (typeof address !== 'string') {
    throw invalidArgType(`${name}.address`, 'of type string', address);
  }
  const port = input.port;
  if (typeof port !== 'number') throw invalidArgType(`${name}.port`, 'of type number', port);
  if (!Number.isInteger(port) || port < minPort || port > 65535) {
    throw outOfRange(`${name}.port`, `>= ${minPort} && <= 65535`, port);
  }
  const percent = address.indexOf('%');
  const host = percent < 0 ? address : address.slice(0, percent);
  const version = isIP(host);
  if (version === 0) throw invalidArgValue(`${name}.address`, address, 'must be an IPv4 or IPv6 address');
  const family = input.family;
  if (family !== undefined) {
    const wanted = family === 'IPv4' || family === 4 ? 4 : family === 'IPv6' || family === 6 ? 6 : 0;
    if (wanted === 0) throw invalidArgValue(`${name}.family`, family, "must be 'IPv4', 'IPv6', 4 or 6");
    if (wanted !== version) {
      throw invalidArgValue(`${name}.family`, family, `does not match the address ${address}`);
    }
  }
  const bytes = new Uint8Array(16);
  let scopeId = 0;
  if (version === 4) {
    if (percent >= 0) throw invalidArgValue(`${name}.address`, address, 'must not have a scope id');
    bytes.set(host.split('.').map(Number));
  } else {
    bytes.set(parseIPv6(host));
    if (percent >= 0) scopeId = parseScope(address.slice(percent + 1), `${name}.address`, address);
  }
  const display = `${address}:${port}`;
  return {
    family: version === 4 ? AF_INET : AF_INET6,
    port,
    scopeId,
    bytes,
    path: EMPTY,
    display,
    host: address,
  };
}

function parseScope(scope: string, name: string, address: string): number {
  if (/^\d+$/.test(scope)) {
    const index = Number(scope);
    if (index <= 0xffffffff) return index;
  } else if (scope.length > 0) {
    // An interface name: its index is the scope id of its link-local addresses.
    for (const entry of networkInterfaces()[scope] ?? []) {
      if (entry.family === 'IPv6' && entry.scopeid) return entry.scopeid;
    }
  }
  throw invalidArgValue(name, address, 'has an unknown scope id');
}

/** Parses a textual IPv6 address (already checked by isIP) into its 16 bytes. */
export function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const words = (part: string): number[] => {
    if (part === '') return [];
    const result: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const [a, b, c, d] = group.split('.').map(Number);
        result.push((a << 8) | b, (c << 8) | d);
      } else result.push(Number.parseInt(group, 16));
    }
    return result;
  };
  const first = words(head);
  const last = words(tail);
  const all = [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >>> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

/** Formats 16 bytes as inet_ntop does (RFC 5952: the longest zero run compressed, lowercase). */
export function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestStart = -1;
  const ipv4Tail = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  if (bestStart === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff))) {
    return bestLength === 6 ? `::${ipv4Tail}` : `::ffff:${ipv4Tail}`;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLength - 1;
      continue;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += words[i].toString(16);
  }
  return out;
}

/** Writes `record` into record `index` of the address area. */
export function writeAddress(area: Uint8Array, index: number, record: AddressRecord): void {
  const base = index * ADDRESS_SIZE;
  area.fill(0, base, base + ADDRESS_SIZE);
  const view = new DataView(area.buffer, area.byteOffset + base, ADDRESS_SIZE);
  view.setUint8(AddressOffset.family, record.family);
  view.setUint16(AddressOffset.port, record.port, true);
  view.setUint32(AddressOffset.scope_id, record.scopeId, true);
  area.set(record.bytes, base + AddressOffset.addr);
  view.setUint16(AddressOffset.path_len, record.path.length, true);
  area.set(record.path, base + AddressOffset.path);
}

/** Reads record `index` of the address area as a Node-style address; undefined for AF_NONE. */
export function readAddress(area: Uint8Array, index: number): SocketAddress | undefined {
  const base = index * ADDRESS_SIZE;
  const view = new DataView(area.buffer, area.byteOffset + base, ADDRESS_SIZE);
  const family = view.getUint8(AddressOffset.family);
  switch (family) {
    case AF_NONE:
      return undefined;
    case AF_UNIX: {
      const length = Math.min(
        view.getUint16(AddressOffset.path_len, true),
        ADDRESS_SIZE - AddressOffset.path,
      );
      const start = base + AddressOffset.path;
      return { path: Buffer.from(area.subarray(start, start + length)).toString() };
    }
    case AF_INET: {
      const a = base + AddressOffset.addr;
      return {
        address: `${area[a]}.${area[a + 1]}.${area[a + 2]}.${area[a + 3]}`,
        port: view.getUint16(AddressOffset.port, true),
        family: 'IPv4',
      };
    }
    case AF_INET6: {
      const a = base + AddressOffset.addr;
      const scope = view.getUint32(AddressOffset.scope_id, true);
      const text = formatIPv6(area.subarray(a, a + 16));
      return {
        address: scope === 0 ? text : `${text}%${scope}`,
        port: view.getUint16(AddressOffset.port, true),
        family: 'IPv6',
      };
    }
    default:
      throw outOfRange(`family of address record ${index}`, 'a PROACTOR_AF_* value', family);
  }
}

/** For backends: validates a Node-style address and writes it into record `index`. */
export function encodeSocketAddress(area: Uint8Array, index: number, address: SocketAddressInput): void {
  writeAddress(area, index, validateSocketAddress(address, 'address', 0));
}
