// KiwoomGuardHighRefusalRate ("KG5xxx usually means Kiwoom itself is failing") matched every KG5 code, KG5006
// too: the governor refusing a bot that asks one app key for more than Kiwoom's 5 calls/s, which is the bot's own
// pace and has its own alerts (KiwoomGuardGovernorRefusing, info; KiwoomGuardKiwoomRefusedForRate when Kiwoom
// itself refuses). One impatient bot opened a trading-platform ticket that sent the on-call to look at Kiwoom.
// The rule's code matchers, read from alerts.yaml and applied as Prometheus does (anchored), against the catalogue.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { ERROR_CATALOGUE } from '../../proxy/common/errors.js';
import { ROOT } from '../helpers/harness.js';

const doc = parseYaml(await readFile(path.join(ROOT, 'deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'KiwoomGuardHighRefusalRate');

/** Whether a `code` value passes every `code` matcher of the rule's kguard_requests_total selector. */
function selects(code: string): boolean {
  const sel = /kguard_requests_total\{([^}]*)\}/.exec(rule?.expr ?? '')?.[1] ?? '';
  const matchers = [...sel.matchAll(/code\s*(=~|!~|!=|=)\s*"([^"]*)"/g)];
  return matchers.every(([, op, value]) => {
    const re = new RegExp(`^(?:${value})$`);
    return op === '=' ? code === value : op === '!=' ? code !== value : op === '=~' ? re.test(code) : !re.test(code);
  });
}

t.test("the refusal-rate alert counts Kiwoom's and the sidecar's failures, not a bot's own pace", async (t) => {
  t.ok(rule, 'KiwoomGuardHighRefusalRate exists');
  for (const code of ['KG5001', 'KG5002', 'KG5003', 'KG5004', 'KG5005', 'KG5007', 'KG5008', 'KG9001', 'KG9003']) {
    t.ok(code in ERROR_CATALOGUE, `${code} is in the catalogue`);
    t.ok(selects(code), `${code} counts: Kiwoom or the sidecar is failing`);
  }
  t.notOk(selects('KG5006'), "KG5006 does not: the governor keeps one bot's key within Kiwoom's limits");
  t.notOk(selects('OK'), 'answered calls do not');
  t.notOk(selects('KG3001'), 'policy denials do not');
  // Kiwoom's own rate refusals and the governor's each still have an alert.
  const all = doc.groups.flatMap((g) => g.rules);
  t.ok(
    all.some((r) => r.expr.includes('kguard_governor_refused_total')),
    'the governor refusing has its own alert',
  );
  t.ok(
    all.some((r) => /kguard_upstream_refusals_total\{code=~"170/.test(r.expr)),
    'Kiwoom refusing for rate has its own alert',
  );
});
