// Slow clients are cut off at the configured limits, not at Node's 30 s
// sweep: a socket that sends nothing, one that dribbles its headers, and one
// that stalls its body each get a Kiwoom-shaped 408 and are closed, with
// limits.headersTimeoutMs / requestTimeoutMs set low. (Node checks those
// time-outs only every connectionsCheckingInterval, 30 s by default, so
// without a matching interval a few hundred sockets hold every connection
// slot for 30 s at a time, whatever the configuration says.)
import t from 'tap';
import type { Test } from 'tap';
import net from 'node:net';
import { startHarness, type Harness } from '../helpers/harness.js';

const HEADERS_MS = 300;
const REQUEST_MS = 600;
/** Generous: 25 times the request time-out, yet below Node's default 30 s sweep. */
const DEADLINE_MS = 15_000;

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { limits: { headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS } } });
});
t.teardown(() => h.close());

/** Opens a socket, runs `drive` on it, resolves with what the server wrote once it closed, or `undefined` past the deadline. */
function slowClient(drive: (s: net.Socket) => void): Promise<string | undefined> {
  const { port } = new URL(h.url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => {
      clearInterval(timer);
      sock.destroy();
      resolve(undefined);
    }, DEADLINE_MS);
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(deadline);
      clearInterval(timer);
      resolve(out);
    });
    sock.on('connect', () => {
      drive(sock);
      // Dribbles one header line every 100 ms while `drive` asked for it.
      if ((sock as net.Socket & { dribble?: boolean }).dribble)
        timer = setInterval(() => {
          if (!sock.destroyed) sock.write('x-slow: 1\r\n');
        }, 100);
    });
  });
}

function check(t: Test, out: string | undefined, what: string): void {
  t.not(out, undefined, `${what}: closed by the server (not still open after ${DEADLINE_MS} ms)`);
  if (out === undefined) return;
  t.match(out, /^HTTP\/1\.1 408 /, `${what}: 408`);
  t.match(out, /"return_code":\d+/, `${what}: Kiwoom-shaped`);
  t.match(out, /KG1013/, `${what}: names KG1013`);
}

// All three at once, right after start-up: the way a slowloris holds slots, and clear of Node's first 30 s sweep.
t.test('slow clients are each answered 408 and closed at the configured limits', async (t) => {
  const [idle, dribble, stalled] = await Promise.all([
    slowClient(() => undefined),
    slowClient((s) => {
      s.write('POST /oauth2/token HTTP/1.1\r\nHost: x\r\n');
      (s as net.Socket & { dribble?: boolean }).dribble = true;
    }),
    slowClient((s) => {
      s.write('POST /oauth2/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nContent-Length: 100\r\n\r\n{');
    }),
  ]);
  check(t, idle, 'a socket that sends nothing');
  check(t, dribble, 'headers that never end');
  check(t, stalled, 'a body that stalls');
});
