// Offline schema checks for rendered Kubernetes objects, from the npm
// packages kubernetes-models (Kubernetes 1.33 OpenAPI) and
// @kubernetes-models/prometheus-operator (the ServiceMonitor and
// PrometheusRule CRDs):
// - validateObject: each model's JSON Schema validator (ajv, compiled into
//   the package): types, enums, required fields, formats. Like the API
//   server's OpenAPI, it lets unknown fields through...
// - typeCheckObjects: ...so every object is also written as an object literal
//   typed with the package's interface and compiled: TypeScript's
//   excess-property check names any field Kubernetes does not know (a typo
//   such as `readinesProbe`, which the API server would drop with a warning).
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/harness.js';
import type { K8sObject } from './render.js';

const require = createRequire(import.meta.url);

/** The package module that models an apiVersion + kind. */
export function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Throws with ajv's messages (instance path + problem) when the object breaks its schema. */
export async function validateObject(o: K8sObject): Promise<void> {
  const mod = (await import(modelModule(o.apiVersion, o.kind))) as Record<string, ModelClass | undefined>;
  const Cls = mod[o.kind];
  if (!Cls) throw new Error(`${modelModule(o.apiVersion, o.kind)} has no ${o.kind}`);
  new Cls(structuredClone(o)).validate();
}

/**
 * Compiles `const o: I<Kind> = <object>` for every object in one program and
 * returns the diagnostics, each prefixed with the object it is about.
 */
export function typeCheckObjects(objects: readonly K8sObject[]): string[] {
  const file = path.join(ROOT, 'test', 'deploy', '__rendered_manifests__.ts');
  const chunks: string[] = [];
  const owners: { line: number; id: string }[] = [];
  let lineNo = 0;
  const emit = (text: string) => {
    chunks.push(text);
    lineNo += text.split('\n').length;
  };
  objects.forEach((o, i) => {
    emit(`import type { I${o.kind} as T${i} } from ${JSON.stringify(modelModule(o.apiVersion, o.kind))};`);
  });
  objects.forEach((o, i) => {
    owners.push({ line: lineNo, id: `${o.kind}/${o.metadata.name}` });
    emit(`export const o${i}: T${i} = ${JSON.stringify(o, null, 2)};`);
  });
  const source = chunks.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const diagnostics = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()];
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    const owner = [...owners].reverse().find((o) => o.line <= line);
    const snippet = d.file.text.split('\n')[line]?.trim();
    return `${owner?.id ?? '?'}: ${text} (at: ${snippet})`;
  });
}

/** Where the schema packages come from, for the test's report. */
export function schemaPackages(): string[] {
  return ['kubernetes-models', '@kubernetes-models/prometheus-operator'].map((p) => {
    const pkg = require(path.join(ROOT, 'node_modules', p, 'package.json')) as { version: string };
    return `${p}@${pkg.version}`;
  });
}
