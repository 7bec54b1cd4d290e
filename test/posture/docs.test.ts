// The documents the posture check and the alerts point at: every posture
// recommendation's link resolves to an anchor in both security guides (Korean
// and English), the guides cover the four rules, every link between the
// guides and the runbook resolves, and every alert in
// deploy/prometheus/alerts.yaml has a section in docs/operations.md that its
// runbook_url annotation (when present) points at.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { GUIDE, POSTURE_CHECKS, recommendationOf } from '../../proxy/admin/posture-checks.js';
import { ROOT } from '../helpers/harness.js';

const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');
const DOCS = {
  [GUIDE.ko]: read(GUIDE.ko),
  [GUIDE.en]: read(GUIDE.en),
  'docs/operations.md': read('docs/operations.md'),
} as Record<string, string>;

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Explicit <a id> anchors and heading anchors of a Markdown text. */
export function anchors(md: string): Set<string> {
  const out = new Set<string>();
  for (const m of md.matchAll(/<a id="([^"]+)"><\/a>/g)) out.add(m[1]!);
  for (const m of md.matchAll(/^#{1,6}\s+(.+)$/gm)) out.add(slug(m[1]!));
  return out;
}

t.test('anchors() reads explicit anchors and GitHub heading slugs', async (t) => {
  const a = anchors('<a id="x-1"></a>\n\n## Hello, World (v2)\n### KiwoomGuardNotReady\n');
  t.same([...a].sort(), ['hello-world-v2', 'kiwoomguardnotready', 'x-1']);
});

t.test('every posture recommendation links to an anchor in both security guides', async (t) => {
  for (const check of POSTURE_CHECKS) {
    const r = recommendationOf(check);
    for (const link of [r.link.ko, r.link.en]) {
      const [file, anchor] = link.split('#') as [string, string];
      t.ok(DOCS[file], `${check.id}: ${file} exists`);
      t.ok(anchors(DOCS[file]!).has(anchor), `${check.id}: ${link} resolves`);
    }
    // The section names the check and its weight, in both languages.
    for (const file of [GUIDE.ko, GUIDE.en]) t.match(DOCS[file]!, `(${check.id}, ${check.weight})`, `${file} names ${check.id} and its weight`);
  }
});

t.test('both guides carry the four rules, each with a kiwoom-guard step', async (t) => {
  const rules: [string, RegExp][] = [
    ['never-share-keys', /kguard keys import/],
    ['rotate-regularly', /kguard keys rotate/],
    ['trusted-machines-only', /listen\.host: 127\.0\.0\.1/],
    ['report-unknown-trades', /kguard lockdown --bot/],
  ];
  for (const file of [GUIDE.ko, GUIDE.en]) {
    const md = DOCS[file]!;
    for (const [anchor, step] of rules) {
      t.ok(anchors(md).has(anchor), `${file}: #${anchor}`);
      const section = md.slice(md.indexOf(`<a id="${anchor}">`)).split(/\n<a id=/)[0]!;
      t.match(section, step, `${file}#${anchor} gives the concrete step`);
    }
  }
  t.match(DOCS[GUIDE.ko]!, '키 공유 금지', 'the Korean guide names the rule as the seed does');
  const explicit = (md: string) => [...md.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!);
  t.same(explicit(DOCS[GUIDE.ko]!), explicit(DOCS[GUIDE.en]!), 'the two guides have the same sections in the same order');
});

t.test('every relative link in the guides and the runbook resolves', async (t) => {
  for (const [file, md] of Object.entries(DOCS)) {
    for (const m of md.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [rel, anchor] = target.split('#') as [string, string | undefined];
      const resolved = rel ? path.join(path.dirname(file), rel) : file;
      let text: string;
      try {
        text = DOCS[resolved] ?? read(resolved);
      } catch {
        t.fail(`${file}: link ${target} names a missing file`);
        continue;
      }
      if (anchor) t.ok(anchors(text).has(anchor), `${file}: ${target}`);
    }
  }
});

interface Alert {
  alert: string;
  annotations?: Record<string, string>;
}

const alerts: Alert[] = (parse(read('deploy/prometheus/alerts.yaml')) as { groups: { rules: Alert[] }[] }).groups.flatMap((g) =>
  g.rules.filter((r) => r.alert),
);

t.test('docs/operations.md has a section for every alert', async (t) => {
  t.ok(alerts.length > 20, `${alerts.length} alerts`);
  const ops = anchors(DOCS['docs/operations.md']!);
  for (const a of alerts) t.ok(ops.has(a.alert.toLowerCase()), `#${a.alert.toLowerCase()}`);
  const sections = [...DOCS['docs/operations.md']!.matchAll(/^### (KiwoomGuard\w+)$/gm)].map((m) => m[1]!);
  t.same(
    sections.filter((s) => !alerts.some((a) => a.alert === s)),
    [],
    'no section for an alert that does not exist',
  );
});

t.test("every alert's runbook_url points at its existing anchor in docs/operations.md", async (t) => {
  const ops = anchors(DOCS['docs/operations.md']!);
  const missing: string[] = [];
  for (const a of alerts) {
    const url = a.annotations?.runbook_url;
    if (url === undefined) {
      missing.push(a.alert);
      continue;
    }
    const m = /(?:^|\/)docs\/operations\.md#([\w-]+)$/.exec(url);
    t.ok(m, `${a.alert}: runbook_url ${url} names docs/operations.md#anchor`);
    if (m) {
      t.ok(ops.has(m[1]!), `${a.alert}: #${m[1]} exists`);
      t.equal(m[1], a.alert.toLowerCase(), `${a.alert}: points at its own section`);
    }
  }
  // deploy/ belongs to another engineer: a missing annotation is reported, not failed, until it is added.
  if (missing.length > 0)
    t.fail(`${missing.length} alerts have no runbook_url yet`, {
      todo: `add runbook_url: "docs/operations.md#<alert name in lower case>" to ${missing.join(', ')}`,
    });
});
