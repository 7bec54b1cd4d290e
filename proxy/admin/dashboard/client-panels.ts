// The dashboard script, second half: one refresh loads every panel's data
// from the admin API in parallel (and /metrics, /readyz, which need no
// token), then each panel renders or shows its own error. Actions (approve
// with a TOTP code, refuse with a reason, lockdown with a confirmation) go
// through ask() from client-core.ts. Plain ES2020 kept as text (see there).
export const CLIENT_PANELS = String.raw`
let lastBots = [];

function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const lm of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
const total = (metrics, name) => metrics.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
const toneOf = (d) => (d === 'allow' ? 'ok' : d === 'deny' || d === 'refused' || d === 'shadow-deny' ? 'bad' : d ? 'warn' : '');

async function loadPanels(policy) {
  const get = (p) => settle(api('GET', p));
  const [recent, risk, bots, approvals, incidents, sessions, tokens, audit, metricsText, ready] = await Promise.all([
    get('/admin/v1/audit/recent?type=call.intent,call.outcome&limit=300'),
    get('/admin/v1/risk/bots'),
    get('/admin/v1/bots'),
    get('/admin/v1/approvals?status=pending'),
    get('/admin/v1/incidents'),
    get('/admin/v1/broker-sessions'),
    get('/admin/v1/broker-tokens'),
    get('/admin/v1/audit/status'),
    settle(publicGet('/metrics', 'text')),
    settle(publicGet('/readyz', 'json')),
  ]);
  if (!token) return;
  const metrics = metricsText.v ? parseMetrics(metricsText.v) : [];
  if (bots.v) lastBots = bots.v.bots;
  const newest = incidents.v ? incidents.v.incidents.slice(0, 5) : [];
  const details = new Map();
  for (const [i, r] of (await Promise.all(newest.map((i) => get('/admin/v1/incidents/' + encodeURIComponent(i.id))))).entries()) {
    if (r.v) details.set(newest[i].id, r.v);
  }
  show('p-decisions', recent, (v) => renderDecisions(v, metrics));
  show('p-risk', risk.e ? risk : bots, () => renderRisk(risk.v, bots.v ? bots.v.bots : []));
  show('p-approvals', approvals, renderApprovals);
  show('p-incidents', incidents, (v) => renderIncidents(v.incidents, details));
  show('p-sessions', sessions, (v) => renderSessions(v.sessions, tokens.v, metrics));
  show('p-audit', audit, renderAudit);
  show('p-policy', policy, (v) => renderPolicy(v, ready.v));
}

function renderDecisions(recent, metrics) {
  const totals = {};
  for (const s of metrics) if (s.name === 'kguard_policy_decisions_total') totals[s.labels.decision] = (totals[s.labels.decision] || 0) + s.value;
  put($('decision-totals'), 
    el('span', { class: 'muted', text: L.decisionTotals }),
    ...Object.keys(totals).sort().map((d) => chip(d + ' ' + totals[d], toneOf(d), { 'data-decision': d })),
  );
  const calls = new Map();
  for (const r of recent.records) {
    if (!r.requestId) continue;
    if (!calls.has(r.requestId)) calls.set(r.requestId, {});
    calls.get(r.requestId)[r.type === 'call.intent' ? 'intent' : 'outcome'] = r;
  }
  const rows = Array.from(calls.entries()).slice(0, 40).map(([id, c]) => {
    const i = c.intent;
    const o = c.outcome;
    const d = (i && i.decision) || (o && o.decision) || {};
    const decision = d.outcome || (o ? (o.ok ? 'allow' : 'refused') : 'in-flight');
    const any = o || i;
    const result = o ? (o.ok ? '✓' : (o.code || L.refused) + (o.stage ? ' @' + o.stage : '')) : L.inFlight;
    return el(
      'tr',
      { class: decision, 'data-request-id': id, 'data-decision': decision },
      el('td', { class: 'mono', text: fmtTime(any.ts) }),
      el('td', { text: any.botId || '' }),
      el('td', { class: 'mono', text: any.apiId || any.route || '' }),
      el('td', null, chip(decision, toneOf(decision))),
      el('td', { title: (i && i.decision && i.decision.reason) || '' }, el('code', { text: d.ruleId || '' }), i && i.decision && i.decision.reason ? el('div', { class: 'muted', text: i.decision.reason }) : null),
      el('td', { class: o && !o.ok ? 't-bad' : '', text: result }),
    );
  });
  put($('calls'), ...(rows.length ? rows : [el('tr', null, el('td', { colspan: 6, class: 'muted', text: L.noCalls }))]));
}

function renderRisk(risk, bots) {
  const byId = new Map(bots.map((b) => [b.id, b]));
  const seen = new Set();
  const cards = risk.bots.map((b) => {
    seen.add(b.botId);
    const bot = byId.get(b.botId);
    const tone = b.score >= 0.9 ? 'bad' : b.score >= 0.7 ? 'warn' : '';
    const fill = el('span');
    fill.style.width = Math.round(Math.min(1, Math.max(0, b.score)) * 100) + '%';
    return el(
      'div',
      { class: 'card risk-bot', 'data-bot': b.botId, 'data-score': b.score },
      el('div', null, el('strong', { text: b.botId }), ' ', el('span', { class: 'bar ' + tone, title: L.score }, fill), ' ', el('span', { class: 'mono score', text: b.score.toFixed(2) }), ' ',
        b.outcome ? chip(b.outcome, toneOf(b.outcome)) : null, bot && !bot.enabled ? chip(L.disabled, 'bad') : null, ' ',
        el('span', { class: 'muted', text: (b.apiId || '') + ' · ' + fmtTime(b.ts) })),
      b.contributions.length
        ? el('ul', { class: 'plain contributions' }, b.contributions.map((c) => el('li', null, el('code', { text: c.detector }), ' +' + (c.weight * c.score).toFixed(2) + ' — ' + c.reason)))
        : el('div', { class: 'muted', text: L.contributions + ': —' }),
    );
  });
  const idle = bots.filter((b) => !seen.has(b.id)).map((b) =>
    el('div', { class: 'card risk-bot', 'data-bot': b.id }, el('strong', { text: b.id }), ' ', el('span', { class: 'muted', text: L.noAssessment }), ' ', b.enabled ? null : chip(L.disabled, 'bad')));
  put($('risk'), ...cards, ...idle);
}

function renderApprovals(data) {
  const list = data.approvals.filter((a) => a.status === 'pending');
  if (!list.length) return put($('approvals'), el('p', { class: 'muted', text: L.noApprovals }));
  put($('approvals'), ...list.map((a) => el(
    'div',
    { class: 'card approval', 'data-approval-id': a.id, 'data-level': a.level },
    el('div', null, el('strong', { text: a.botId }), ' ', el('code', { text: a.apiId }), ' ', el('span', { class: 'api-name', text: API_NAMES[a.apiId] || '' }), ' ', chip(a.level === 'admin' ? 'admin · 4-eyes' : 'step-up', a.level === 'admin' ? 'bad' : 'warn'), ' ', L.score + ' ' + a.score.toFixed(2)),
    approvalFacts(a),
    votedByMe(a) ? el('p', { class: 't-warn you-voted', text: L.youVoted }) : null,
    ownerOfAdminCall(a) ? el('p', { class: 't-warn owner-cannot', text: L.ownerCannot }) : null,
    mayDecide() ? el('div', { class: 'actions' },
      votedByMe(a) || ownerOfAdminCall(a) ? null : el('button', { type: 'button', class: 'primary approve', text: L.approve, onclick: () => approve(a) }),
      el('button', { type: 'button', class: 'refuse', text: L.refuse, onclick: () => refuse(a) })) : null,
  )));
  tick();
}
const votedByMe = (a) => myName !== null && a.approvals.some((v) => v.approver === myName);
/** Four eyes: the bot's owner may refuse an admin-level call but never approve it. */
const ownerOfAdminCall = (a) => a.level === 'admin' && a.owner !== undefined && a.owner === myName;
const MARKET_TYPES = ['3', '13', '23'];
const amount = (s) => (typeof s === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(s.trim()) ? Number(s) : undefined);
const fmtNumber = (n) => n.toLocaleString(LOCALE);
/** One order field as an approver reads it: its name in the page's language, an order type by name, numbers grouped. */
function orderField(k, v) {
  const shown =
    k === 'trde_tp' && TRADE_TYPES[v] ? TRADE_TYPES[v] + ' (' + v + ')'
    : k === 'cncl_qty' && v === '0' ? L.allRemaining
    : /_(qty|uv)$/.test(k) && amount(v) !== undefined ? fmtNumber(amount(v))
    : v;
  return [L['f_' + k] || k, el('span', { title: k, 'data-field': k, text: shown })];
}
/** What the order moves in KRW (quantity times price), or that a market order's value is set by its fill. */
function orderValue(s) {
  for (const [q, p] of [['ord_qty', 'ord_uv'], ['mdfy_qty', 'mdfy_uv']]) {
    const qty = amount(s[q]);
    if (qty === undefined) continue;
    if (MARKET_TYPES.includes(s.trde_tp) || !amount(s[p])) return L.marketValue;
    return fmtNumber(Math.round(qty * amount(s[p]))) + L.won;
  }
  return undefined;
}
function approvalFacts(a) {
  const s = a.summary || {};
  const votes = a.approvals.length + ' / ' + a.requiredApprovals + (a.approvals.length ? ' — ' + a.approvals.map((v) => v.approver + ' ' + fmtTime(v.at)).join(', ') : '');
  return [
    kv([
      [L.account, el('span', { class: 'mono', 'data-field': 'account', text: a.account })],
      ...Object.entries(s)
        .filter((e) => e[1] !== '')
        .map(([k, v]) => orderField(k, v)),
      [L.orderValue, orderValue(s) === undefined ? null : el('strong', { 'data-field': 'value', text: orderValue(s) })],
      [L.heldBy, a.ruleId ? el('code', { 'data-field': 'rule', text: a.ruleId }) : null],
      [L.timeLeft, el('span', null, el('span', { class: 'time-left', 'data-expires': a.expiresAt, text: timeLeft(a.expiresAt) }), el('span', { class: 'muted', text: ' (' + L.expires + ' ' + fmtTime(a.expiresAt) + ')' }))],
      [L.votes, el('span', { 'data-field': 'votes', text: votes })],
      ['id', el('code', { text: a.id })],
    ]),
    a.reasons.length ? el('ul', { class: 'plain muted' }, a.reasons.map((r) => el('li', { text: r }))) : null,
  ];
}
/**
 * An approve or refuse the sidecar would not take: when the approval is no longer pending (another approver decided
 * it, it expired, the bot's sessions or request ended), the approver reads that, in the page's words, not an error code.
 */
async function decidedMeanwhile(a, e) {
  const v = await api('GET', '/admin/v1/approvals/' + encodeURIComponent(a.id)).catch(() => null);
  if (!v || v.status === 'pending') throw e;
  const who = v.approvals.map((x) => x.approver + ' ' + fmtTime(x.at)).join(', ');
  const text =
    v.status === 'approved' ? L.alreadyApproved + ' (' + who + ')'
    : v.status === 'consumed' ? L.alreadySent + ' (' + who + ')'
    : v.status === 'refused' && v.refusal ? L.alreadyRefused + ' (' + v.refusal.approver + ': ' + v.refusal.reason + ')'
    : v.closedEarly === 'session-ended' ? L.closedSession
    : v.closedEarly === 'request-ended' ? L.closedRequest
    : L.timedOut + ' (' + fmtTime(v.expiresAt) + ')';
  refresh();
  throw Object.assign(new Error(text), { final: true });
}
async function approve(a) {
  const done = await ask({
    title: L.approve + ': ' + a.botId + ' ' + a.apiId + (API_NAMES[a.apiId] ? ' (' + API_NAMES[a.apiId] + ')' : ''),
    body: [...approvalFacts(a), a.level === 'admin' ? el('p', { class: 't-warn', text: L.fourEyes }) : null, el('p', { class: 'muted', text: L.totpHelp })],
    fields: [{ name: 'code', label: L.totpCode, required: true, pattern: '[0-9]{6,10}', maxlength: 10, inputmode: 'numeric', autocomplete: 'one-time-code' }],
    ok: L.approve,
    submit: (v) => api('POST', '/admin/v1/approvals/' + encodeURIComponent(a.id) + '/approve', { code: v.code }).catch((e) => decidedMeanwhile(a, e)),
  });
  if (done) {
    toast(done.status === 'pending' ? L.voteRecorded + ' (' + done.approvals.length + ' / ' + done.requiredApprovals + ')' : L.approved + ': ' + a.id);
    refresh();
  }
}
async function refuse(a) {
  const done = await ask({
    title: L.refuse + ': ' + a.botId + ' ' + a.apiId,
    body: [...approvalFacts(a), el('p', { class: 't-warn', text: L.refuseHelp })],
    fields: [
      // No default: whether the bot made the call decides whether its next order locks it down.
      { name: 'whose', label: L.whoseCall, required: true, options: [{ value: '', label: L.choose }, { value: 'not-mine', label: L.notOwnCall }, { value: 'own', label: L.ownCall }] },
      { name: 'reason', label: L.reason, required: true, maxlength: 500 },
    ],
    ok: L.refuse,
    danger: true,
    submit: (v) =>
      api('POST', '/admin/v1/approvals/' + encodeURIComponent(a.id) + '/refuse', { reason: v.reason, ownCall: v.whose === 'own' }).catch((e) => decidedMeanwhile(a, e)),
  });
  if (done) {
    toast(L.refusedDone + ': ' + a.id);
    refresh();
  }
}
async function lockdown() {
  const report = await ask({
    title: L.lockdownTitle,
    body: [el('p', { class: 't-bad', text: L.lockdownWarning })],
    fields: [
      // No default: a rushed operator must name what to lock down, not confirm whichever bot sorts first.
      { name: 'scope', label: L.scope, required: true, options: [{ value: '', label: L.choose }, ...lastBots.map((b) => ({ value: 'bot:' + b.id, label: L.bot + ' ' + b.id })), { value: '*', label: L.allBots }] },
      { name: 'reason', label: L.reason, required: true, maxlength: 500 },
    ],
    ok: L.confirmLockdown,
    danger: true,
    submit: (v) => api('POST', '/admin/v1/lockdown', v.scope === '*' ? { reason: v.reason, all: true } : { reason: v.reason, bot: v.scope.slice(4) }),
  });
  if (report) {
    toast(L.incidentOpened + ': ' + report.id);
    refresh();
  }
}

function renderIncidents(list, details) {
  if (!list.length) return put($('incidents'), el('p', { class: 'muted', text: L.noIncidents }));
  put($('incidents'), ...list.slice(0, 10).map((i) => {
    const d = details.get(i.id);
    return el(
      'div',
      { class: 'card incident', 'data-incident-id': i.id, 'data-status': i.status },
      el('div', null, chip(i.status === 'locked' ? L.locked : L.unlocked, i.status === 'locked' ? 'bad' : 'ok'), ' ', i.automatic ? chip(L.automatic, 'warn') : null, ' ',
        el('strong', { text: i.reason }), ' ', el('span', { class: 'muted', text: fmtTime(i.createdAt) + ' · ' + i.bots.join(', ') })),
      d ? el('ul', { class: 'checklist' }, d.checklist.map((c) => el('li', { class: c.confirmedBy ? 'done' : 'todo', 'data-step': c.id },
        c.title + (c.required ? ' (' + L.required + ')' : ''), c.confirmedBy ? el('span', { class: 'muted', text: ' — ' + L.confirmedBy + ' ' + c.confirmedBy + ' ' + fmtTime(c.confirmedAt) }) : null))) : null,
      d ? el('div', { class: 'muted', text: L.unlockApprovals + ': ' + d.unlockApprovals.length + ' / ' + d.unlockApprovalsRequired }) : null,
    );
  }));
}

function renderSessions(sessions, tokens, metrics) {
  put($('exposure'), 
    chip(L.outstanding + ' ' + (tokens ? tokens.outstanding : '?'), tokens && tokens.outstanding > 0 ? 'warn' : 'ok', { id: 'outstanding' }),
    chip(L.liveSeconds + ' ' + total(metrics, 'kguard_broker_token_live_seconds_total').toFixed(1)),
    chip(L.issued + ' ' + total(metrics, 'kguard_broker_tokens_issued_total')),
    chip(L.revoked + ' ' + total(metrics, 'kguard_broker_tokens_revoked_total')),
  );
  if (!sessions.length) return put($('sessions'), el('p', { class: 'muted', text: L.noSessions }));
  put($('sessions'), el('table', null,
    el('thead', null, el('tr', null, [L.key, L.state, L.leases, L.age, L.expires].map((h) => el('th', { text: h })))),
    el('tbody', null, sessions.map((s) => el('tr', { 'data-key': s.key },
      el('td', { class: 'mono', title: s.key, text: short(s.key, 20) }), el('td', null, chip(s.state, s.state === 'live' ? 'warn' : '')),
      el('td', { text: s.leases }), el('td', { text: s.ageMs === undefined ? '' : fmtAge(s.ageMs) }), el('td', { text: fmtTime(s.expiresAt) }))))));
}

function renderAudit(a) {
  const c = a.chain;
  const cp = a.checkpoint;
  put($('audit'), 
    c ? el('div', null, chip(c.intact ? L.intact : L.broken, c.intact ? 'ok' : 'bad', { id: 'chain-state', 'data-intact': c.intact }), ' ',
      el('span', { class: 'muted', text: L.checkedRecords + ': ' + c.checkedRecords + (c.fromSeq ? ' (#' + c.fromSeq + '–#' + c.toSeq + ')' : '') })) : el('p', { class: 'muted', text: L.noFileSink }),
    c && c.problem ? el('p', { class: 'error', text: '#' + (c.problem.seq || '?') + ': ' + c.problem.reason }) : null,
    kv([
      ['head', c && c.head ? el('code', { title: c.head, text: short(c.head, 16) }) : null],
      [L.checkpoint, cp ? '#' + cp.seq + ' · ' + fmtTime(cp.time) : L.noCheckpoint],
      [L.signature, cp ? chip(cp.signature + (cp.matchesLog === false ? ' ≠ log' : ''), (cp.signature === 'valid' || cp.signature === 'handed-over') && cp.matchesLog !== false ? 'ok' : 'bad') : null],
      ['key', el('code', { text: a.keyId })],
    ]),
    el('h3', { text: L.sinks }),
    el('ul', { class: 'plain' }, a.sinks.map((s) => el('li', { 'data-sink': s.id }, chip(s.up ? L.up : L.down, s.up ? 'ok' : 'bad'), ' ', el('code', { text: s.id }), ' ' + s.kind,
      s.writtenSeq !== undefined ? el('span', { class: 'muted', text: ' · written #' + s.writtenSeq + ' · synced #' + s.syncedSeq }) : null, s.reason ? el('span', { class: 't-bad', text: ' ' + s.reason }) : null))),
  );
}

function renderPolicy(p, ready) {
  const cur = p.current;
  put($('policy'), 
    cur ? kv([[L.version, el('code', { id: 'policy-version', text: cur.version })], [L.file, cur.file], [L.loadedAt, fmtTime(cur.loadedAt)]]) : el('p', { class: 'error', text: L.noPolicy }),
    p.lastError ? el('p', { class: 'error', id: 'policy-error', text: L.lastReloadError + ': ' + p.lastError }) : el('p', { class: 'muted', text: L.noReloadError }),
    p.unmatched && p.unmatched.length ? el('div', { id: 'policy-unmatched' }, el('p', { class: 't-warn', text: L.unmatchedNames }),
      el('ul', { class: 'plain' }, p.unmatched.map((u) => el('li', null, el('code', { text: u.name }), ' ' + u.rule + ' · when.' + u.field + ' · ' + L.line + ' ' + u.line)))) : null,
  );
  if (!ready) return;
  $('ready').textContent = ready.ready ? L.ready : L.notReady;
  $('ready').className = 'pill ' + (ready.ready ? 'ok' : 'bad');
  put($('health'), ...Object.entries(ready.checks).map(([name, r]) => el('li', null,
    chip(r.ok ? '✓' : r.severity === 'warn' ? '!' : '✗', r.ok ? 'ok' : r.severity === 'warn' ? 'warn' : 'bad'), ' ', el('code', { text: name }), r.reason ? el('span', { class: 'muted', text: ' ' + r.reason }) : null)));
}
`;
