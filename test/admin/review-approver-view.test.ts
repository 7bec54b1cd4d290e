// Review regression (the approver at the dashboard, in headless chromium): a
// held call's card named its order only by Kiwoom's field names and codes
// (stk_cd, ord_qty, trde_tp 3), with no account, no KRW value, no rule that
// held it and no time left; the first of two admin votes was toasted
// "approved" and the page still offered that admin the approve button (whose
// refusal then read as a wrong OTP code); and an approve that came too late
// read "approval was already used" (approved by another approver meanwhile)
// or "approval timed out" (the bot's sessions had ended), both with English
// detail. Now the card says what the approver decides on in the page's
// language, counts votes truthfully, and a late approve says what happened.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import { dashboardLabels, tradeTypeNames } from '../../proxy/admin/dashboard/labels.js';
import { dashboardScript } from '../../proxy/admin/dashboard/static.js';
import { startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

type Obj = Record<string, any>;
const CHROMIUM = '/usr/bin/chromium';
const TOTP = { periodSec: 30, digits: 6, window: 1 };
const L = dashboardLabels('ko');
const POLICY = `version: 1
name: approver-view
rules:
  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }
  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 50 }
  - { id: approve-big, type: require-approval, outcome: hold, minQuantity: 500 }
`;
const skip = !existsSync(CHROMIUM) && !process.env.CI ? `${CHROMIUM} is absent and CI is not set` : false;

t.test('with language: en, the card’s words and the order types are English', async (t) => {
  const en = dashboardScript('en');
  t.match(en, /"f_stk_cd":"Stock code"/);
  t.match(en, /"orderValue":"Order value"/);
  t.match(en, /"closedSession":"The bot’s sessions ended/);
  t.match(tradeTypeNames('en'), { '0': 'limit', '3': 'market', '00': 'limit', '81': 'post-close' });
  t.match(tradeTypeNames('ko'), { '0': '보통', '3': '시장가' });
  const Hangul = /[\uac00-\ud7a3]/;
  t.notOk(
    Object.values(dashboardLabels('en')).some((w) => Hangul.test(w)),
    'no Korean among the English words',
  );
  t.notOk(
    Object.values(tradeTypeNames('en')).some((w) => Hangul.test(w)),
    'nor among the order types',
  );
});

t.test('the approver at the dashboard reads what to decide and what happened', { skip }, async (t) => {
  const work = await mkdtemp(path.join(tmpdir(), 'kguard-approver-view-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const policyFile = path.join(work, 'policy.yaml');
  await writeFile(policyFile, POLICY);
  const h: Harness = await startHarness({
    policyFile,
    config: {
      approval: { mode: 'hold', holdSeconds: 240, stepUpTimeoutSeconds: 240, adminTimeoutSeconds: 240, adminApprovers: 2 },
      limits: { requestTimeoutMs: 280_000 },
      admin: { authFailures: { maxFailures: 10_000 } },
    },
  });
  const secrets: Record<string, Buffer> = {};
  const tokens: Record<string, string> = {};
  const held: Promise<CallResult>[] = [];
  t.teardown(async () => {
    const pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', tokens.lee!)).json.approvals as Obj[];
    for (const a of pending ?? []) await h.admin('POST', `/admin/v1/approvals/${a.id}/refuse`, tokens.lee!, { reason: 'test over', ownCall: true });
    await Promise.all(held);
    for (const s of Object.values(secrets)) s.fill(0);
    await h.close();
  });
  tokens.lee = await h.adminToken('lee', 'admin');
  for (const [name, role, roles] of [
    ['lee', 'admin', ['approver', 'admin']],
    ['kim', 'admin', ['admin']],
    ['bob', 'approver', ['approver']],
    ['alice', 'admin', ['admin']],
  ] as const) {
    tokens[name] ??= await h.adminToken(name, role);
    const enrolled = await h.admin('POST', '/admin/v1/approvers', tokens.lee, { name, roles });
    t.equal(enrolled.status, 201, `${name} enrolled`);
    secrets[name] = base32Decode(Buffer.from(String(enrolled.json.secret), 'ascii'));
  }
  // Each approver's codes in turn: a code is single use, so the next one comes from the next time step.
  const used: Record<string, number> = {};
  const code = (name: string) => totpAt(secrets[name]!, Date.now() + 30_000 * (used[name] = (used[name] ?? -1) + 1), TOTP);

  const token = await h.token();
  held.push(h.call('kt10001', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '100', ord_uv: '74000', trde_tp: '0' }, { token }));
  held.push(h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '600', ord_uv: '', trde_tp: '3' }, { token }));
  let pending: Obj[] = [];
  await waitFor(
    async () => (pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', tokens.lee)).json.approvals as Obj[]).length === 2,
    20_000,
    'two held calls',
  );
  const sell = pending.find((a) => a.apiId === 'kt10001')!;
  const big = pending.find((a) => a.apiId === 'kt10000')!;

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  t.teardown(() => browser.close());
  const problems: string[] = [];
  async function signIn(name: string) {
    const page = await (await browser.newContext({ viewport: { width: 1440, height: 1100 } })).newPage();
    page.setDefaultTimeout(60_000);
    page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
    await page.goto(`${h.adminUrl}/`);
    await page.fill('#token', tokens[name]!);
    await page.click('#login-form button[type=submit]');
    await page.locator('#approvals .approval').first().waitFor();
    return page;
  }
  const bob = await signIn('bob');
  const lee = await signIn('lee');
  const kim = await signIn('kim');

  await t.test('a held sell: account (masked), what, how many, at what price, its KRW value, the rule, the time left', async (t) => {
    const card = bob.locator(`#approvals .approval[data-approval-id="${sell.id}"]`);
    const text = (await card.textContent()) ?? '';
    t.match(text, /\*+0011/, 'the account, masked for an approver');
    t.match(text, /종목코드\s*005930/, 'the stock code by its Korean name');
    t.match(text, /주문수량\s*100/, 'the quantity');
    t.match(text, /주문단가\s*74,000/, 'the price, grouped');
    t.match(text, /매매구분\s*보통 \(0\)/, 'the order type by Kiwoom’s name');
    t.match(text, /주문 금액\s*7,400,000원/, 'what it moves in KRW');
    t.match(text, /보류한 규칙\s*approve-size/, 'the rule that held it');
    t.match(text, /남은 시간\s*(\d+분 )?\d+초/, 'how long is left');
    t.notMatch(text, /stk_cd|ord_qty|trde_tp/, 'no raw Kiwoom field name');
    const bigCard = (await bob.locator(`#approvals .approval[data-approval-id="${big.id}"]`).textContent()) ?? '';
    t.match(bigCard, new RegExp(`주문 금액\\s*${L.marketValue}`), 'a market order’s value is its fill’s');
    t.match(bigCard, /매매구분\s*시장가 \(3\)/);
  });

  await t.test('four eyes: the first admin vote is recorded as one of two, and that admin is not offered a second', async (t) => {
    const card = lee.locator(`#approvals .approval[data-approval-id="${big.id}"]`);
    await card.locator('button.approve').click();
    await lee.fill('#dialog-field-code', code('lee'));
    await lee.click('#dialog-ok');
    await lee.locator('#dialog').waitFor({ state: 'hidden' });
    const toast = (await lee.locator('#toast').textContent()) ?? '';
    t.match(toast, L.voteRecorded, `the toast says a second approval is needed: ${toast}`);
    t.notMatch(toast, L.approved, 'not "approved"');
    await card.locator('.you-voted').waitFor();
    t.equal(await card.locator('button.approve').count(), 0, 'no approve button for the admin who voted');
    t.match(await card.locator('[data-field="votes"]').textContent(), /1 \/ 2 — lee/, 'who voted');
    t.equal((await h.admin('GET', `/admin/v1/approvals/${big.id}`, tokens.lee)).json.status, 'pending', 'still pending');
  });

  await t.test('the bot’s owner, an admin, is told it cannot approve its admin-level call, and may refuse it', async (t) => {
    const alice = await signIn('alice');
    const card = alice.locator(`#approvals .approval[data-approval-id="${big.id}"]`);
    await card.locator('.owner-cannot').waitFor();
    t.equal(await card.locator('.owner-cannot').textContent(), L.ownerCannot);
    t.equal(await card.locator('button.approve').count(), 0, 'no approve button for the owner');
    t.equal(await card.locator('button.refuse').count(), 1, 'refuse is still offered');
    const step = alice.locator(`#approvals .approval[data-approval-id="${sell.id}"]`);
    t.equal(await step.locator('button.approve').count(), 1, 'a step-up call of its own bot the owner may approve');
    await alice.context().close();
  });

  await t.test('approved by another approver while the dialog was open: the page says so, and offers nothing more', async (t) => {
    await bob.locator(`#approvals .approval[data-approval-id="${sell.id}"] button.approve`).click();
    await bob.locator('#dialog').waitFor({ state: 'visible' });
    const other = await h.admin('POST', `/admin/v1/approvals/${sell.id}/approve`, tokens.lee, { code: code('lee') });
    t.equal(other.status, 200, `lee approved it first: ${other.text}`);
    await bob.fill('#dialog-field-code', code('bob'));
    await bob.click('#dialog-ok');
    const error = bob.locator('#dialog-error');
    await error.filter({ hasText: /\S/ }).waitFor();
    t.match(await error.textContent(), new RegExp(`(${L.alreadyApproved}|${L.alreadySent}) \\(lee`), 'who decided it');
    t.notMatch(await error.textContent(), /KG3010|already/, 'not an error code in English');
    t.ok(await bob.locator('#dialog-ok').isDisabled(), 'nothing left to confirm');
    await bob.click('#dialog-cancel');
    t.equal((await held[0]).json.return_code, 0, 'the sell went out on lee’s approval');
  });

  await t.test('the bot’s sessions ended while an admin had the dialog open: the page says so', async (t) => {
    await kim.locator(`#approvals .approval[data-approval-id="${big.id}"] button.approve`).click();
    await kim.locator('#dialog').waitFor({ state: 'visible' });
    const killed = await h.admin('POST', `/admin/v1/bots/${h.botId}/kill-sessions`, tokens.lee, {});
    t.equal(killed.status, 200, 'sessions ended');
    await kim.fill('#dialog-field-code', code('kim'));
    await kim.click('#dialog-ok');
    const error = kim.locator('#dialog-error');
    await error.filter({ hasText: /\S/ }).waitFor();
    t.equal(await error.textContent(), L.closedSession, 'why it can no longer go out');
    t.ok(await kim.locator('#dialog-ok').isDisabled(), 'nothing left to confirm');
    await kim.click('#dialog-cancel');
    await kim.locator(`#approvals .approval[data-approval-id="${big.id}"]`).waitFor({ state: 'detached' });
    t.match((await held[1]).json.return_msg, /KG2007|KG3007/, 'the held call ended');
  });

  t.same(problems, [], 'no page error');
});
