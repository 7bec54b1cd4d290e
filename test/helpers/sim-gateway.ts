// A BrokerGateway for tests, over the Kiwoom simulator with plain undici:
// credentials are decrypted from the real Vault (purpose 'lockdown'), a real
// token is issued (POST /oauth2/token) per session and revoked afterwards
// (POST /oauth2/revoke), and TRs go over real HTTP with cont-yn/next-key.
import { Pool } from 'undici';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import type { CallTr } from '../../proxy/kiwoom/gateway.js';
import { kiwoomSession } from '../../proxy/response/kiwoom-session.js';
import type { BrokerGateway } from '../../proxy/response/types.js';
import type { Vault } from '../../proxy/vault/types.js';

export interface SimGateway extends BrokerGateway {
  readonly issued: number;
  readonly revoked: number;
  close(): Promise<void>;
}

function jsonWithSecrets(fields: Record<string, string | Buffer>): Buffer {
  // Built as bytes so the secret never becomes a long-lived string here.
  const parts: Buffer[] = [Buffer.from('{')];
  Object.entries(fields).forEach(([k, v], i) => {
    parts.push(Buffer.from(`${i ? ',' : ''}${JSON.stringify(k)}:"`), typeof v === 'string' ? Buffer.from(v) : v, Buffer.from('"'));
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

export function simGateway(simUrl: string, vault: Vault): SimGateway {
  const pool = new Pool(simUrl, { connections: 32 });
  let issued = 0,
    revoked = 0;

  async function post(path: string, body: Buffer, headers: Record<string, string> = {}) {
    const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json;charset=UTF-8', ...headers }, body });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
  }

  return {
    get issued() {
      return issued;
    },
    get revoked() {
      return revoked;
    },
    async withSession(botId, fn) {
      const token = await vault.withCredentials(botId, 'lockdown', async (c) => {
        const body = jsonWithSecrets({ grant_type: 'client_credentials', appkey: c.appKey, secretkey: c.secretKey });
        try {
          const r = await post('/oauth2/token', body);
          if (r.json.return_code !== 0) throw new Error(`token issue failed: ${String(r.json.return_code)}`);
          issued++;
          return Buffer.from(String(r.json.token));
        } finally {
          body.fill(0);
        }
      });
      const call: CallTr = async (apiId, reqBody, paging) => {
        const entry = lookupApi(apiId);
        if (!entry) throw new Error(`unknown api-id ${apiId}`);
        const headers: Record<string, string> = { 'api-id': apiId, authorization: `Bearer ${token.toString()}` };
        if (paging?.contYn) headers['cont-yn'] = paging.contYn;
        if (paging?.nextKey) headers['next-key'] = paging.nextKey;
        const r = await post(entry.path, Buffer.from(JSON.stringify(reqBody)), headers);
        const h = (n: string) => (typeof r.headers[n] === 'string' ? (r.headers[n] as string) : undefined);
        return { status: r.status, json: r.json, contYn: h('cont-yn'), nextKey: h('next-key') };
      };
      try {
        return await fn(kiwoomSession(call));
      } finally {
        await vault
          .withCredentials(botId, 'revoke', async (c) => {
            const body = jsonWithSecrets({ appkey: c.appKey, secretkey: c.secretKey, token });
            try {
              const r = await post('/oauth2/revoke', body);
              if (r.json.return_code === 0) revoked++;
            } finally {
              body.fill(0);
            }
          })
          .finally(() => token.fill(0));
      }
    },
    close: () => pool.close(),
  };
}
