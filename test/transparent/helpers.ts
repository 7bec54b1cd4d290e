// Shared by the transparent-mode tests: a harness with transparent mode on
// and a CA made for it, and an "unmodified bot": a client whose base URL stays
// https://api.kiwoom.com and that only gets a dispatcher (HTTPS_PROXY or a
// name override), as a bot configured from the environment would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { ProxyAgent, request, type Dispatcher } from 'undici';
import { initCa, type LocalCa } from '../../proxy/server/transparent/ca.js';
import { parseJson, startHarness, type CallResult, type Harness, type HarnessOptions } from '../helpers/harness.js';

export const KIWOOM = 'https://api.kiwoom.com';

export interface TransparentHarness {
  h: Harness;
  ca: LocalCa;
  caDir: string;
  close(): Promise<void>;
}

export async function startTransparent(opts: HarnessOptions & { transparent?: Record<string, unknown> } = {}): Promise<TransparentHarness> {
  const base = await mkdtemp(path.join(tmpdir(), 'kg-transparent-'));
  const caDir = path.join(base, 'ca');
  const { ca } = await initCa(base, { dir: caDir });
  const h = await startHarness({
    ...opts,
    config: { ...opts.config, transparent: { enabled: true, caDir, ...opts.transparent } },
  });
  return {
    h,
    ca,
    caDir,
    async close() {
      await h.close();
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** The unmodified bot: Kiwoom's own URL, Kiwoom's own protocol. */
export function kiwoomBot(dispatcher: Dispatcher, base = KIWOOM) {
  async function post(pathname: string, body: string, headers: Record<string, string> = {}): Promise<CallResult> {
    const res = await request(base + pathname, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
      dispatcher,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: parseJson(text) };
  }
  return {
    post,
    async token(appkey: string, secretkey: string): Promise<CallResult> {
      return post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey, secretkey }));
    },
    async call(pathname: string, apiId: string, token: string, body: unknown): Promise<CallResult> {
      return post(pathname, JSON.stringify(body), { 'api-id': apiId, authorization: `Bearer ${token}` });
    },
  };
}

/**
 * A bot that reaches Kiwoom's name through the sidecar as its HTTPS proxy, trusting only `caPem`,
 * already holding a sidecar token (the exchange is asserted).
 */
export async function proxiedBot(t: Test, proxyUrl: string, caPem: string, botId: string, botSecret: string) {
  const agent = new ProxyAgent({ uri: proxyUrl, requestTls: { ca: caPem } });
  t.teardown(() => agent.close());
  const bot = kiwoomBot(agent);
  const tok = await bot.token(botId, botSecret);
  t.equal(tok.json.return_code, 0, tok.text);
  return { bot, token: String(tok.json.token), tokenReply: tok };
}
