// The dashboard's HTML and CSS. No inline script or style anywhere (the page
// is served under `default-src 'self'`): behaviour is in /dashboard.js, looks
// in /dashboard.css. Panels are empty shells the script fills from the admin
// API; the token form has no action and form-action 'none' stops any
// submission that the script did not handle, so a token never lands in a URL.
import type { LabelKey } from './labels.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESC[c]!);

function panel(id: string, title: string, body = ''): string {
  return `<section class="panel" id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${esc(title)}</h2><p class="panel-error" role="alert" hidden></p><div class="body">${body}</div></section>`;
}

export function dashboardHtml(lang: string, L: Record<LabelKey, string>): string {
  const options = [2, 5, 10, 30].map((s) => `<option value="${s}"${s === 5 ? ' selected' : ''}>${s} ${esc(L.seconds)}</option>`).join('');
  const heads = (['time', 'bot', 'apiId', 'decision', 'rule', 'result'] as const).map((k) => `<th>${esc(L[k])}</th>`).join('');
  return `<!doctype html>
<html lang="${esc(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(L.title)}</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>${esc(L.title)}</h1>
<span id="ready" class="pill">…</span>
<span class="grow"></span>
<label class="refresh">${esc(L.autoRefresh)} <select id="refresh">${options}<option value="0">${esc(L.paused)}</option></select></label>
<button id="refresh-now" type="button" title="${esc(L.refresh)}" aria-label="${esc(L.refresh)}">↻</button>
<span id="updated" class="muted"></span>
<button id="lockdown-open" type="button" class="danger" hidden>${esc(L.lockdown)}</button>
<button id="sign-out" type="button" hidden>${esc(L.signOut)}</button>
</header>
<section id="login" class="login" hidden>
<form id="login-form" method="post" autocomplete="off">
<h2>${esc(L.loginTitle)}</h2>
<p class="muted">${esc(L.loginHelp)}</p>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required aria-label="${esc(L.loginTitle)}">
<button type="submit">${esc(L.signIn)}</button>
<p id="login-error" class="error" role="alert"></p>
</form>
</section>
<main id="panels" hidden>
${panel('p-decisions', L.decisions, `<div id="decision-totals" class="chips"></div><table class="calls"><thead><tr>${heads}</tr></thead><tbody id="calls"></tbody></table>`)}
${panel('p-risk', L.risk, '<div id="risk"></div>')}
${panel('p-approvals', L.approvals, '<div id="approvals"></div>')}
${panel('p-incidents', L.incidents, '<div id="incidents"></div>')}
${panel('p-sessions', L.sessions, '<div id="exposure" class="chips"></div><div id="sessions"></div>')}
${panel('p-audit', L.audit, '<div id="audit"></div>')}
${panel('p-policy', L.policy, `<div id="policy"></div><h3>${esc(L.health)}</h3><ul id="health" class="plain"></ul>`)}
</main>
<dialog id="dialog">
<form id="dialog-form" method="post">
<h2 id="dialog-title"></h2>
<div id="dialog-body"></div>
<p id="dialog-error" class="error" role="alert"></p>
<div class="actions"><button id="dialog-cancel" type="button">${esc(L.cancel)}</button><button id="dialog-ok" type="submit"></button></div>
</form>
</dialog>
<div id="toast" role="status" aria-live="polite"></div>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#d8dde3;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--card:#161b22;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--accent:#4493f8}}
*{box-sizing:border-box}
[hidden]{display:none !important}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI","Noto Sans KR","Malgun Gothic",sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:.75rem;padding:.6rem 1rem;background:var(--card);border-bottom:1px solid var(--line);position:sticky;top:0;z-index:2}
h1{font-size:1.1rem;margin:0}
h2{font-size:1rem;margin:0 0 .5rem}
h3{font-size:.9rem;margin:.8rem 0 .3rem}
.grow{flex:1}
.muted{color:var(--muted)}
button{font:inherit;padding:.3rem .7rem;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);cursor:pointer}
button:hover{border-color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff;font-weight:600}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
input,select{font:inherit;padding:.3rem .4rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem;padding:1rem}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;min-width:0;overflow:auto}
#p-decisions{grid-column:1/-1}
.login{max-width:34rem;margin:4rem auto;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1.2rem}
.login input{width:100%;margin:.5rem 0}
.error,.panel-error{color:var(--bad);margin:.3rem 0}
.pill,.chip{display:inline-block;padding:.05rem .55rem;border-radius:999px;border:1px solid var(--line);font-size:.85rem;white-space:nowrap}
.chips{display:flex;flex-wrap:wrap;gap:.4rem;margin-bottom:.6rem}
.ok{color:var(--ok);border-color:var(--ok)}
.warn{color:var(--warn);border-color:var(--warn)}
.bad{color:var(--bad);border-color:var(--bad)}
.t-bad{color:var(--bad)}
.t-warn{color:var(--warn)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.85rem;white-space:nowrap}
tr.deny td,tr.refused td{background:color-mix(in srgb,var(--bad) 9%,transparent)}
tr.step-up td,tr.hold td,tr.in-flight td{background:color-mix(in srgb,var(--warn) 10%,transparent)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.bar{display:inline-block;width:8rem;height:.6rem;border-radius:3px;background:var(--line);vertical-align:middle;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--ok)}
.bar.warn>span{background:var(--warn)}
.bar.bad>span{background:var(--bad)}
.card{border:1px solid var(--line);border-radius:6px;padding:.5rem .7rem;margin:.4rem 0}
.card .actions{display:flex;gap:.5rem;margin-top:.4rem}
ul.plain{list-style:none;padding:0;margin:.2rem 0}
ul.checklist{list-style:none;padding-left:.2rem;margin:.3rem 0}
ul.checklist li.done::before{content:"\\2611  ";color:var(--ok)}
ul.checklist li.todo::before{content:"\\2610  "}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.2rem 0}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;overflow-wrap:anywhere}
dialog{border:1px solid var(--line);border-radius:8px;background:var(--card);color:var(--fg);min-width:26rem;max-width:40rem}
dialog::backdrop{background:rgba(0,0,0,.45)}
dialog label{display:block;margin:.5rem 0 .2rem}
dialog input,dialog select{width:100%}
dialog .actions{display:flex;justify-content:flex-end;gap:.5rem;margin-top:.8rem}
#toast{position:fixed;right:1rem;bottom:1rem;display:flex;flex-direction:column;gap:.4rem;z-index:3}
#toast>div{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--accent);border-radius:6px;padding:.5rem .8rem;box-shadow:0 2px 8px rgba(0,0,0,.2)}
#toast>div.bad{border-left-color:var(--bad)}
`;
