// kguard ca init | issue | show: the local CA for transparent mode. init
// creates it once (never overwrites without --force) and prints the path of
// the public certificate bots trust; issue writes one leaf certificate and
// its key (0600) to files; show prints the CA's fingerprint and expiry.
import { writeFileAtomic } from '../common/fsutil.js';
import { initCa, issueLeaf, loadCa } from '../server/transparent/ca.js';
import { configFromFlags, printJson } from './args.js';
import type { Handler } from './spec.js';
import { UsageError } from './usage.js';

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
  return Number(v);
}

export const init: Handler = async (ctx) => {
  const config = await configFromFlags(ctx.values, ctx.io);
  const days = positiveInt('days', ctx.str('days'), 1825);
  const { created, ca } = await initCa(config.dataDir, { dir: config.transparent.caDir, lifetimeDays: days, force: ctx.bool('force') });
  const summary = { created, certFile: ca.files.certFile, keyFile: ca.files.keyFile, fingerprint256: ca.fingerprint256, notAfter: ca.notAfter.toISOString() };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else {
    ctx.io.stdout.write(`${created ? 'local CA created' : 'local CA already exists (kept; --force replaces it)'}\n`);
    ctx.io.stdout.write(`  bots trust    ${ca.files.certFile}\n`);
    ctx.io.stdout.write(`  key (0600)    ${ca.files.keyFile}\n`);
    ctx.io.stdout.write(`  fingerprint   ${ca.fingerprint256}\n  valid until   ${summary.notAfter}\n`);
  }
  return 0;
};

export const show: Handler = async (ctx) => {
  const config = await configFromFlags(ctx.values, ctx.io);
  const ca = await loadCa(config.dataDir, { dir: config.transparent.caDir });
  const summary = { certFile: ca.files.certFile, fingerprint256: ca.fingerprint256, subject: ca.cert.subject, notAfter: ca.notAfter.toISOString() };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else
    ctx.io.stdout.write(
      `${summary.certFile}\n  subject       ${summary.subject}\n  fingerprint   ${summary.fingerprint256}\n  valid until   ${summary.notAfter}\n`,
    );
  return 0;
};

export const issue: Handler = async (ctx) => {
  const config = await configFromFlags(ctx.values, ctx.io);
  const certOut = ctx.str('cert-out')!;
  const keyOut = ctx.str('key-out')!;
  const hours = positiveInt('hours', ctx.str('hours'), Math.max(1, Math.round(config.transparent.leafLifetimeMs / 3_600_000)));
  const extra = ctx
    .strs('name')
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean);
  const names = extra.length > 0 ? extra : [...config.transparent.hosts, ...config.transparent.names];
  const ca = await loadCa(config.dataDir, { dir: config.transparent.caDir });
  const leaf = await issueLeaf(ca, names, hours * 3_600_000);
  try {
    await writeFileAtomic(keyOut, leaf.key, 0o600);
  } finally {
    leaf.key.fill(0);
  }
  await writeFileAtomic(certOut, leaf.certPem, 0o644);
  const summary = { certFile: certOut, keyFile: keyOut, names, serialNumber: leaf.serialNumber, notAfter: leaf.notAfter.toISOString() };
  if (ctx.bool('json')) printJson(ctx.io, summary);
  else ctx.io.stdout.write(`leaf certificate for ${names.join(', ')} written to ${certOut} (key ${keyOut}, mode 0600), valid until ${summary.notAfter}\n`);
  return 0;
};
