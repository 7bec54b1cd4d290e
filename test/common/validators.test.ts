// The precompiled schema validators (common/validators.ts): the build writes
// them, a process uses them only while they were made from the schema it
// holds, and they judge every document exactly as ajv's own compilation does
// (same verdict, same errors, so the same issue text for a security engineer).
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { CONFIG_VALIDATOR } from '../../proxy/common/config-schema.js';
import { loadValidator, validatorDigest, writeValidators, type ValidatorSpec } from '../../proxy/common/validators.js';
import { CASES_VALIDATOR, EXPLAIN_VALIDATOR } from '../../proxy/policy/cases.js';
import { POLICY_VALIDATOR } from '../../proxy/policy/load.js';
import { ROOT } from '../helpers/harness.js';

const SPECS = [CONFIG_VALIDATOR, POLICY_VALIDATOR, CASES_VALIDATOR, EXPLAIN_VALIDATOR];
const dir = mkdtempSync(path.join(tmpdir(), 'kg-validators-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeValidators(SPECS, dir);

const yamlIn = (folder: string, keep: (name: string) => boolean) =>
  readdirSync(path.join(ROOT, folder))
    .filter((f) => f.endsWith('.yaml') && keep(f))
    .map((f) => ({ name: `${folder}/${f}`, doc: parse(readFileSync(path.join(ROOT, folder, f), 'utf8')) as unknown }));

/** A seeded mutation of doc: one node somewhere replaced by a value of another kind, or a stray key added. */
function mutate(doc: unknown, seed: number): unknown {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const copy = structuredClone(doc) as Record<string, unknown>;
  const wrongs: unknown[] = [null, 'x', -1, 1.5, true, {}, [], { stray: 1 }, ['x'], '99:99'];
  let node: unknown = copy;
  for (let depth = 0; depth < 8; depth++) {
    if (node === null || typeof node !== 'object') break;
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[Math.floor(next() * keys.length)]!;
    const child = (node as Record<string, unknown>)[key];
    if (next() < 0.3 || child === null || typeof child !== 'object') {
      if (next() < 0.15 && !Array.isArray(node)) (node as Record<string, unknown>).strayKey = 1;
      else (node as Record<string, unknown>)[key] = wrongs[Math.floor(next() * wrongs.length)];
      break;
    }
    node = child;
  }
  return copy;
}

function disagreements(t: Test, spec: ValidatorSpec, docs: { name: string; doc: unknown }[]): string[] {
  const pre = loadValidator(spec, dir);
  const compiled = loadValidator(spec, path.join(dir, 'none'));
  t.equal(pre.source, 'precompiled');
  t.equal(compiled.source, 'compiled');
  const out: string[] = [];
  for (const { name, doc } of docs) {
    const a = pre.validate(doc);
    const ea = JSON.stringify(pre.validate.errors ?? null);
    const b = compiled.validate(doc);
    const eb = JSON.stringify(compiled.validate.errors ?? null);
    if (a !== b || ea !== eb) out.push(`${name}: ${a}/${b} ${ea.slice(0, 300)} | ${eb.slice(0, 300)}`);
  }
  return out.slice(0, 3); // a few, short: enough to see what differs
}

t.test('the precompiled validators judge every document as ajv compiling the schema does', async (t) => {
  const policies = [
    ...yamlIn('policies', (f) => !f.includes('.cases.')),
    ...yamlIn('policies/examples', (f) => !f.includes('.cases.')),
    ...yamlIn('test/fixtures', (f) => f.startsWith('policy-')),
    ...yamlIn('bench/risk', (f) => f.endsWith('policy.yaml')),
  ];
  t.ok(policies.length >= 8, `${policies.length} policy files`);
  const mutatedPolicies = policies.flatMap((p) => Array.from({ length: 60 }, (_, i) => ({ name: `${p.name}#${i}`, doc: mutate(p.doc, i + 1) })));
  const policyVerdicts = disagreements(t, POLICY_VALIDATOR, [...policies, ...mutatedPolicies]);
  t.same(policyVerdicts, [], `policies: ${policies.length} files and ${mutatedPolicies.length} broken copies`);
  t.ok(
    mutatedPolicies.some(({ doc }) => !loadValidator(POLICY_VALIDATOR, dir).validate(doc)),
    'the broken copies include invalid ones',
  );

  const cases = [...yamlIn('policies', (f) => f.includes('.cases.')), ...yamlIn('policies/examples', (f) => f.includes('.cases.'))];
  const mutatedCases = cases.flatMap((c) => Array.from({ length: 40 }, (_, i) => ({ name: `${c.name}#${i}`, doc: mutate(c.doc, i + 7) })));
  t.same(disagreements(t, CASES_VALIDATOR, [...cases, ...mutatedCases]), [], `cases: ${cases.length} files, ${mutatedCases.length} broken copies`);
  const calls = cases.flatMap((c) => ((c.doc as { cases: unknown[] }).cases ?? []).slice(0, 20).map((doc, i) => ({ name: `${c.name}[${i}]`, doc })));
  const mutatedCalls = calls.map((c, i) => ({ name: `${c.name}~`, doc: mutate(c.doc, i + 3) }));
  t.same(disagreements(t, EXPLAIN_VALIDATOR, [...calls, ...mutatedCalls]), [], `explain calls: ${calls.length + mutatedCalls.length}`);

  const configs = [
    { name: 'deploy/docker/kguard.yaml', doc: parse(readFileSync(path.join(ROOT, 'deploy/docker/kguard.yaml'), 'utf8')) as unknown },
    { name: 'empty', doc: {} },
  ];
  const mutatedConfigs = configs.flatMap((c) => Array.from({ length: 80 }, (_, i) => ({ name: `${c.name}#${i}`, doc: mutate(c.doc, i + 11) })));
  t.same(disagreements(t, CONFIG_VALIDATOR, [...configs, ...mutatedConfigs]), [], `configs: ${mutatedConfigs.length} broken copies`);
  t.ok(
    mutatedConfigs.some(({ doc }) => !loadValidator(CONFIG_VALIDATOR, dir).validate(doc)),
    'the broken configs include invalid ones',
  );
});

t.test('a validator file made from another schema, another ajv option or nothing usable is not used', async (t) => {
  const spec: ValidatorSpec = { name: 'probe', schema: { type: 'object', properties: { a: { type: 'integer' } } }, options: { strict: true } };
  const own = mkdtempSync(path.join(tmpdir(), 'kg-validators-stale-'));
  t.teardown(() => rmSync(own, { recursive: true, force: true }));
  t.equal(loadValidator(spec, own).source, 'compiled', 'no file: compiled');
  writeValidators([spec], own);
  t.equal(loadValidator(spec, own).source, 'precompiled', 'the file made from this schema is used');
  const edited: ValidatorSpec = { ...spec, schema: { type: 'object', properties: { a: { type: 'string' } } } };
  const fromEdited = loadValidator(edited, own);
  t.equal(fromEdited.source, 'compiled', 'the schema was edited since the build: compiled afresh');
  t.equal(fromEdited.validate({ a: 'x' }), true, 'and judged by the edited schema');
  t.equal(loadValidator({ ...spec, options: { strict: true, allErrors: true } }, own).source, 'compiled', 'other ajv options: compiled');
  t.not(validatorDigest(spec), validatorDigest(edited));
  writeFileSync(path.join(own, 'probe.cjs'), 'module.exports = function () { return true; };\n');
  const undigested = loadValidator(spec, own);
  t.equal(undigested.source, 'compiled', 'a file without its digest: compiled');
  t.equal(undigested.validate({ a: 'x' }), false);
  writeFileSync(path.join(own, 'probe.cjs'), 'module.exports = function (');
  t.throws(
    () => loadValidator(spec, own),
    /precompiled validator .*probe\.cjs cannot be loaded .*rebuild with npm run build/,
    'a damaged file stops the process, named',
  );
});

t.test(
  'npm test runs on the validators the build wrote (pretest)',
  { skip: process.env.npm_lifecycle_event !== 'test' && 'only under npm test' },
  async (t) => {
    for (const spec of SPECS) t.equal(loadValidator(spec).source, 'precompiled', `${spec.name}: precompiled by the build`);
  },
);
