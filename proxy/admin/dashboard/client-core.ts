// The dashboard script, first half: DOM helpers, the admin API client (the
// token from sessionStorage in the Authorization header, never in a URL),
// sign-in and sign-out, the confirmation dialog and the refresh loop. The
// panels are in client-panels.ts; static.ts serves both as one file,
// /dashboard.js, inside one function with the labels in front.
// Plain ES2020 for the browser, kept as text: no build step, no framework
// (no backslash, backtick or dollar-brace in it: this is a plain template).
// Everything shown goes through textContent (el() below), never innerHTML.
export const CLIENT_CORE = `
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'kguard.adminToken';
const REFRESH_KEY = 'kguard.refreshSeconds';
const LOCALE = document.documentElement.lang === 'en' ? 'en-GB' : 'ko-KR';
let token = sessionStorage.getItem(TOKEN_KEY);
let timer;
/** The token's role and name (GET /admin/v1/whoami): which actions the page offers, and on which held calls. */
let role = null;
let myName = null;
let running = false;
let again = false;
let coolingUntil = 0;

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    const data = k.startsWith('data-');
    if (v === undefined || v === null || (v === false && !data)) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true && !data ? '' : String(v));
  }
  for (const c of children.flat(2)) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
/** Replaces a node's children, leaving out the null/undefined/false that conditionals produce. */
function put(target, ...children) {
  target.replaceChildren(...children.flat(2).filter((c) => c !== undefined && c !== null && c !== false));
}
const chip = (text, tone, attrs) => el('span', Object.assign({ class: 'chip ' + (tone || ''), text }, attrs || {}));
function kv(pairs) {
  return el('dl', { class: 'kv' }, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '').map((p) => [el('dt', { text: p[0] }), el('dd', null, p[1])]));
}
function fmtTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString(LOCALE, { hour12: false }) : d.toLocaleString(LOCALE, { hour12: false });
}
function fmtAge(ms) {
  const s = Math.round(ms / 1000);
  return s < 120 ? s + ' s' : Math.round(s / 60) + ' min';
}
const short = (s, n) => (s && s.length > n ? s.slice(0, n) + '…' : s || '');
/** What is left of a held call's time, as the page says it. */
function timeLeft(iso) {
  const s = Math.ceil((Date.parse(iso) - Date.now()) / 1000);
  if (!(s > 0)) return L.expired;
  return s < 60 ? s + L.seconds : Math.floor(s / 60) + L.minutes + ' ' + (s % 60) + L.seconds;
}
/** Every second: each held call's time left; a card whose time is up offers nothing more to press. */
function tick() {
  for (const e of document.querySelectorAll('.time-left[data-expires]')) {
    e.textContent = timeLeft(e.getAttribute('data-expires'));
    if (Date.parse(e.getAttribute('data-expires')) > Date.now()) continue;
    e.classList.add('t-bad');
    const card = e.closest('.approval');
    if (card) for (const b of card.querySelectorAll('button')) b.disabled = true;
  }
}
function toast(text, bad) {
  const t = el('div', { class: bad ? 'bad' : '', text });
  $('toast').append(t);
  setTimeout(() => t.remove(), 6000);
}

class ApiError extends Error {
  constructor(status, body, text) {
    super((body && body.return_msg) || (L.error + ' ' + status + (text ? ': ' + text.slice(0, 200) : '')));
    this.status = status;
    this.body = body;
  }
}
const messageOf = (e) => (e && e.message) || String(e);

async function api(method, path, body) {
  if (!token) throw new ApiError(401, undefined, '');
  const headers = { authorization: 'Bearer ' + token };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (res.status === 401) signOut(L.tokenRefused);
  if (res.status === 429) coolDown(Number(res.headers.get('retry-after')) || 60);
  if (!res.ok) throw new ApiError(res.status, json, json ? '' : text);
  return json;
}
async function publicGet(path, as) {
  const res = await fetch(path, { cache: 'no-store', credentials: 'omit', redirect: 'error' });
  if (as === 'text') {
    if (!res.ok) throw new ApiError(res.status, undefined, '');
    return res.text();
  }
  return res.json();
}
const settle = (p) => p.then((v) => ({ v }), (e) => ({ e }));

function showLogin(message) {
  clearTimeout(timer);
  $('panels').hidden = true;
  $('lockdown-open').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}
function showPanels() {
  $('login').hidden = true;
  $('panels').hidden = false;
  // Shown once the token's role is known to allow it (whoami), never to a viewer or an approver.
  $('lockdown-open').hidden = role !== 'admin';
  $('sign-out').hidden = false;
}
const mayDecide = () => role === 'approver' || role === 'admin';
function signOut(message) {
  token = null;
  role = null;
  myName = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin(message);
}
function coolDown(seconds) {
  coolingUntil = Date.now() + seconds * 1000;
  $('updated').textContent = L.coolingDown + ' ' + seconds;
  clearTimeout(timer);
  timer = setTimeout(refresh, seconds * 1000);
}

/** A modal with fields; resolves with what submit() returned, or null when cancelled. Errors keep it open. */
function ask(o) {
  return new Promise((resolve) => {
    const d = $('dialog');
    const form = $('dialog-form');
    const ok = $('dialog-ok');
    const inputs = {};
    const fields = (o.fields || []).map((f) => {
      const id = 'dialog-field-' + f.name;
      const input = f.options
        ? el('select', { id, name: f.name, required: !!f.required }, f.options.map((op) => el('option', { value: op.value, text: op.label })))
        : el('input', { id, name: f.name, type: 'text', required: !!f.required, pattern: f.pattern, maxlength: f.maxlength, inputmode: f.inputmode, autocomplete: f.autocomplete || 'off', spellcheck: 'false' });
      inputs[f.name] = input;
      return [el('label', { for: id, text: f.label }), input];
    });
    $('dialog-title').textContent = o.title;
    put($('dialog-body'), o.body || [], fields);
    $('dialog-error').textContent = '';
    ok.textContent = o.ok;
    ok.className = o.danger ? 'danger' : 'primary';
    ok.disabled = false;
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      form.onsubmit = null;
      $('dialog-cancel').onclick = null;
      d.onclose = null;
      if (d.open) d.close();
      resolve(v);
    };
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const values = {};
      for (const [k, input] of Object.entries(inputs)) values[k] = input.value.trim();
      ok.disabled = true;
      try {
        finish(await o.submit(values));
      } catch (e) {
        $('dialog-error').textContent = messageOf(e);
        // final: nothing left to confirm (decided or closed meanwhile); the dialog stays open to be read.
        ok.disabled = !!(e && e.final);
      }
    };
    $('dialog-cancel').onclick = () => finish(null);
    d.onclose = () => finish(null);
    d.showModal();
    const first = Object.values(inputs)[0];
    if (first) first.focus();
  });
}

function show(panelId, result, render) {
  const box = document.querySelector('#' + panelId + ' .panel-error');
  try {
    if (result && result.e) throw result.e;
    render(result && result.v);
    box.hidden = true;
    box.textContent = '';
  } catch (e) {
    box.hidden = false;
    box.textContent = messageOf(e);
  }
}

function schedule() {
  clearTimeout(timer);
  const s = Number($('refresh').value);
  if (s > 0 && token) timer = setTimeout(refresh, s * 1000);
}
async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  if (running) {
    again = true;
    return;
  }
  if (document.visibilityState === 'hidden') return schedule(); // a background tab waits for its next turn
  running = true;
  try {
    // One call first: a refused token stops here instead of counting one failure per panel.
    const me = await settle(api('GET', '/admin/v1/whoami'));
    if (!token || Date.now() < coolingUntil) return;
    if (me.v) {
      role = me.v.role;
      myName = me.v.name;
    }
    $('lockdown-open').hidden = role !== 'admin';
    const policy = await settle(api('GET', '/admin/v1/policy'));
    if (!token || Date.now() < coolingUntil) return;
    await loadPanels(policy);
    $('updated').textContent = L.updated + ' ' + fmtTime(new Date().toISOString());
  } finally {
    running = false;
    if (again) {
      again = false;
      setTimeout(refresh, 0);
    } else if (Date.now() >= coolingUntil) schedule();
  }
}

function start() {
  const saved = localStorage.getItem(REFRESH_KEY);
  const select = $('refresh');
  if (saved !== null && Array.from(select.options).some((op) => op.value === saved)) select.value = saved;
  select.addEventListener('change', () => {
    localStorage.setItem(REFRESH_KEY, select.value);
    schedule();
  });
  $('refresh-now').addEventListener('click', () => refresh());
  $('sign-out').addEventListener('click', () => signOut(''));
  $('lockdown-open').addEventListener('click', () => lockdown());
  setInterval(tick, 1000);
  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('token').value.trim();
    $('token').value = '';
    if (!v) return;
    token = v;
    role = null;
    myName = null;
    sessionStorage.setItem(TOKEN_KEY, v);
    coolingUntil = 0;
    showPanels();
    refresh();
  });
  if (token) {
    showPanels();
    refresh();
  } else showLogin('');
}
`;
