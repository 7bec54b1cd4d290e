// JSON with object keys sorted and no whitespace, so equal values give equal
// text whatever order their keys were written in: what the approval binding
// (approval/canonical.ts) and the configuration digest (config-digest.ts) hash.
// Undefined members are left out and undefined elsewhere is written 'null', as
// JSON.stringify does; it never throws on them. Not proxy/audit/canonical.ts on
// purpose: that encoder refuses what RFC 8785 cannot encode, because its bytes
// are hashed into signed records.

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('non-finite number in body');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}
