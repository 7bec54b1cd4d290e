// Test helpers for talking to the Kiwoom simulator over real HTTP (undici).
import { request, type Dispatcher } from 'undici';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
  text: string;
}

export async function call(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  opts: { method?: Dispatcher.HttpMethod; raw?: string; dispatcher?: Dispatcher; headersTimeout?: number } = {},
): Promise<HttpResult> {
  const res = await request(`${baseUrl}${path}`, {
    method: opts.method ?? 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
    body: opts.method === 'GET' || opts.method === 'DELETE' ? undefined : (opts.raw ?? JSON.stringify(body)),
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    ...(opts.headersTimeout ? { headersTimeout: opts.headersTimeout } : {}),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* non-JSON bodies are asserted via text */
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

/** The raw au10001 answer (success or refusal). */
export function issue(baseUrl: string, appkey: string, secretkey: string, dispatcher?: Dispatcher): Promise<HttpResult> {
  return call(baseUrl, '/oauth2/token', { grant_type: 'client_credentials', appkey, secretkey }, {}, dispatcher ? { dispatcher } : {});
}

export async function issueToken(baseUrl: string, appkey: string, secretkey: string, dispatcher?: Dispatcher): Promise<string> {
  const r = await issue(baseUrl, appkey, secretkey, dispatcher);
  if (r.json.return_code !== 0) throw new Error(`token issue failed: ${r.text}`);
  return r.json.token as string;
}

export function revoke(baseUrl: string, appkey: string, secretkey: string, token: string): Promise<HttpResult> {
  return call(baseUrl, '/oauth2/revoke', { appkey, secretkey, token });
}

export function tr(
  baseUrl: string,
  token: string,
  apiId: string,
  group: string,
  body: unknown,
  extra: Record<string, string> = {},
  dispatcher?: Dispatcher,
): Promise<HttpResult> {
  return call(baseUrl, `/api/dostk/${group}`, body, { 'api-id': apiId, authorization: `Bearer ${token}`, ...extra }, dispatcher ? { dispatcher } : {});
}
