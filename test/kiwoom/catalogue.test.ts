// The catalogue must hold every row of Kiwoom's command map and classify each
// one; a write row must never be classified as a read.
import t from 'tap';
import { allApis, apisByKind, isKnownGroupPath, knownGroupPaths, lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { CATALOGUE_ROW_COUNT } from '../../proxy/kiwoom/catalogue-data.js';
import type { ApiKind } from '../../proxy/kiwoom/types.js';

// api_id:last path segment for every row of kiwoom_cli/maps/api_commands.csv,
// written out independently of the data module so a dropped or moved row fails.
const CSV_ROWS = `
  au10001:token au10002:revoke ka00001:acnt ka00198:stkinfo ka01690:acnt ka10001:stkinfo 
  ka10002:stkinfo ka10003:stkinfo ka10004:mrkcond ka10005:mrkcond ka10006:mrkcond ka10007:mrkcond 
  ka10008:frgnistt ka10009:frgnistt ka10010:sect ka10011:mrkcond ka10013:stkinfo ka10014:shsa 
  ka10015:stkinfo ka10016:stkinfo ka10017:stkinfo ka10018:stkinfo ka10019:stkinfo ka10020:rkinfo 
  ka10021:rkinfo ka10022:rkinfo ka10023:rkinfo ka10024:stkinfo ka10025:stkinfo ka10026:stkinfo 
  ka10027:rkinfo ka10028:stkinfo ka10029:rkinfo ka10030:rkinfo ka10031:rkinfo ka10032:rkinfo 
  ka10033:rkinfo ka10034:rkinfo ka10035:rkinfo ka10036:rkinfo ka10037:rkinfo ka10038:rkinfo 
  ka10039:rkinfo ka10040:rkinfo ka10042:rkinfo ka10043:stkinfo ka10044:mrkcond ka10045:mrkcond 
  ka10046:mrkcond ka10047:mrkcond ka10048:elw ka10050:elw ka10051:sect ka10052:stkinfo ka10053:rkinfo 
  ka10054:stkinfo ka10055:stkinfo ka10058:stkinfo ka10059:stkinfo ka10060:chart ka10061:stkinfo 
  ka10062:rkinfo ka10063:mrkcond ka10064:chart ka10065:rkinfo ka10066:mrkcond ka10068:slb ka10069:slb 
  ka10072:acnt ka10073:acnt ka10074:acnt ka10075:acnt ka10076:acnt ka10077:acnt ka10078:mrkcond 
  ka10079:chart ka10080:chart ka10081:chart ka10082:chart ka10083:chart ka10084:stkinfo ka10085:acnt 
  ka10086:mrkcond ka10087:mrkcond ka10088:acnt ka10094:chart ka10095:stkinfo ka10098:rkinfo 
  ka10099:stkinfo ka10100:stkinfo ka10101:stkinfo ka10102:stkinfo ka10131:frgnistt ka10170:acnt 
  ka10171:websocket ka10172:websocket ka10173:websocket ka10174:websocket ka20001:sect ka20002:sect 
  ka20003:sect ka20004:chart ka20005:chart ka20006:chart ka20007:chart ka20008:chart ka20009:sect 
  ka20019:chart ka20068:slb ka30001:elw ka30002:elw ka30003:elw ka30004:elw ka30005:elw ka30009:elw 
  ka30010:elw ka30011:elw ka30012:elw ka40001:etf ka40002:etf ka40003:etf ka40004:etf ka40006:etf 
  ka40007:etf ka40008:etf ka40009:etf ka40010:etf ka50010:mrkcond ka50012:mrkcond ka50079:chart 
  ka50080:chart ka50081:chart ka50082:chart ka50083:chart ka50087:mrkcond ka50091:chart ka50092:chart 
  ka50100:mrkcond ka50101:mrkcond ka52301:frgnistt ka90001:thme ka90002:thme ka90003:stkinfo 
  ka90004:stkinfo ka90005:mrkcond ka90006:mrkcond ka90007:mrkcond ka90008:mrkcond ka90009:rkinfo 
  ka90010:mrkcond ka90012:slb ka90013:mrkcond kt00001:acnt kt00002:acnt kt00003:acnt kt00004:acnt 
  kt00005:acnt kt00007:acnt kt00008:acnt kt00009:acnt kt00010:acnt kt00011:acnt kt00012:acnt 
  kt00013:acnt kt00015:acnt kt00016:acnt kt00017:acnt kt00018:acnt kt10000:ordr kt10001:ordr 
  kt10002:ordr kt10003:ordr kt10006:crdordr kt10007:crdordr kt10008:crdordr kt10009:crdordr 
  kt20016:stkinfo kt20017:stkinfo kt50000:ordr kt50001:ordr kt50002:ordr kt50003:ordr kt50020:acnt 
  kt50021:acnt kt50030:acnt kt50031:acnt kt50032:acnt kt50075:acnt 00:websocket 04:websocket 
  0A:websocket 0B:websocket 0C:websocket 0D:websocket 0E:websocket 0F:websocket 0G:websocket 
  0H:websocket 0I:websocket 0J:websocket 0U:websocket 0g:websocket 0m:websocket 0s:websocket 
  0u:websocket 0w:websocket 1h:websocket 
`
  .trim()
  .split(/\s+/)
  .map((s) => s.split(':') as [string, string]);

t.test('every CSV row is present, on its path', async (t) => {
  t.equal(CSV_ROWS.length, CATALOGUE_ROW_COUNT);
  t.equal(allApis().length, CATALOGUE_ROW_COUNT);
  for (const [apiId, group] of CSV_ROWS) {
    const e = lookupApi(apiId);
    if (!e) {
      t.fail(`missing ${apiId}`);
      continue;
    }
    t.equal(e.group, group, `${apiId} group`);
    t.equal(e.path, apiId.startsWith('au') ? `/oauth2/${group}` : `/api/dostk/${group}`, `${apiId} path`);
  }
  t.same(
    allApis().map((e) => e.apiId),
    CSV_ROWS.map(([id]) => id),
    'CSV order kept',
  );
});

t.test('lookups are exact and case-sensitive', async (t) => {
  t.equal(lookupApi('KT10000'), undefined);
  t.equal(lookupApi(' kt10000'), undefined);
  t.equal(lookupApi('kt99999'), undefined);
  t.equal(lookupApi('__proto__'), undefined);
  t.equal(lookupApi('0G')?.name, 'ETF NAV');
  t.equal(lookupApi('0g')?.name, '주식종목정보');
  const buy = lookupApi('kt10000');
  t.same(buy?.requiredFields, ['dmst_stex_tp', 'stk_cd', 'ord_qty', 'trde_tp']);
  t.equal(buy?.name, '주식 매수주문');
  t.equal(lookupApi('ka00001')?.requiredFields.length, 0);
  t.same(lookupApi('au10001')?.requiredFields, ['grant_type', 'appkey', 'secretkey']);
  t.ok(Object.isFrozen(buy) && Object.isFrozen(buy?.requiredFields), 'entries are immutable');
});

t.test('order rows classified as the brief and Kiwoom names say', async (t) => {
  const expected: Record<string, [ApiKind, string, string | undefined]> = {
    kt10000: ['order', 'stock', 'buy'],
    kt10001: ['order', 'stock', 'sell'],
    kt10002: ['modify', 'stock', undefined],
    kt10003: ['cancel', 'stock', undefined],
    kt10006: ['order', 'credit', 'buy'],
    kt10007: ['order', 'credit', 'sell'],
    kt10008: ['modify', 'credit', undefined],
    kt10009: ['cancel', 'credit', undefined],
    kt50000: ['order', 'gold', 'buy'],
    kt50001: ['order', 'gold', 'sell'],
    kt50002: ['modify', 'gold', undefined],
    kt50003: ['cancel', 'gold', undefined],
  };
  const writes = allApis().filter((e) => e.safety === 'order_write');
  t.same(writes.map((e) => e.apiId).sort(), Object.keys(expected).sort(), 'exactly these order_write rows');
  for (const e of writes) {
    const [kind, market, side] = expected[e.apiId]!;
    t.equal(e.kind, kind, `${e.apiId} kind`);
    t.equal(e.market, market, `${e.apiId} market`);
    t.equal(e.side, side, `${e.apiId} side`);
    t.notOk(e.kind === 'query' || e.kind === 'account', `${e.apiId} is not a read`);
  }
  t.equal(apisByKind('transfer').length, 0, 'no transfer rows in the CSV today');
});

t.test('other kinds follow the safety class', async (t) => {
  for (const e of allApis()) {
    if (e.group === 'websocket') t.equal(e.kind, 'realtime', e.apiId);
    else if (e.safety === 'read') t.equal(e.kind, 'query', e.apiId);
    else if (e.safety === 'account_read') t.equal(e.kind, 'account', e.apiId);
    else if (e.safety === 'auth_write') t.equal(e.kind, 'auth', e.apiId);
    if (e.kind !== 'order') t.equal(e.side, undefined, `${e.apiId} has no side`);
    // The pipeline's stock-code check (parse.ts) relies on this: a book exactly for orders, modifies and cancels.
    t.equal(e.market !== undefined, ['order', 'modify', 'cancel'].includes(e.kind), `${e.apiId}: a market exactly when it trades`);
  }
  t.same(
    apisByKind('auth').map((e) => e.apiId),
    ['au10001', 'au10002'],
  );
  t.equal(lookupApi('00')?.kind, 'realtime');
  t.equal(lookupApi('ka10172')?.kind, 'realtime');
  t.equal(lookupApi('kt00018')?.kind, 'account');
  t.equal(lookupApi('ka10001')?.kind, 'query');
  const total = (['order', 'modify', 'cancel', 'query', 'account', 'auth', 'transfer', 'realtime'] as const).reduce((n, k) => n + apisByKind(k).length, 0);
  t.equal(total, allApis().length, 'every entry has exactly one kind');
});

t.test('group paths', async (t) => {
  for (const g of ['acnt', 'ordr', 'crdordr', 'stkinfo', 'mrkcond', 'chart', 'rkinfo', 'sect', 'frgnistt', 'shsa', 'slb', 'elw', 'etf', 'thme', 'websocket']) {
    t.ok(isKnownGroupPath(`/api/dostk/${g}`), g);
  }
  t.equal(knownGroupPaths().length, 15);
  for (const bad of [
    '/api/dostk/',
    '/api/dostk/ordr/',
    '/api/dostk/ORDR',
    '/api/dostk/../ordr',
    '//api/dostk/ordr',
    '/api/dostk/ordr?x=1',
    '/oauth2/token',
    '/api/dostk/nope',
  ]) {
    t.notOk(isKnownGroupPath(bad), bad);
  }
});
