// A small recording Kiwoom for tests of one key's upstream link and hub: it
// answers LOGIN, CNSRLST, REG and REMOVE as Kiwoom does, and hands every other
// frame to the test, which answers it (or holds it back) itself.
import type { Test } from 'tap';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { KeyHub } from '../../proxy/kiwoom/realtime/hub.js';
import { UpstreamLink, type LinkOptions } from '../../proxy/kiwoom/realtime/link.js';

const logger = pino({ level: 'silent' });

export interface RecordingKiwoom {
  readonly port: number;
  /** LOGIN frames answered so far. */
  logins(): number;
}

export async function startRecordingKiwoom(
  t: Test,
  onFrame: (ws: WebSocket, frame: Record<string, unknown>) => void,
  conditions: [string, string][] = [['1', 'a']],
): Promise<RecordingKiwoom> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  let logins = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') {
        logins++;
        ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '' }));
      } else if (f.trnm === 'CNSRLST') ws.send(JSON.stringify({ trnm: 'CNSRLST', return_code: 0, return_msg: '', data: conditions }));
      else if (f.trnm === 'REG' || f.trnm === 'REMOVE') ws.send(JSON.stringify({ trnm: f.trnm, return_code: 0, return_msg: '' }));
      else onFrame(ws, f);
    });
  });
  return { port: (wss.address() as AddressInfo).port, logins: () => logins };
}

/** Key k1's link and hub over the recording Kiwoom; the hub replays after every login (as the service does). */
export function hubOver(
  t: Test,
  kiwoom: RecordingKiwoom,
  link: Partial<LinkOptions> = {},
  onUp: () => void = () => undefined,
): { hub: KeyHub; link: UpstreamLink } {
  let hub: KeyHub | undefined;
  const upstream = new UpstreamLink(
    {
      url: `ws://127.0.0.1:${kiwoom.port}`,
      connectTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      reconnectBaseMs: 20,
      reconnectMaxMs: 200,
      maxFrameBytes: 1 << 20,
      ...link,
    },
    async () => ({ token: Buffer.from('upstream-token'), key: 'k1', fingerprint: 'fp', renewAt: Date.now() + 3_600_000, release() {}, invalidate() {} }),
    {
      push: (f) => hub?.route(f),
      up: () => {
        onUp();
        void hub?.replay();
      },
      down: () => undefined,
    },
    logger,
  );
  hub = new KeyHub('k1', upstream, { lingerMs: 60_000, onIdle: () => undefined }, logger);
  const made = hub;
  t.teardown(() => made.close());
  upstream.start();
  return { hub, link: upstream };
}
