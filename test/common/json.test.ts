// The one parse of a bot's body: a JSON object, each key once per object.
import t from 'tap';
import { hasDuplicateKey, parseJsonObject } from '../../proxy/common/json.js';

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
