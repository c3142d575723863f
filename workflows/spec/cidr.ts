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
