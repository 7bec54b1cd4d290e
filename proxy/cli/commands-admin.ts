// Registry entries for the commands that manage identities and act on the
// running sidecar through its admin API: bots, admins, approvals, lockdown,
// incidents, state, doctor. (commands.ts assembles the whole table.)
import { ADMIN_FLAGS, CONFIG_FLAGS, JSON_FLAG, LANG_FLAG, lazy, type Command, type Flags } from './spec.js';

const ADMIN_COMMON: Flags = { ...CONFIG_FLAGS, ...ADMIN_FLAGS };
const ADMIN_NOTE = "The admin API is --admin-url, else KGUARD_ADMIN_URL, else the configuration's admin listener (admin.host, admin.port).";

const BOT_ONLINE_NOTE = [
  'disable, enable and kill-sessions act through the running sidecar when --admin-url or --token-file',
  '(or KGUARD_ADMIN_URL / KGUARD_ADMIN_TOKEN_FILE) is given: disable turns the flag off on every replica,',
  "ends the bot's sessions and revokes its broker access, as the admin API's POST /bots/ID/disable does.",
  'Without them, disable and enable only set the registry flag (for a stopped sidecar; a running one',
  'refuses the bot from its next call), and kill-sessions refuses to run.',
  'remove always goes through the admin API (POST /bots/ID/remove); it is refused while the bot is locked',
  'down (KG2015), and exits 3 when it stopped part-way (the bot stays disabled; run it again).',
];

export const bots: Command = {
  name: 'bots',
  summary: 'bot identities and their sessions',
  common: { ...CONFIG_FLAGS, ...LANG_FLAG },
  sub: [
    {
      name: 'add',
      args: '<id>',
      summary: 'create a bot identity; its secret is printed once (or written to --secret-out)',
      flags: {
        account: { type: 'string', value: 'ACCOUNT', required: true, help: 'the Kiwoom account number the bot trades' },
        owner: { type: 'string', value: 'NAME', help: 'who answers for the bot (default: unknown)' },
        allow: { type: 'string', value: 'API', multiple: true, help: 'an api-id (kt10000) or a kind (kind:query) the bot may call; comma lists too' },
        'secret-out': { type: 'string', value: 'FILE', help: 'write the secret to FILE (created 0600, never replaced) instead of printing it' },
      },
      run: lazy(() => import('./bots.js'), 'add'),
    },
    {
      name: 'import',
      summary: 'register many bots and their Kiwoom keys at once, all or none (JSONL, 0600 if it holds secrets; or YAML naming 0600 key files)',
      flags: {
        'from-file': {
          type: 'string',
          value: 'FILE',
          required: true,
          help: 'the batch: .jsonl (secrets as TAB name=value fields) or .yaml (credentialsFile/botSecretFile references)',
        },
        'secrets-out': { type: 'string', value: 'FILE', help: 'write generated bot secrets here (created 0600, never replaced; "id<TAB>secret" lines)' },
        ...ADMIN_FLAGS,
        ...JSON_FLAG,
      },
      run: lazy(() => import('./bots-import.js'), 'importBatch'),
    },
    { name: 'list', summary: 'the registered bots (id, owner, account, enabled, allowed api)', flags: JSON_FLAG, run: lazy(() => import('./bots.js'), 'list') },
    {
      name: 'disable',
      args: '<id>',
      summary: 'refuse the bot: flag off, sessions ended, broker access revoked (registry flag only when offline)',
      flags: { ...ADMIN_FLAGS, ...JSON_FLAG },
      run: lazy(() => import('./bots.js'), 'disable'),
    },
    {
      name: 'enable',
      args: '<id>',
      summary: 'let the bot exchange tokens again (sessions ended before stay ended)',
      flags: { ...ADMIN_FLAGS, ...JSON_FLAG },
      run: lazy(() => import('./bots.js'), 'enable'),
    },
    {
      name: 'kill-sessions',
      args: '<id>',
      summary: 'end every session of the bot now and revoke its broker access (needs the running sidecar)',
      flags: { ...ADMIN_FLAGS, ...JSON_FLAG },
      run: lazy(() => import('./bots.js'), 'killSessions'),
    },
    {
      name: 'remove',
      args: '[<id>]',
      summary:
        'offboard the bot, or every bot --from-file lists (needs the running sidecar): disabled, its broker token revoked unless another bot shares the key, its credential record shredded, its bot file and state deleted',
      flags: {
        reason: { type: 'string', value: 'TEXT', required: true, help: 'why (audited before anything changes)' },
        'from-file': {
          type: 'string',
          value: 'FILE',
          help: 'remove every bot id FILE lists, one a line (# comments); a line that is no bot id, or an id twice, refuses the list before any removal',
        },
        parallel: { type: 'string', value: 'N', help: 'with --from-file: removals in flight at once (default 4, at most 32)' },
        ...ADMIN_FLAGS,
        ...JSON_FLAG,
      },
      run: lazy(() => import('./bots-remove.js'), 'remove'),
    },
  ],
  notes: BOT_ONLINE_NOTE,
};

export const admins: Command = {
  name: 'admins',
  summary: 'admin API tokens, shown once',
  common: { ...CONFIG_FLAGS, ...LANG_FLAG },
  sub: [
    {
      name: 'add',
      args: '<name>',
      summary: 'create an admin API principal and its token',
      flags: {
        role: { type: 'string', choices: ['viewer', 'approver', 'admin'], help: 'what the token may do (default viewer)' },
        'token-out': { type: 'string', value: 'FILE', help: 'write the token to FILE (created 0600, never replaced) instead of printing it' },
      },
      run: lazy(() => import('./admins.js'), 'add'),
    },
    { name: 'list', summary: 'admin principals and their roles (never a token)', flags: JSON_FLAG, run: lazy(() => import('./admins.js'), 'list') },
    { name: 'remove', args: '<name>', summary: 'remove a principal; its token stops working', run: lazy(() => import('./admins.js'), 'remove') },
  ],
};

export const approvals: Command = {
  name: 'approvals',
  summary: 'step-up and four-eyes approvals of held calls',
  common: { ...ADMIN_COMMON, ...LANG_FLAG },
  sub: [
    {
      name: 'list',
      summary: 'approvals, newest first',
      flags: {
        status: { type: 'string', choices: ['pending', 'approved', 'refused', 'timeout', 'consumed'], help: 'only approvals in this state' },
        bot: { type: 'string', value: 'ID', help: "only this bot's approvals" },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./approvals.js'), 'list'),
    },
    { name: 'show', args: '<id>', summary: 'one approval (JSON)', flags: JSON_FLAG, run: lazy(() => import('./approvals.js'), 'show') },
    {
      name: 'approve',
      args: '<id>',
      summary: 'approve; reads your TOTP code from stdin',
      flags: JSON_FLAG,
      run: lazy(() => import('./approvals.js'), 'approve'),
    },
    {
      name: 'refuse',
      args: '<id>',
      summary:
        'refuse a held call the bot did not make (its next order then locks it down), or decline one of its own with --own-call; an approved call can be refused until it is sent',
      flags: {
        reason: { type: 'string', value: 'TEXT', required: true, help: 'why (audited)' },
        'own-call': { type: 'boolean', help: 'the bot did make this call: decline it without counting it toward a lockdown' },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./approvals.js'), 'refuse'),
    },
    {
      name: 'enroll',
      args: '<name>',
      summary: 'enrol an approver; prints the TOTP secret and otpauth URI once',
      flags: {
        role: { type: 'string', value: 'approver|admin', multiple: true, help: 'roles of the approver (default approver)' },
        replace: { type: 'boolean', help: 'replace an existing enrolment' },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./approvals.js'), 'enroll'),
    },
  ],
  notes: [ADMIN_NOTE],
};

export const lockdown: Command = {
  name: 'lockdown',
  summary: 'emergency stop of a bot, an account or everything: sessions ended, orders cancelled, incident opened',
  common: ADMIN_COMMON,
  flags: {
    bot: { type: 'string', value: 'ID', help: 'lock down this bot' },
    account: { type: 'string', value: 'ACCOUNT', help: 'lock down every bot of this account' },
    all: { type: 'boolean', help: 'lock down everything' },
    reason: { type: 'string', value: 'TEXT', required: true, help: 'why (audited, in the incident report)' },
    ...JSON_FLAG,
    ...LANG_FLAG,
  },
  notes: [
    'Exactly one of --bot, --account, --all. Exit 3 when a step failed (e.g. an order not cancelled).',
    'then: kguard incidents show ID; kguard incidents confirm ID STEP; kguard incidents unlock ID',
    ADMIN_NOTE,
  ],
  run: lazy(() => import('./lockdown.js'), 'lockdown'),
};

const idCmd = (name: string, summary: string, key: 'approveUnlock' | 'unlock'): Command => ({
  name,
  args: '<id>',
  summary,
  flags: JSON_FLAG,
  run: lazy(() => import('./incidents.js'), key),
});

export const incidents: Command = {
  name: 'incidents',
  summary: 'security incidents after a lockdown',
  common: { ...ADMIN_COMMON, ...LANG_FLAG },
  sub: [
    { name: 'list', summary: 'incidents, newest first', flags: JSON_FLAG, run: lazy(() => import('./incidents.js'), 'list') },
    {
      name: 'show',
      args: '<id>',
      summary: 'the incident report (Markdown by default)',
      flags: { format: { type: 'string', choices: ['md', 'json'], help: 'report format (default md)' }, ...JSON_FLAG },
      run: lazy(() => import('./incidents.js'), 'show'),
    },
    {
      name: 'confirm',
      args: '<id> <step>',
      summary: 'confirm a recovery checklist step',
      flags: { note: { type: 'string', value: 'TEXT', help: 'what was done (audited)' }, ...JSON_FLAG },
      run: lazy(() => import('./incidents.js'), 'confirm'),
    },
    idCmd(
      'approve-unlock',
      'approve the unlock (an admin-triggered lockdown needs two admins, an automatic one one: response.unlock); prints how many it has',
      'approveUnlock',
    ),
    idCmd('unlock', 'unlock once the checklist is complete and the unlock approved', 'unlock'),
    {
      name: 'compensation',
      args: '<id>',
      summary: 'the compensation worksheet for the incident',
      flags: {
        cause: {
          type: 'string',
          value: 'CAUSE',
          required: true,
          choices: ['system_fault', 'user_negligence', 'external_attack'],
          help: 'the established cause',
        },
        loss: { type: 'string', value: 'KRW', help: 'the loss, if not the assessed one' },
        ...JSON_FLAG,
      },
      run: lazy(() => import('./incidents.js'), 'compensation'),
    },
  ],
  notes: [ADMIN_NOTE],
};

export const state: Command = {
  name: 'state',
  summary: 'the shared state (Redis) as the sidecar sees it',
  common: { ...ADMIN_COMMON, ...LANG_FLAG },
  sub: [
    {
      name: 'status',
      summary: 'backend, up, generation marker, flush detected, clock against Redis',
      flags: JSON_FLAG,
      run: lazy(() => import('./state.js'), 'status'),
    },
    {
      name: 'confirm-flush',
      summary: 'after Redis lost its data: let calls through again (audited)',
      flags: { reason: { type: 'string', value: 'TEXT', required: true, help: 'why it is safe (audited)' }, ...JSON_FLAG },
      run: lazy(() => import('./state.js'), 'confirmFlush'),
    },
  ],
  notes: [ADMIN_NOTE],
};

export const doctor: Command = {
  name: 'doctor',
  summary: "each bot's security posture, 0-100: every check PASS/FAIL and the recommendations (a viewer token is enough)",
  common: ADMIN_COMMON,
  flags: {
    bot: { type: 'string', value: 'ID', help: 'only this bot' },
    lang: { type: 'string', choices: ['ko', 'en'], help: 'language of the text report (default: the configured language)' },
    ...JSON_FLAG,
  },
  notes: ['The same report as GET /admin/v1/posture; each recommendation links into docs/security-guide.ko.md / .en.md.', ADMIN_NOTE],
  run: lazy(() => import('./doctor.js'), 'doctor'),
};
