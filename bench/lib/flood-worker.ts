// Child-process entry for bench/flood.ts: one bot calling as fast as it can
// (a retry loop without back-off), apart from the bench's own measuring
// client so that its CPU does not delay the measured calls.
// `node flood-worker.js <url> <token> <connections> <ms>`; sends { calls, codes } over IPC.
import { Pool } from 'undici';

const [url, token, connections, ms] = process.argv.slice(2);
const pool = new Pool(url!, { connections: Number(connections), keepAliveTimeout: 60_000 });
const end = performance.now() + Number(ms);
const codes: Record<string, number> = {};
let calls = 0;
await Promise.all(
  Array.from({ length: Number(connections) }, async () => {
    while (performance.now() < end) {
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/api/dostk/stkinfo',
          body: '{"stk_cd":"005930"}',
          headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
        });
        const json = (await res.body.json()) as Record<string, unknown>;
        const code = json.return_code === 0 ? 'ok' : (/\[(KG\d{4})/.exec(String(json.return_msg))?.[1] ?? `rc${String(json.return_code)}`);
        codes[code] = (codes[code] ?? 0) + 1;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        codes[code] = (codes[code] ?? 0) + 1;
      }
      calls++;
    }
  }),
);
await pool.close();
process.send?.({ calls, codes });
process.disconnect?.();
