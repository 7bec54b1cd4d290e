// Kubernetes hands every container the addresses of the Services in its
// namespace (enableServiceLinks, on by default), named after the Service:
// one called kguard-redis — the Redis release the manifests name — yields
// KGUARD_REDIS_SERVICE_HOST=10.96.0.7, KGUARD_REDIS_PORT=tcp://10.96.0.7:6379
// and kin; one called kguard, KGUARD_SERVICE_HOST and KGUARD_PORT. Docker's
// legacy --link writes the same shapes. They are not settings: read as
// KGUARD_* overrides, each was an unknown key and the pod never started.
// A variable is taken for a link only when its name and its value both have
// a link's shape, so a mistyped setting (KGUARD_LISTEN_PORT=8081) is still
// refused as an unknown key.
import { isIP } from 'node:net';

const PORT_NUMBER = /^\d{1,5}$/;
const PROTOCOL = /^(tcp|udp|sctp)$/;
const LINK_URL = /^(tcp|udp|sctp):\/\/(\[[0-9a-fA-F:.]+\]|[0-9.]+):\d{1,5}$/;
const isAddress = (v: string) => isIP(v) !== 0;
const matches = (re: RegExp) => (v: string) => re.test(v);

/** Name suffix and value shape of each variable the kubelet (pkg/kubelet/envvars) writes for a Service. */
const LINK_SHAPES: readonly [RegExp, (value: string) => boolean][] = [
  [/_SERVICE_HOST$/, isAddress],
  [/_SERVICE_PORT(_[A-Z0-9_]+)?$/, matches(PORT_NUMBER)],
  [/_PORT$/, matches(LINK_URL)],
  [/_PORT_\d{1,5}_(TCP|UDP|SCTP)$/, matches(LINK_URL)],
  [/_PORT_\d{1,5}_(TCP|UDP|SCTP)_PROTO$/, matches(PROTOCOL)],
  [/_PORT_\d{1,5}_(TCP|UDP|SCTP)_PORT$/, matches(PORT_NUMBER)],
  [/_PORT_\d{1,5}_(TCP|UDP|SCTP)_ADDR$/, isAddress],
];

/** True for a KGUARD_* variable that is a Kubernetes (or Docker) service link, not a setting. */
export function isServiceLink(name: string, value: string): boolean {
  // Settings nest with `__`; a Service's name (a DNS label, `-` written `_`) gives single underscores.
  if (!/^KGUARD_[A-Z0-9_]+$/.test(name) || name.includes('__')) return false;
  return LINK_SHAPES.some(([suffix, valueOk]) => suffix.test(name) && valueOk(value));
}
