// A digest of the configuration a replica runs, for kguard_config_info: replicas
// of one deployment should run one configuration, and a rollout that stalled
// half-way, or a key such as state.redis.keyPrefix changed on one replica only,
// splits them silently (separate governor windows, lockdown flags and broker
// ledgers). The config holds no secret itself (only file names), and the
// digest is a hash of it. Left out: where the file was read from (the same
// content mounted at another path is the same configuration) and the name a
// replica gives itself (audit.replicaId, different on each by design).
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import type { Config } from './config.js';

/** The first 16 hex digits of SHA-256 over the canonical configuration, without `configFile` and `audit.replicaId`. */
export function configDigest(config: Config): string {
  const { configFile: _where, ...what } = config;
  const audit = what.audit as Record<string, unknown> | undefined;
  const shared = audit && 'replicaId' in audit ? { ...what, audit: { ...audit, replicaId: undefined } } : what;
  return createHash('sha256').update(canonicalJson(shared)).digest('hex').slice(0, 16);
}
