// Posture checks on where the bot trades from, the audit trail, and the
// sidecar's network surface: trusted source ranges, addresses seen lately, whether
// a proxy hides them, audit sink durability and verification, upstream TLS, the
// bot listener's address, and how long broker tokens stay live.
import { ageDays, cidrMatcher, DAY_MS, day, fail, isLoopback, listed, pass, POSTURE_LIMITS, type PostureCheck } from './posture-kit.js';

const L = POSTURE_LIMITS;

export const trustedSources: PostureCheck = {
  id: 'trusted-sources',
  area: 'sources',
  weight: 4,
  title: { ko: '신뢰하는 기계에서만 거래', en: 'Trading from trusted machines only' },
  recommendation: {
    anchor: 'trusted-machines',
    ko: '봇이 도는 기계의 주소를 고정하세요: 사이드카 설정 risk.location.botCidrs: { BOT-ID: [10.1.2.3/32] }. 다른 곳에서 온 호출은 고위험으로 판단되어 승인이나 잠금으로 이어집니다.',
    en: 'Pin the machines the bot runs on in the sidecar config: risk.location.botCidrs: { BOT-ID: [10.1.2.3/32] }. Calls from anywhere else then score as high risk and are held or locked.',
  },
  run(s) {
    const c = s.sources.trustedCidrs;
    if (c.length > 0) return pass(`신뢰 주소 범위가 설정되어 있습니다: ${listed(c)}.`, `trusted address ranges are configured: ${listed(c)}`);
    return fail(
      '신뢰 주소 범위가 없습니다: 봇 시크릿을 가진 누구나 어느 기계에서든 거래할 수 있습니다.',
      'no trusted address range is configured: anyone holding the bot secret can trade from any machine',
    );
  },
};

export const newSources: PostureCheck = {
  id: 'new-sources',
  area: 'sources',
  weight: 4,
  title: { ko: '새로운 곳에서의 접속', en: 'Logins from new places' },
  recommendation: {
    anchor: 'new-places',
    ko: 'GET /admin/v1/posture?bot=ID 의 주소를 확인하세요. 내 기계가 아니면 시크릿 유출로 보고 kguard lockdown --bot ID --reason "..." 한 뒤 시크릿과 키를 새로 받으세요.',
    en: 'Review the addresses (GET /admin/v1/posture?bot=ID). If one is not your machine, treat the secret as leaked: kguard lockdown --bot ID --reason "...", then issue a new secret and new keys.',
  },
  run(s) {
    const since = s.now - L.recentSourceDays * DAY_MS;
    const recent = s.sources.seen.filter((x) => Date.parse(x.lastSeenAt) >= since);
    const shown = (xs: typeof recent) => listed(xs.map((x) => `${x.address} (${day(x.lastSeenAt)})`));
    const total = s.sources.seen.length;
    if (s.sources.trustedCidrs.length > 0) {
      const inside = cidrMatcher(s.sources.trustedCidrs);
      const outside = recent.filter((x) => !inside(x.address));
      if (outside.length > 0)
        return fail(
          `최근 ${L.recentSourceDays}일 동안 신뢰 범위 밖의 주소에서 호출이 있었습니다: ${shown(outside)}.`,
          `calls came from outside the trusted ranges in the last ${L.recentSourceDays} days: ${shown(outside)}`,
        );
      return pass(
        `최근 ${L.recentSourceDays}일의 주소 ${recent.length}개가 모두 신뢰 범위 안입니다${recent.length ? `: ${shown(recent)}` : ''} (지금까지 본 주소 ${total}개).`,
        `all ${recent.length} addresses of the last ${L.recentSourceDays} days are inside the trusted ranges${recent.length ? `: ${shown(recent)}` : ''} (${total} seen in all)`,
      );
    }
    if (recent.length > 1)
      return fail(
        `최근 ${L.recentSourceDays}일 동안 ${recent.length}곳에서 호출이 있었습니다: ${shown(recent)}. 봇은 보통 한 기계에서 돕니다.`,
        `calls came from ${recent.length} places in the last ${L.recentSourceDays} days: ${shown(recent)}; a bot normally runs on one machine`,
      );
    return pass(
      recent.length === 1
        ? `최근 ${L.recentSourceDays}일 동안 한 곳에서만 호출했습니다: ${shown(recent)} (지금까지 본 주소 ${total}개).`
        : `최근 ${L.recentSourceDays}일 동안 호출이 없습니다 (지금까지 본 주소 ${total}개).`,
      recent.length === 1
        ? `one place in the last ${L.recentSourceDays} days: ${shown(recent)} (${total} seen in all)`
        : `no calls in the last ${L.recentSourceDays} days (${total} addresses seen in all)`,
    );
  },
};

/** The address Istio's sidecar (1.10 and later) connects to the application from, after redirecting inbound traffic. */
const MESH_INBOUND_ADDRESSES: ReadonlySet<string> = new Set(['127.0.0.6', '::ffff:127.0.0.6']);

export const visibleSources: PostureCheck = {
  id: 'visible-sources',
  area: 'sources',
  weight: 4,
  title: { ko: '봇의 실제 주소가 보임', en: "The bot's own address is visible" },
  recommendation: {
    anchor: 'visible-sources',
    ko: '서비스 메시가 봇 포트의 인바운드를 가로채지 않게 하세요 (Istio: traffic.sidecar.istio.io/excludeInboundPorts 에 봇 포트, 또는 TPROXY 모드). 그래야 사이드카가 봇 파드의 주소를 보고 위치·네트워크 판단이 작동합니다.',
    en: "Keep the service mesh from capturing the bot port's inbound traffic (Istio: the bot port in traffic.sidecar.istio.io/excludeInboundPorts, or TPROXY interception), so the sidecar sees the bot pod's address and the location and network detectors work.",
  },
  run(s) {
    const since = s.now - L.recentSourceDays * DAY_MS;
    const recent = s.sources.seen.filter((x) => Date.parse(x.lastSeenAt) >= since).map((x) => x.address);
    const mesh = recent.filter((a) => MESH_INBOUND_ADDRESSES.has(a.toLowerCase()));
    if (mesh.length > 0)
      return fail(
        `최근 ${L.recentSourceDays}일 동안 ${listed(mesh)}에서 호출이 왔습니다: 서비스 메시(Istio) 사이드카가 연결하는 주소입니다. 사이드카는 봇이 아니라 메시를 보므로 봇의 기계와 다른 기계를 구별하지 못합니다.`,
        `calls of the last ${L.recentSourceDays} days came from ${listed(mesh)}, the address a service mesh's sidecar (Istio) connects from: the sidecar sees the mesh, not the bot, so it cannot tell the bot's machine from any other`,
      );
    const host = s.listen.bot.host;
    if (!isLoopback(host) && recent.length > 0 && recent.every(isLoopback))
      return fail(
        `봇 포트는 다른 기계를 위해 ${host}에서 받는데, 최근 ${L.recentSourceDays}일의 호출이 모두 루프백(${listed(recent)})에서 왔습니다: 같은 기계의 프록시가 전달하고 있어 봇의 주소가 보이지 않습니다.`,
        `the bot port listens on ${host} for other machines, yet every call of the last ${L.recentSourceDays} days came from loopback (${listed(recent)}): a proxy on this machine forwards them, hiding the bot's address`,
      );
    if (isLoopback(host)) return pass(`봇 포트가 루프백에서 받으니 봇은 이 기계에서 돕니다.`, `the bot port listens on loopback: the bot runs on this machine`);
    return pass(
      recent.length > 0 ? `봇의 주소가 보입니다: ${listed(recent)}.` : `최근 ${L.recentSourceDays}일 동안 호출이 없습니다.`,
      recent.length > 0 ? `the bot's own addresses are visible: ${listed(recent)}` : `no calls in the last ${L.recentSourceDays} days`,
    );
  },
};

export const auditDurability: PostureCheck = {
  id: 'audit-durability',
  area: 'audit',
  weight: 6,
  title: { ko: '감사 기록의 내구성', en: 'Audit sink durability' },
  recommendation: {
    anchor: 'audit-sinks',
    ko: '감사 기록을 fsync 하는 파일 싱크(audit.sinks: [{ type: file }])에 두고, 다른 곳에 사본을 두세요 (redis-stream 싱크 또는 checkpoint.mirrorDir).',
    en: 'Keep the audit trail in an fsync-ing file sink (audit.sinks: [{ type: file }]) and a copy elsewhere (a redis-stream sink or checkpoint.mirrorDir).',
  },
  run(s) {
    const durable = s.audit.sinks.filter((k) => (k.type === 'file' && k.fsync !== 'none') || k.type === 'redis-stream');
    const offHost = s.audit.sinks.some((k) => k.type === 'redis-stream') || s.audit.checkpointMirror;
    const names = listed(s.audit.sinks.map((k) => `${k.id} (${k.type}${k.fsync ? `, fsync ${k.fsync}` : ''})`));
    if (durable.length === 0)
      return fail(
        `충돌이나 재시작을 견디는 감사 싱크가 없습니다: ${names}. 사고 뒤에 무슨 일이 있었는지 증명할 수 없습니다.`,
        `no audit sink survives a crash or restart: ${names}; after an incident nothing proves what happened`,
      );
    return pass(
      `감사 기록이 ${names}에 남습니다${offHost ? ' (다른 곳의 사본 있음)' : ' (다른 곳의 사본은 없음)'}.`,
      `the audit trail is kept durably in ${names}${offHost ? ' (with a copy elsewhere)' : ' (no copy elsewhere)'}`,
    );
  },
};

export const auditVerify: PostureCheck = {
  id: 'audit-verify',
  area: 'audit',
  weight: 4,
  title: { ko: '감사 기록 검증 주기', en: 'Time since the last audit verify' },
  recommendation: {
    anchor: 'audit-verify',
    ko: '매주 kguard audit verify 를 돌리고 (예: CronJob) 결과를 보관하세요. 실패는 기록이 바뀌었다는 뜻이니 사고로 다루세요.',
    en: 'Run kguard audit verify weekly (a CronJob, say) and keep its output; a failure means the trail was altered: treat it as an incident.',
  },
  run(s) {
    if (!s.audit.sinks.some((k) => k.type === 'file'))
      return fail('검증할 파일 감사 싱크가 없습니다.', 'there is no file audit sink that kguard audit verify could check');
    const v = s.audit.lastVerify;
    if (!v) return fail('kguard audit verify 를 돌린 기록이 없습니다.', 'kguard audit verify has never been recorded for this audit log');
    const age = ageDays(v.at, s.now);
    if (!v.ok)
      return fail(
        `마지막 감사 검증(${day(v.at)})이 실패했습니다: 기록이 바뀌었을 수 있습니다.`,
        `the last audit verify (${day(v.at)}) FAILED: the trail may have been altered`,
      );
    if (!(age <= L.auditVerifyMaxAgeDays))
      return fail(
        `마지막 감사 검증이 ${age}일 전입니다 (${day(v.at)}, 기준 ${L.auditVerifyMaxAgeDays}일).`,
        `the last audit verify was ${age} days ago (${day(v.at)}; limit ${L.auditVerifyMaxAgeDays})`,
      );
    const n = v.records !== undefined ? v.records : '?';
    return pass(`${age}일 전(${day(v.at)}) 감사 검증에 성공했습니다 (레코드 ${n}개).`, `the audit log verified ${age} days ago (${day(v.at)}; ${n} records)`);
  },
};

export const upstreamTls: PostureCheck = {
  id: 'upstream-tls',
  area: 'network',
  weight: 6,
  title: { ko: '키움으로 가는 TLS', en: 'Upstream TLS' },
  recommendation: {
    anchor: 'upstream-tls',
    ko: 'upstream.target 을 production(https://api.kiwoom.com)으로 두거나 https 인 upstream.url 을 쓰고, upstream.allowInsecureHttp 를 지우세요.',
    en: 'Set upstream.target to production (https://api.kiwoom.com) or an https upstream.url, and remove upstream.allowInsecureHttp.',
  },
  run(s) {
    const u = s.upstream;
    if (!u.url) return pass('업스트림은 루프백의 내장 시뮬레이터입니다 (실주문 없음).', 'the upstream is the built-in simulator on loopback (no real orders)');
    let url: URL;
    try {
      url = new URL(u.url);
    } catch {
      return fail(`업스트림 주소를 해석할 수 없습니다.`, 'the upstream URL cannot be parsed');
    }
    if (url.protocol === 'https:') return pass(`${url.origin} 로 TLS(https)를 씁니다.`, `the upstream ${url.origin} is reached over TLS (https)`);
    if (isLoopback(url.hostname))
      return pass(`업스트림 ${url.origin} 은 이 기계 안(루프백)에 있습니다.`, `the upstream ${url.origin} is on loopback: nothing crosses a network`);
    return fail(
      `업스트림 ${url.origin} 은 평문 HTTP 입니다: 키움 키와 토큰이 네트워크에 그대로 보입니다.`,
      `the upstream ${url.origin} is plain HTTP: Kiwoom keys and tokens cross the network in clear`,
    );
  },
};

export const listenAddress: PostureCheck = {
  id: 'listen-address',
  area: 'network',
  weight: 6,
  title: { ko: '사이드카의 수신 주소', en: 'Sidecar listening address' },
  recommendation: {
    anchor: 'listen-loopback',
    ko: '사이드카를 봇 옆에서 돌리고 listen.host: 127.0.0.1 을 유지하세요. 여러 봇이 공유하는 풀이라면 listen.tls 와 봇만 허용하는 NetworkPolicy 를 두세요.',
    en: 'Run the sidecar next to the bot and keep listen.host: 127.0.0.1; a pool shared over the network needs listen.tls and a NetworkPolicy that admits only the bots.',
  },
  run(s) {
    const { bot, admin } = s.listen;
    const adminNote =
      admin.enabled && !isLoopback(admin.host)
        ? {
            ko: ` 관리 포트 ${admin.host}:${admin.port}도 네트워크에 열려 있습니다${admin.tls ? ' (TLS)' : ' (TLS 없음)'}.`,
            en: `; the admin port ${admin.host}:${admin.port} is reachable too${admin.tls ? ' (TLS)' : ' (no TLS)'}`,
          }
        : { ko: '', en: '' };
    if (isLoopback(bot.host))
      return pass(`봇 포트는 루프백(${bot.host})에서만 받습니다.${adminNote.ko}`, `the bot port listens on loopback (${bot.host}) only${adminNote.en}`);
    if (bot.tls)
      return pass(
        `봇 포트가 ${bot.host}에서 TLS로 받습니다: 네트워크에서 닿으니 NetworkPolicy로 봇만 허용하세요.${adminNote.ko}`,
        `the bot port listens on ${bot.host} over TLS: reachable from the network, so admit only the bots${adminNote.en}`,
      );
    return fail(
      `봇 포트가 TLS 없이 ${bot.host}에서 받습니다: 같은 네트워크의 누구나 봇 시크릿과 토큰을 엿보거나 시도할 수 있습니다.${adminNote.ko}`,
      `the bot port listens on ${bot.host} without TLS: anyone on the network can sniff or try bot secrets and tokens${adminNote.en}`,
    );
  },
};

export const brokerTokenExposure: PostureCheck = {
  id: 'broker-token-exposure',
  area: 'keys',
  weight: 6,
  title: { ko: '브로커 토큰 노출 시간', en: 'Broker-token exposure' },
  recommendation: {
    anchor: 'broker-tokens',
    ko: 'brokerTokens.idleRevokeMs 를 0으로 두세요 (호출이 끝나면 바로 폐기). 임대 없이 살아 있는 토큰이 있으면 kguard_broker_token_revoke_failures_total 과 키움으로 나가는 경로를 확인하세요.',
    en: 'Keep brokerTokens.idleRevokeMs at 0 (revoke as soon as no call needs the token); if a token stays live with no lease, check kguard_broker_token_revoke_failures_total and the egress to Kiwoom.',
  },
  run(s) {
    const b = s.brokerTokens;
    const live = b.sessions.filter((x) => x.state === 'live');
    const stuck = live.filter((x) => x.leases === 0 && (x.ageMs ?? 0) > b.idleRevokeMs + L.stuckSessionGraceMs);
    const secs = b.liveSecondsTotal < 10 ? b.liveSecondsTotal.toFixed(1) : String(Math.round(b.liveSecondsTotal));
    const facts = {
      ko: `이 키의 토큰이 이 레플리카에서 살아 있던 시간 합계 ${secs}초, 지금 살아 있는 세션 ${live.length}개`,
      en: `tokens of this key were live ${secs} s in all on this replica; ${live.length} live session(s) now`,
    };
    if (b.idleRevokeMs > L.maxIdleRevokeMs)
      return fail(
        `호출이 끝난 뒤에도 토큰을 ${Math.round(b.idleRevokeMs / 1000)}초 동안 남겨 둡니다 (brokerTokens.idleRevokeMs, 기준 ${L.maxIdleRevokeMs / 1000}초). ${facts.ko}.`,
        `tokens are kept ${Math.round(b.idleRevokeMs / 1000)} s after their last call (brokerTokens.idleRevokeMs; limit ${L.maxIdleRevokeMs / 1000} s); ${facts.en}`,
      );
    if (stuck.length > 0) {
      const oldest = Math.round(Math.max(...stuck.map((x) => x.ageMs ?? 0)) / 1000);
      return fail(
        `쓰는 호출이 없는데 ${oldest}초째 살아 있는 토큰이 있습니다: 폐기가 실패하고 있을 수 있습니다. ${facts.ko}.`,
        `a token has been live ${oldest} s with no call holding it: revocation may be failing; ${facts.en}`,
      );
    }
    return pass(`토큰은 호출이 쓰는 동안만 살아 있습니다. ${facts.ko}.`, `tokens live only while calls use them; ${facts.en}`);
  },
};
