// The one parse of a bot's body: a JSON object, each key once per object.
import t from 'tap';
import { aliasedKeys, foldKey, hasDuplicateKey, parseJsonObject } from '../../proxy/common/json.js';

t.test('a key twice in one object, however it is spelled or nested', async (t) => {
  for (const text of ['{"a":1,"a":2}', '{"a":1, "a" :2}', '{"stk_cd":"1","stk\\u005fcd":"2"}', '{"x":{"b":[1,{"c":1,"c":1}]}}', '[{"a":1},{"b":1,"b":2}]'])
    t.ok(hasDuplicateKey(text), text);
  for (const text of [
    '{"a":1,"b":{"a":1}}',
    '[{"a":1},{"a":2}]',
    '{"a":"a","b":"a"}',
    '{"a":"\\"a\\":","b":"{\\"a\\":1,\\"a\\":2}"}',
    '{"a":"}","a\\\\":"{"}',
    '{}',
    '"a"',
  ])
    t.notOk(hasDuplicateKey(text), text);
});

t.test('parseJsonObject: an object or KG1001, with no key twice', async (t) => {
  t.same(parseJsonObject(Buffer.from('{"stk_cd":"005930"}')), { stk_cd: '005930' });
  t.same(parseJsonObject(Buffer.alloc(0)), {});
  t.throws(() => parseJsonObject(Buffer.from('{"a":1,"a":1}')), { code: 'KG1001', message: /twice/ });
  t.throws(() => parseJsonObject(Buffer.from('[1]')), { code: 'KG1001' });
  t.throws(() => parseJsonObject(Buffer.from('{"a":')), { code: 'KG1001' });
});

t.test('foldKey: the names a lenient reader takes for one field fold to one', async (t) => {
  for (const k of ['ord_qty', 'ORD_QTY', 'Ord_Qty', ' ord_qty', 'ord_qty\t', 'ordQty', 'ord-qty', 'ｏｒｄ＿ｑｔｙ', 'ord\u200b_qty', 'o\u0301rd_qty'])
    t.equal(foldKey(k), 'ordqty', JSON.stringify(k));
  t.equal(foldKey('st\u212a_cd'), 'stkcd', 'the Kelvin sign');
  t.equal(foldKey('\u017ftk_cd'), 'stkcd', 'long s');
  t.equal(foldKey('or\u0131g_ord_no'), 'origordno', 'dotless i');
  t.equal(foldKey('or\u0130g_ord_no'), 'origordno', 'dotted capital I');
  t.not(foldKey('stk_cd'), foldKey('stk_nm'));
});

t.test('aliasedKeys: two keys of one object that fold to one, at any depth', async (t) => {
  t.same(aliasedKeys({ ord_qty: '1', ORD_QTY: '1000' }), ['ord_qty', 'ORD_QTY']);
  t.same(aliasedKeys({ a: [{ x: { stk_cd: 1, 'stk_cd ': 2 } }] }), ['stk_cd', 'stk_cd ']);
  t.equal(aliasedKeys({ stk_cd: '1', x: { stk_cd: '2' } }), undefined, 'the same name in two objects');
  t.equal(aliasedKeys({ stk_cd: '1', ord_qty: '2' }), undefined);
  let deep: unknown = { a: 1, A: 2 };
  for (let i = 0; i < 100_000; i++) deep = [deep];
  t.same(aliasedKeys(deep), ['a', 'A'], 'deep nesting does not exhaust the stack');
});
