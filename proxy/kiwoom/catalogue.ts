// The api-id catalogue: every row of Kiwoom's command map, classified into an
// ApiKind. Classification, least-privilege policies, upstream path building
// and the simulator's "wrong path" errors all read from here.

import { CATALOGUE_ROWS } from './catalogue-data.js';
import type { ApiEntry, ApiKind, OrderSide, SafetyClass } from './types.js';

export const TR_PATH_PREFIX = '/api/dostk/';

const SAFETY_CLASSES: ReadonlySet<string> = new Set<SafetyClass>(['read', 'account_read', 'order_write', 'auth_write']);

type OrderClass = Pick<ApiEntry, 'kind' | 'market' | 'side'>;

// Order rows are classified from Kiwoom's own names (e.g. '신용 매도주문') so a
// future row is classified by what it says it does. A write row whose name we
// cannot read becomes 'transfer': denied by default, never mistaken for a query.
function classifyOrderWrite(name: string): OrderClass {
  const market: ApiEntry['market'] = name.startsWith('신용') ? 'credit' : name.startsWith('금현물') ? 'gold' : name.startsWith('주식') ? 'stock' : undefined;
  if (market === undefined) return { kind: 'transfer' };
  const sides: Array<[string, OrderSide]> = [
    ['매수주문', 'buy'],
    ['매도주문', 'sell'],
  ];
  for (const [suffix, side] of sides) {
    if (name.endsWith(suffix)) return { kind: 'order', market, side };
  }
  if (name.endsWith('정정주문')) return { kind: 'modify', market };
  if (name.endsWith('취소주문')) return { kind: 'cancel', market };
  return { kind: 'transfer' };
}

function classify(safety: SafetyClass, name: string, path: string): OrderClass {
  if (path === `${TR_PATH_PREFIX}websocket`) return { kind: 'realtime' };
  switch (safety) {
    case 'auth_write':
      return { kind: 'auth' };
    case 'read':
      return { kind: 'query' };
    case 'account_read':
      return { kind: 'account' };
    case 'order_write':
      return classifyOrderWrite(name);
  }
}

function parseRows(text: string): ApiEntry[] {
  const entries: ApiEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const cols = line.split('|');
    if (cols.length !== 8) throw new Error(`catalogue row has ${cols.length} columns: ${line}`);
    const [apiId, name, category, subcategory, safety, , path, fields] = cols as [string, string, string, string, string, string, string, string];
    if (!SAFETY_CLASSES.has(safety)) throw new Error(`catalogue row ${apiId} has unknown safety class ${safety}`);
    const cls = classify(safety as SafetyClass, name, path);
    const entry: ApiEntry = {
      apiId,
      name,
      category,
      subcategory,
      path,
      group: path.slice(path.lastIndexOf('/') + 1),
      kind: cls.kind,
      safety: safety as SafetyClass,
      requiredFields: Object.freeze(fields === '' ? [] : fields.split(';')),
      ...(cls.market !== undefined ? { market: cls.market } : {}),
      ...(cls.side !== undefined ? { side: cls.side } : {}),
    };
    entries.push(Object.freeze(entry));
  }
  return entries;
}

const ALL: readonly ApiEntry[] = Object.freeze(parseRows(CATALOGUE_ROWS));
const BY_ID: ReadonlyMap<string, ApiEntry> = new Map(ALL.map((e) => [e.apiId, e]));
if (BY_ID.size !== ALL.length) throw new Error('catalogue has duplicate api-ids');

const BY_KIND: ReadonlyMap<ApiKind, readonly ApiEntry[]> = (() => {
  const m = new Map<ApiKind, ApiEntry[]>();
  for (const e of ALL) {
    const list = m.get(e.kind) ?? [];
    list.push(e);
    m.set(e.kind, list);
  }
  return new Map([...m].map(([k, v]) => [k, Object.freeze(v)]));
})();

const GROUP_PATHS: ReadonlySet<string> = new Set(ALL.filter((e) => e.path.startsWith(TR_PATH_PREFIX)).map((e) => e.path));

/** The entry for an api-id (case-sensitive, exactly as Kiwoom spells it), or undefined. */
export function lookupApi(apiId: string): ApiEntry | undefined {
  return BY_ID.get(apiId);
}

/** Every catalogue entry, in Kiwoom's CSV order. */
export function allApis(): readonly ApiEntry[] {
  return ALL;
}

export function apisByKind(kind: ApiKind): readonly ApiEntry[] {
  return BY_KIND.get(kind) ?? [];
}

/** True for an exact `/api/dostk/<group>` path that some catalogue entry lives on. */
export function isKnownGroupPath(path: string): boolean {
  return GROUP_PATHS.has(path);
}

/** The TR group paths (`/api/dostk/<group>`) in the catalogue. */
export function knownGroupPaths(): readonly string[] {
  return [...GROUP_PATHS];
}
