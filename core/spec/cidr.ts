/** Pure CIDR syntax checks for `loadBalancerSourceRanges` (IPv4 and IPv6). */

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

const DECIMAL = /^(0|[1-9]\d*)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => DECIMAL.test(p) && Number(p) <= 255);
}

function isIPv6(text: string): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (half: string): string[] | undefined => {
    if (half === '') return [];
    const groups = half.split(':');
    const last = groups[groups.length - 1] ?? '';
    // An embedded IPv4 address counts as two groups.
    if (last.includes('.')) {
      if (!isIPv4(last)) return undefined;
      groups.splice(groups.length - 1, 1, '0', '0');
    }
    return groups.every((g) => HEX_GROUP.test(g)) ? groups : undefined;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === undefined || tail === undefined) return false;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && (halves[0] ?? '').includes('.')) return false;
  const count = head.length + tail.length;
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** Parses `address/prefix`; `undefined` when it is not a valid CIDR. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash === -1) return undefined;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  if (!DECIMAL.test(prefix)) return undefined;
  const prefixLength = Number(prefix);
  if (isIPv4(address)) return prefixLength <= 32 ? { family: 4, address, prefixLength } : undefined;
  if (isIPv6(address)) return prefixLength <= 128 ? { family: 6, address, prefixLength } : undefined;
  return undefined;
}

/** True for a range that admits every address (`0.0.0.0/0`, `::/0`, any `/0`). */
export function isOpenToAnyone(cidr: Cidr): boolean {
  return cidr.prefixLength === 0;
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6Value(address: string): bigint {
  let text = address;
  // An embedded IPv4 address: two hex groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipv4Value(tail);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = [
    ...headGroups,
    ...Array.from({ length: 8 - headGroups.length - tailGroups.length }, () => '0'),
    ...tailGroups,
  ];
  return groups.reduce((acc: bigint, g: string) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** The first and last address of a range, as numbers. */
export function cidrRange(cidr: Cidr): { first: bigint; last: bigint } {
  const bits = cidr.family === 4 ? 32n : 128n;
  const value = cidr.family === 4 ? ipv4Value(cidr.address) : ipv6Value(cidr.address);
  const hostBits = bits - BigInt(cidr.prefixLength);
  const first = (value >> hostBits) << hostBits;
  return { first, last: first + (1n << hostBits) - 1n };
}

/**
 * The address families (4, 6) whose whole space the ranges cover together, e.g.
 * `0.0.0.0/1` + `128.0.0.0/1`: as open as `0.0.0.0/0`, only spelled differently.
 */
export function familiesCoveredEntirely(cidrs: readonly Cidr[]): (4 | 6)[] {
  const covered: (4 | 6)[] = [];
  for (const family of [4, 6] as const) {
    const ranges = cidrs
      .filter((c) => c.family === family)
      .map(cidrRange)
      .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const end = (1n << (family === 4 ? 32n : 128n)) - 1n;
    let next = 0n; // first address not covered yet
    for (const r of ranges) {
      if (r.first > next) break;
      if (r.last + 1n > next) next = r.last + 1n;
    }
    if (ranges.length > 0 && next > end) covered.push(family);
  }
  return covered;
}
