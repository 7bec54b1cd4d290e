// The command registry: every kguard command, its flags with descriptions,
// its subcommands and its handler. The dispatcher (runner.ts) and the help
// printer (help.ts) both read this table. Handlers are loaded on demand, so
// `kguard policy check` does not load a server's worth of modules.
import { GuardError } from '../common/errors.js';
import { admins, approvals, bots, doctor, incidents, lockdown, state } from './commands-admin.js';
import { CONFIG_FLAGS, JSON_FLAG, LANG_FLAG, lazy, type Command } from './spec.js';
import { UsageError } from './usage.js';

const NUMBER = (help: string) => ({ type: 'string', value: 'N', help }) as const;

const serve: Command = {
  name: 'serve',
  summary: 'run the sidecar (embedded default: simulator, local keyring, memory state); SIGTERM drains',
  common: CONFIG_FLAGS,
  flags: {
    redis: { type: 'string', value: 'URL', help: 'shared state on Redis (state.backend redis, state.redis.url)' },
    port: NUMBER('port bots connect to (listen.port)'),
    'admin-port': NUMBER('port of the admin API, health and metrics (admin.port)'),
    policy: { type: 'string', value: 'FILE', help: 'policy file (policy.file)' },
  },
  run: lazy(() => import('./serve.js'), 'serve'),
};

const LIMIT_HELP = "overrides the simulator's per-app-key limit";
const sim: Command = {
  name: 'sim',
  summary: 'run the Kiwoom REST simulator on loopback, with its control API under /_sim/',
  flags: {
    port: NUMBER('port to listen on (default 0: any free port)'),
    host: { type: 'string', value: 'IP', help: 'address to listen on (default 127.0.0.1)' },
    'page-size': NUMBER('rows per page of paged answers (default 20)'),
    'allow-remote': { type: 'boolean', help: 'allow a non-loopback --host (the simulator has no real authentication)' },
    'no-control': { type: 'boolean', help: 'no control API' },
    ideal: { type: 'boolean', help: 'a fresh independent token per issue, no limits, no address binding (benchmarks)' },
    'bind-token-to-address': { type: 'boolean', help: 'refuse a token used from another address, as Kiwoom does ([8010])' },
    'rate-limit-status': { type: 'string', choices: ['200', '429'], help: 'HTTP status of rate-limit refusals (default 200, as Kiwoom)' },
    'token-per-second': NUMBER(`au10001 issues per second; ${LIMIT_HELP}`),
    'per-api-id-per-second': NUMBER(`calls per api-id per second; ${LIMIT_HELP}`),
    'total-per-second': NUMBER(`all TR calls per second; ${LIMIT_HELP}`),
    'order-group-per-second': NUMBER(`orders per second; ${LIMIT_HELP}`),
    'max-symbols': NUMBER('stock codes accepted in one stk_cd'),
  },
  notes: [
    'By default the simulator behaves like Kiwoom: one shared token per app key while valid and',
    'per-app-key limits (au10001 2/s, each api-id 5/s, all TRs 20/s, orders 5/s, 100 codes per stk_cd).',
  ],
  run: lazy(() => import('./sim.js'), 'sim'),
};

const policy: Command = {
  name: 'policy',
  summary: 'policy files',
  common: {
    ...JSON_FLAG,
    lang: {
      type: 'string',
      choices: ['ko', 'en'],
      help: "language of the output, and of rule reasons when the policy names none (default: the policy's language for test/explain, else the configured one, Korean unless set; --json is not translated)",
    },
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      help: "the sidecar's configuration, for its language (default: KGUARD_CONFIG, else the embedded default)",
    },
  },
  sub: [
    { name: 'check', args: 'FILE...', summary: 'validate policy files; errors as file:line:column', run: lazy(() => import('./policy.js'), 'check') },
    { name: 'test', args: 'FILE CASES.yaml', summary: 'run table-driven cases against a policy', run: lazy(() => import('./policy.js'), 'test') },
    {
      name: 'explain',
      args: 'FILE',
      summary: 'show every rule a call meets and what each decided',
      flags: { call: { type: 'string', value: 'CALL.json', required: true, help: 'the call to explain (api-id, body, bot, account)' } },
      run: lazy(() => import('./policy.js'), 'explain'),
    },
    {
      name: 'diff',
      args: 'OLD NEW',
      summary: 'what a change loosens or tightens',
      flags: { 'fail-on-loosen': { type: 'boolean', help: 'exit 3 when the change loosens anything' } },
      run: lazy(() => import('./policy.js'), 'diff'),
    },
    { name: 'schema', summary: 'print the policy JSON Schema (policies/schema.json)', run: lazy(() => import('./policy.js'), 'schema') },
  ],
};

const audit: Command = {
  name: 'audit',
  summary: 'the tamper-evident audit trail',
  common: { ...CONFIG_FLAGS, ...LANG_FLAG },
  sub: [
    {
      name: 'verify',
      args: '[FILE_OR_DIR]',
      summary: 'check the hash chain and signed checkpoints (default: the configured log directory)',
      flags: {
        from: NUMBER('start at this sequence number'),
        checkpoints: { type: 'string', value: 'DIR', multiple: true, help: 'also check against checkpoint mirrors (directories, files, or receipts)' },
        'public-key': {
          type: 'string',
          value: 'FILE',
          multiple: true,
          help: 'a trusted signing public key; repeat for keys handed to you out of band (default: next to the signing key, with its key history)',
        },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./audit.js'), 'verify'),
    },
    {
      name: 'hash',
      summary: 'the keyed fingerprint of a value read from stdin, as the audit trail records it',
      flags: {
        'hmac-key': { type: 'string', value: 'FILE', help: 'the audit HMAC key (default: from the configuration)' },
        raw: { type: 'boolean', help: 'keep a trailing newline (dropped by default)' },
      },
      strayArgs: () => new UsageError('kguard audit hash reads the value from stdin, not from arguments (they end up in shell history)'),
      run: lazy(() => import('./audit.js'), 'hash'),
    },
    {
      name: 'receipt',
      args: '[SEQ]',
      summary: "one order's receipt with its inclusion proof (JSON), or --verify a receipt",
      flags: {
        dir: { type: 'string', value: 'DIR', help: 'the log directory (default: the configured one)' },
        verify: { type: 'string', value: 'FILE', help: 'verify this receipt instead of building one' },
        'public-key': { type: 'string', value: 'FILE', multiple: true, help: 'a trusted signing public key, for --verify; repeatable' },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./audit.js'), 'receipt'),
    },
    {
      name: 'keygen',
      summary: 'create missing audit signing and HMAC keys (never overwrites)',
      flags: JSON_FLAG,
      run: lazy(() => import('./audit.js'), 'keygen'),
    },
    {
      name: 'rotate-signing-key',
      summary: 'replace the audit signing key; the next start hands the log over to it, signed by the old key',
      flags: JSON_FLAG,
      notes: [
        'Keeps the current key as <signingKeyFile>.retiring until every file sink has handed over at the',
        'next start (the running sidecar signs with the old key until then), and lists every public key in',
        'audit-signing-keys.jsonl beside it. Prints the new public key and its key id: give them to auditors.',
        'The HMAC key is not rotated (earlier keyed hashes would become unsearchable).',
      ],
      run: lazy(() => import('./audit.js'), 'rotateSigningKey'),
    },
  ],
};

const risk: Command = {
  name: 'risk',
  summary: 'the risk engine: why a call scored what it did',
  common: CONFIG_FLAGS,
  sub: [
    {
      name: 'explain',
      args: '<request-id>',
      summary: "each detector's score, weight and contribution for one call, and the learned model's verdict, from the audit trail",
      flags: {
        dir: { type: 'string', value: 'DIR', help: 'the audit log directory (default: the configured file sink)' },
        lang: { type: 'string', choices: ['ko', 'en'], help: 'language of the text (default: the configured language)' },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./risk.js'), 'explain'),
    },
  ],
};

// A credential-input error (KG4006), not a usage error; the arguments are not echoed.
const strayKeys = (count: number) => new GuardError('KG4006', `${count} unexpected argument(s); keys are never taken from arguments`);
const BOT = { type: 'string', value: 'ID', required: true, help: 'the bot whose credentials these are' } as const;
const FROM_FILE = {
  type: 'string',
  value: 'FILE',
  help: 'read the keys from a 0600 file (two lines, or JSON {"appkey","secretkey"}) instead of stdin',
} as const;
const keys: Command = {
  name: 'keys',
  summary: 'Kiwoom credentials, envelope-encrypted (keys from stdin or a 0600 file, never argv)',
  common: { ...CONFIG_FLAGS, ...LANG_FLAG },
  sub: [
    {
      name: 'import',
      summary: "store a bot's app key and secret key (stdin: app key line, secret key line)",
      flags: {
        bot: BOT,
        account: { type: 'string', value: 'ACCOUNT', required: true, help: 'the Kiwoom account number' },
        'from-file': FROM_FILE,
        ...JSON_FLAG,
      },
      strayArgs: strayKeys,
      run: lazy(() => import('./keys.js'), 'importKeys'),
    },
    { name: 'list', summary: 'credential metadata (never a key)', flags: JSON_FLAG, strayArgs: strayKeys, run: lazy(() => import('./keys.js'), 'list') },
    {
      name: 'rotate',
      summary: 'a new key version for a bot; the previous ciphertext is destroyed',
      flags: {
        bot: BOT,
        account: { type: 'string', value: 'ACCOUNT', help: 'a new account number (default: unchanged)' },
        'from-file': FROM_FILE,
        ...JSON_FLAG,
      },
      strayArgs: strayKeys,
      run: lazy(() => import('./keys.js'), 'rotate'),
    },
    {
      name: 'rewrap',
      summary: 'wrap every record under the target key provider; resumable',
      flags: {
        to: { type: 'string', required: true, choices: ['local', 'aws-kms', 'pkcs11'], help: 'the key provider to wrap under' },
        'new-master-key': { type: 'boolean', help: 'first add a new local master key version (--to local only)' },
        ...JSON_FLAG,
      },
      strayArgs: strayKeys,
      run: lazy(() => import('./keys.js'), 'rewrap'),
    },
    {
      name: 'disable',
      summary: "refuse to decrypt a bot's credentials",
      flags: { bot: BOT },
      strayArgs: strayKeys,
      run: lazy(() => import('./keys.js'), 'disable'),
    },
    { name: 'enable', summary: "allow a bot's credentials again", flags: { bot: BOT }, strayArgs: strayKeys, run: lazy(() => import('./keys.js'), 'enable') },
    {
      name: 'destroy',
      summary: 'overwrite and delete the credential record of an id no bot is registered under (a registered bot: bots remove)',
      flags: { bot: BOT, ...JSON_FLAG },
      strayArgs: strayKeys,
      run: lazy(() => import('./keys.js'), 'destroy'),
    },
  ],
  notes: ['Arguments are refused and never echoed: someone may have pasted a key as one.'],
};
const ca: Command = {
  name: 'ca',
  summary: 'the local CA for transparent mode (bots that hard-code https://api.kiwoom.com)',
  common: {
    ...CONFIG_FLAGS,
    ...JSON_FLAG,
    ...LANG_FLAG,
    'key-provider': {
      type: 'boolean',
      help: 'the CA key is sealed by the vault key provider (ca.key.sealed), as transparent.caKeyStore: key-provider',
    },
  },
  sub: [
    {
      name: 'init',
      summary: 'create the local CA (ECDSA P-256; key 0600 in the data directory, or sealed by the key provider) and print the certificate bots trust',
      flags: {
        force: { type: 'boolean', help: 'replace an existing CA (every bot must then trust the new certificate)' },
        days: NUMBER('lifetime of the CA certificate in days (default 1825)'),
      },
      run: lazy(() => import('./ca.js'), 'init'),
    },
    { name: 'show', summary: "the CA certificate's path, fingerprint and expiry", run: lazy(() => import('./ca.js'), 'show') },
    {
      name: 'issue',
      summary: "write a leaf certificate for Kiwoom's names and the sidecar's own (transparent.hosts, transparent.names)",
      flags: {
        'cert-out': { type: 'string', value: 'FILE', required: true, help: 'the certificate chain (leaf, then the CA), PEM' },
        'key-out': { type: 'string', value: 'FILE', required: true, help: 'the private key, PEM, written with mode 0600' },
        name: { type: 'string', value: 'NAME', multiple: true, help: 'a DNS name or IP address instead of the configured ones; comma lists too' },
        hours: NUMBER('lifetime in hours (default transparent.leafLifetimeMs)'),
      },
      run: lazy(() => import('./ca.js'), 'issue'),
    },
  ],
  notes: [
    'The running sidecar issues its own short-lived leaf in memory and renews it before expiry;',
    'issue is for a certificate another process serves. The CA key never leaves the data directory in clear;',
    'with --key-provider (or transparent.caKeyStore: key-provider) only its sealed form is written.',
  ],
};
export const ROOT: Command = {
  name: 'kguard',
  summary: 'kiwoom-guard: a zero-trust sidecar between trading bots and the Kiwoom Securities REST API',
  sub: [
    serve,
    bots,
    keys,
    policy,
    audit,
    risk,
    admins,
    approvals,
    lockdown,
    incidents,
    state,
    doctor,
    ca,
    sim,
    {
      name: 'version',
      summary: "print kiwoom-guard's version (also: kguard --version)",
      flags: JSON_FLAG,
      run: lazy(() => import('./meta.js'), 'version'),
    },
    {
      name: 'help',
      args: '[COMMAND]...',
      summary: 'print the usage of a command (the same as kguard COMMAND... --help)',
      run: lazy(() => import('./meta.js'), 'help'),
    },
  ],
};
