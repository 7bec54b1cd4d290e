// A bot that sends a real Kiwoom app key to /oauth2/token (or /oauth2/revoke)
// holds exactly what the sidecar exists to keep out of bots' hands. The
// exchange refuses it (KG2013, never forwarded); this reports it: a counter,
// an audit record with only a keyed fingerprint of the key (an investigator
// can match a known key with `kguard audit hash`), and a security alert to
// the owners and admins, at most once per source address per alert cooldown.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { sourceKey } from '../../admin/auth-limiter.js';
import { hmacString } from '../../audit/keys.js';
import type { Auditor } from '../../audit/types.js';
import { counter } from '../../common/metrics.js';
import { ALERT_TEXT } from '../../response/alert-text.js';
import type { Responder } from '../../response/index.js';
import type { RequestContext } from '../context.js';

export type RealKeyReporter = (ctx: RequestContext, appkey: string) => void;

export function createRealKeyReporter(deps: {
  auditor: Pick<Auditor, 'append'>;
  fingerprintKey: Buffer;
  responder: Pick<Responder, 'onSecurityAlert' | 'language'>;
  registry: Registry;
  logger: Logger;
}): RealKeyReporter {
  const presented = counter(deps.registry, 'kguard_real_key_presented_total', 'Token exchanges refused because a bot presented a real Kiwoom app key', [
    'route',
  ]);
  return (ctx, appkey) => {
    const fingerprint = hmacString(appkey, deps.fingerprintKey);
    presented.inc({ route: ctx.route });
    deps.logger.error(
      { requestId: ctx.id, route: ctx.route, sourceIp: ctx.sourceIp, keyFingerprint: fingerprint },
      'a real Kiwoom app key was presented by a bot: refused, not forwarded; rotate that key',
    );
    deps.auditor
      .append(
        { type: 'security.real_key_presented', requestId: ctx.id, route: ctx.route, sourceIp: ctx.sourceIp, keyFingerprint: fingerprint },
        { durability: 'write' },
      )
      .catch((err) => deps.logger.error({ err: String(err), requestId: ctx.id }, 'audit of a real-key refusal failed'));
    // The exchange needs no secret: anyone can send key-shaped values, each its own fingerprint. The alert's
    // cool-down is per source address (IPv6 by /64), so a flood of them pages once; each is still audited.
    deps.responder
      .onSecurityAlert(`source:${sourceKey(ctx.sourceIp)}`, {
        event: 'real_key_presented',
        severity: 'CRITICAL',
        audience: ['owner', 'admin'],
        ...ALERT_TEXT[deps.responder.language].realKey({
          sourceIp: ctx.sourceIp,
          path: ctx.route === 'revoke' ? '/oauth2/revoke' : '/oauth2/token',
          fingerprint,
        }),
        details: { sourceIp: ctx.sourceIp, keyFingerprint: fingerprint, requestId: ctx.id },
      })
      .catch((err) => deps.logger.warn({ err: String(err) }, 'real-key alert failed'));
  };
}
