// Renders the Kustomize overlays in deploy/kubernetes for the deploy tests.
//
// The manifests use three Kustomize features only: `resources` (files, and
// directories holding a kustomization.yaml), `images` (name, newName,
// newTag, digest) and `patches` given as a file of JSON 6902 operations (add,
// replace, remove) with a target kind and name. This file renders exactly
// that subset itself, so the tests
// run on a machine without kubectl, and refuses any other kustomization key
// (extend it here when the manifests need more). Where `kubectl kustomize` or
// `kustomize` is installed, the tests also render with it and require the same
// objects (renderWithKustomize).
//
// YAML is read as 1.1, as Kubernetes reads it: `defaultMode: 0440` is octal.
import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/harness.js';

export const KUBERNETES = path.join(ROOT, 'deploy', 'kubernetes');
export const OVERLAYS = ['sidecar', 'replicas', 'transparent-proxy', 'transparent-hosts'] as const;
export type Overlay = (typeof OVERLAYS)[number];
export const overlayDir = (o: Overlay): string => path.join(KUBERNETES, 'overlays', o);

export type Obj = Record<string, unknown>;
export interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const idOf = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;

/** YAML stream -> plain objects, as Kubernetes reads YAML (1.1). Throws on a syntax error. */
export function parseYamlStream(text: string, where: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1' })) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (!isObj(value)) throw new Error(`${where}: a document is not a mapping`);
    out.push(value as K8sObject);
  }
  return out;
}

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

interface PatchRule {
  path: string;
  target: { kind: string; name: string };
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'images', 'patches']);

export interface Kustomization {
  dir: string;
  resources: string[];
  images: ImageRule[];
  patches: PatchRule[];
}

export async function readKustomization(dir: string): Promise<Kustomization> {
  const file = path.join(dir, 'kustomization.yaml');
  const [k] = parseYamlStream(await readFile(file, 'utf8'), file) as unknown as Obj[];
  if (k?.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${file}: not a Kustomization`);
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length > 0) throw new Error(`${file}: ${unsupported.join(', ')} not rendered by test/deploy/render.ts (resources, images, patches only)`);
  const patches = (k.patches as Obj[] | undefined) ?? [];
  for (const p of patches) {
    const target = p.target as Obj | undefined;
    if (typeof p.path !== 'string' || !isObj(target) || typeof target.kind !== 'string' || typeof target.name !== 'string' || Object.keys(p).length !== 2)
      throw new Error(`${file}: a patch must be { path, target: { kind, name } } (JSON 6902 file) for test/deploy/render.ts`);
  }
  return {
    dir,
    resources: (k.resources as string[] | undefined) ?? [],
    images: (k.images as ImageRule[] | undefined) ?? [],
    patches: patches as unknown as PatchRule[],
  };
}

interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** RFC 6902 add / replace / remove, RFC 6901 pointers (`-` appends). Throws on a path that does not resolve. */
export function applyJsonPatch(target: Obj, ops: PatchOp[], where: string): void {
  for (const op of ops) {
    if (!['add', 'replace', 'remove'].includes(op.op)) throw new Error(`${where}: op ${op.op} not rendered by test/deploy/render.ts`);
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop();
    if (op.path[0] !== '/' || last === undefined) throw new Error(`${where}: bad path ${op.path}`);
    let node: unknown = target;
    for (const p of parts) {
      node = Array.isArray(node) ? node[Number(p)] : isObj(node) ? node[p] : undefined;
      if (node === undefined) throw new Error(`${where}: ${op.path} does not resolve`);
    }
    const value = structuredClone(op.value);
    if (Array.isArray(node)) {
      const i = last === '-' ? node.length : Number(last);
      if (!Number.isInteger(i) || i < 0 || i > node.length || (op.op !== 'add' && i >= node.length)) throw new Error(`${where}: ${op.path} out of range`);
      if (op.op === 'add') node.splice(i, 0, value);
      else if (op.op === 'replace') node[i] = value;
      else node.splice(i, 1);
    } else if (isObj(node)) {
      if (op.op !== 'add' && !(last in node)) throw new Error(`${where}: ${op.path} does not exist`);
      if (op.op === 'remove') delete node[last];
      else node[last] = value;
    } else throw new Error(`${where}: ${op.path} does not resolve`);
  }
}

/** `repo/name:tag` or `repo/name@sha256:...` -> the name part. */
function imageName(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at === -1 ? image : image.slice(0, at);
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}

function applyImages(objects: K8sObject[], rules: ImageRule[]): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) for (const n of node) visit(n);
    else if (isObj(node)) {
      for (const key of ['containers', 'initContainers']) {
        for (const c of (node[key] as Obj[] | undefined) ?? []) {
          if (typeof c.image !== 'string') continue;
          const rule = rules.find((r) => r.name === imageName(c.image as string));
          if (!rule) continue;
          const name = rule.newName ?? rule.name;
          const tag = rule.digest ? `@${rule.digest}` : rule.newTag ? `:${rule.newTag}` : (c.image as string).slice(imageName(c.image as string).length);
          c.image = name + tag;
        }
      }
      for (const v of Object.values(node)) visit(v);
    }
  };
  visit(objects);
}

/** Renders a kustomization directory with the subset above. */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const k = await readKustomization(dir);
  const out: K8sObject[] = [];
  for (const r of k.resources) {
    const p = path.resolve(dir, r);
    const st = await stat(p);
    out.push(...(st.isDirectory() ? await renderKustomization(p) : parseYamlStream(await readFile(p, 'utf8'), p)));
  }
  const seen = new Set<string>();
  for (const o of out) {
    if (seen.has(idOf(o))) throw new Error(`${dir}: ${idOf(o)} is defined twice`);
    seen.add(idOf(o));
  }
  for (const p of k.patches) {
    const file = path.resolve(dir, p.path);
    const objs = out.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    if (objs.length !== 1) throw new Error(`${file}: target ${p.target.kind}/${p.target.name} matches ${objs.length} objects`);
    const ops = parseAllDocuments(await readFile(file, 'utf8'), { version: '1.1' })[0]?.toJS() as unknown;
    if (!Array.isArray(ops)) throw new Error(`${file}: not a list of JSON 6902 operations`);
    applyJsonPatch(objs[0]!, ops as PatchOp[], file);
  }
  applyImages(out, k.images);
  return out;
}

export const renderOverlay = (o: Overlay): Promise<K8sObject[]> => renderKustomization(overlayDir(o));

/** The Kustomize on this machine, if any (kubectl's built-in one, or kustomize), with its version line. */
export function findKustomize(): { argv: string[]; version: string } | undefined {
  const candidates = [
    { argv: ['kubectl', 'kustomize'], version: ['kubectl', 'version', '--client'] },
    { argv: ['kustomize', 'build'], version: ['kustomize', 'version'] },
  ];
  for (const c of candidates) {
    try {
      const version = execFileSync(c.version[0]!, c.version.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 });
      return { argv: c.argv, version: version.trim().replace(/\n/g, '; ') };
    } catch {
      // not installed, or too old to answer
    }
  }
  return undefined;
}

export function renderWithKustomize(k: { argv: string[] }, dir: string): K8sObject[] {
  const out = execFileSync(k.argv[0]!, [...k.argv.slice(1), dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  return parseYamlStream(out, `${k.argv.join(' ')} ${dir}`);
}

/** Pod template of a workload, with every container (init containers first) in one list. */
export function podOf(o: K8sObject): { labels: Record<string, string>; spec: Obj; containers: Obj[]; annotations: Record<string, string> } | undefined {
  const template = (o.spec as { template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Obj } } | undefined)
    ?.template;
  if (!template) return undefined;
  const spec = template.spec;
  return {
    labels: template.metadata?.labels ?? {},
    annotations: template.metadata?.annotations ?? {},
    spec,
    containers: [...((spec.initContainers as Obj[] | undefined) ?? []), ...((spec.containers as Obj[] | undefined) ?? [])],
  };
}

/** True when every label of `selector` is on `labels`. */
export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
