// The admin API's OpenAPI 3.1 document, generated from the route table the
// listener actually serves: every path, method, path parameter, tag and
// required role comes from the table; summaries and body schemas come from
// openapi-docs.ts by "METHOD path". A served route with no entry still
// appears (marked x-kguard-undocumented) and an entry with no route does not,
// so the document cannot promise a route that is not there; the test makes
// both directions fail loudly.
import { COMPONENT_SCHEMAS, ROUTE_DOCS, type RouteDoc } from './openapi-docs.js';
import type { ServedRoute } from './server.js';

type Obj = Record<string, unknown>;

/** `/admin/v1/bots/:id/disable` → `/admin/v1/bots/{id}/disable` */
export function openApiPath(path: string): string {
  return path.replace(/:([a-zA-Z]+)/g, '{$1}');
}

export function docKey(route: { readonly method: string; readonly path: string }): string {
  return `${route.method} ${openApiPath(route.path)}`;
}

const errorResponse = (description: string, headers?: Obj): Obj => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request (KG1xxx, KG3016, KG7006)',
  404: 'No such object (KG1009, KG3015)',
  409: 'Conflicts with the current state',
  422: 'Rejected; the previous state stays in force',
  503: 'Not ready',
};

function tagOf(path: string): string {
  const m = /^\/admin\/v1\/([^/]+)/.exec(path);
  return m ? m[1]!.replace(/\.json$/, '') : 'operations';
}

function operation(route: ServedRoute, doc: RouteDoc | undefined): Obj {
  const protectedRoute = route.access !== 'public';
  const params = [...route.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => ({
    name: m[1]!,
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,128}$' },
  }));
  const query = Object.entries(doc?.query ?? {}).map(([name, q]) => ({ name, in: 'query', required: false, description: q.description, schema: q.schema }));
  const status = String(doc?.status ?? 200);
  const isText = route.path === '/metrics';
  const success: Obj = {
    description: doc?.summary ?? 'OK',
    content: {
      [isText ? 'text/plain' : 'application/json']: { schema: doc?.response ?? {} },
      ...Object.fromEntries(Object.entries(doc?.alternatives ?? {}).map(([type, schema]) => [type, { schema }])),
    },
  };
  const responses: Obj = { [status]: success };
  for (const code of doc?.errors ?? []) {
    if (String(code) === status) continue;
    responses[String(code)] =
      code === 503 && route.path === '/readyz'
        ? { description: STATUS_TEXT[503], content: { 'application/json': { schema: doc?.response ?? {} } } }
        : errorResponse(STATUS_TEXT[code] ?? 'Refused');
  }
  if (protectedRoute) {
    responses['401'] = errorResponse('No, malformed or unknown admin token (KG2001, KG2002); counted against the source address');
    responses['403'] = errorResponse(`The token's role is below ${route.access} (KG2009); counted against the source address`);
    responses['429'] = errorResponse('The source address is cooling down after repeated auth failures (KG3005)', {
      'retry-after': { description: 'Seconds until the cool-down ends', schema: { type: 'integer', minimum: 1 } },
    });
  }
  responses.default = errorResponse('Any other error, Kiwoom-shaped with the sidecar code');
  return {
    operationId: `${route.method.toLowerCase()}${openApiPath(route.path)
      .replace(/[{}]/g, '')
      .split(/[^A-Za-z0-9]+/)
      .filter(Boolean)
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('')}`,
    summary: doc?.summary ?? `${route.method} ${route.path}`,
    ...(doc?.description ? { description: doc.description } : {}),
    tags: [protectedRoute ? tagOf(route.path) : 'operations'],
    security: protectedRoute ? [{ adminToken: [] }] : [],
    'x-kguard-role': route.access,
    ...(doc ? {} : { 'x-kguard-undocumented': true }),
    ...(params.length + query.length > 0 ? { parameters: [...params, ...query] } : {}),
    ...(doc?.body ? { requestBody: { required: true, content: { [doc.bodyMedia ?? 'application/json']: { schema: doc.body } } } } : {}),
    responses,
  };
}

/** Served routes that have no entry in openapi-docs.ts, and entries that name no served route. */
export function openApiCoverage(routes: readonly ServedRoute[]): { undocumented: string[]; unserved: string[] } {
  const served = new Set(routes.map(docKey));
  return {
    undocumented: [...served].filter((k) => !(k in ROUTE_DOCS)),
    unserved: Object.keys(ROUTE_DOCS).filter((k) => !served.has(k)),
  };
}

export function openApiDocument(routes: readonly ServedRoute[]): Obj {
  const paths: Record<string, Obj> = {};
  for (const route of routes) {
    const p = openApiPath(route.path);
    paths[p] ??= {};
    paths[p][route.method.toLowerCase()] = operation(route, ROUTE_DOCS[docKey(route)]);
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'kiwoom-guard admin API',
      version: 'v1',
      description:
        'The admin listener of kiwoom-guard (its own port, default 9090). /healthz, /readyz and /metrics need no token; every ' +
        '/admin/v1 route, this document included, needs an admin bearer token (`kguard admins add NAME --role ROLE`) whose role ' +
        'is at least the one in x-kguard-role (viewer < approver < admin). Failed logins and role refusals are limited per ' +
        'source address (admin.authFailures): past the limit the address gets 429 with retry-after, even with a correct token. ' +
        'Errors are Kiwoom-shaped: {return_code, return_msg, code}.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: [...new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((o) => (o as { tags: string[] }).tags)))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'http', scheme: 'bearer', bearerFormat: 'kga_ admin token', description: 'Admin API token, shown once when created' },
      },
      schemas: COMPONENT_SCHEMAS,
    },
  };
}
