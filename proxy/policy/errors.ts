// Errors from reading a policy file. Each issue names file, line and column
// (1-based) so security staff can jump straight to the mistake.
import { GuardError, type Language } from '../common/errors.js';
import { issueText, type IssueArgs } from './issue-text.js';

export interface PolicyIssue {
  file: string;
  line: number;
  column: number;
  /** Where in the document, e.g. rules[3].maxQuantity */
  path: string;
  /** Stable name of the problem (issue-text.ts), e.g. unknown-key; with `args`, the text in either language. */
  code: string;
  args: IssueArgs;
  /** The English text (the admin API and the reload answer show it). */
  message: string;
  /** The id of the rule the problem is in, when the rule has one. */
  rule?: string;
}

/** Issues listed in a PolicyLoadError's message (`issues` keeps them all, for `kguard policy check`). */
export const MESSAGE_ISSUES = 50;

/**
 * KG3017: a policy (or policy test) file is invalid; `detail` is the file, the count and the first MESSAGE_ISSUES
 * issues: the message reaches /admin/v1/policy (polled by the dashboard) and the reload answer, and a megabyte of
 * broken YAML yields tens of thousands of issues.
 */
export class PolicyLoadError extends GuardError {
  readonly file: string;
  readonly issues: readonly PolicyIssue[];
  readonly at: string;

  constructor(file: string, unsorted: PolicyIssue[]) {
    const issues = [...unsorted].sort((a, b) => a.line - b.line || a.column - b.column);
    const more = issues.length > MESSAGE_ISSUES ? `\n… and ${issues.length - MESSAGE_ISSUES} more (kguard policy check lists them all)` : '';
    super('KG3017', `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${formatIssues(issues.slice(0, MESSAGE_ISSUES))}${more}`);
    this.name = 'PolicyLoadError';
    this.file = file;
    this.issues = issues;
    this.at = new Date().toISOString();
  }
}

/** An issue at a place, its English message rendered from its code. */
export function policyIssue(at: { file: string; line: number; column: number; path: string }, code: string, args: IssueArgs = {}): PolicyIssue {
  return { ...at, code, args, message: issueText(code, args, 'en') };
}

/** One line per issue, `file:line:column: path: text [rule id]`, the text in `lang`; places and ids are never translated. */
export function formatIssues(issues: readonly PolicyIssue[], lang: Language = 'en'): string {
  const ruleLabel = lang === 'ko' ? '규칙' : 'rule';
  return issues
    .map(
      (i) =>
        `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${issueText(i.code, i.args, lang, i.message)}${i.rule === undefined ? '' : ` [${ruleLabel} ${shown(i.rule)}]`}`,
    )
    .join('\n');
}

/** A value from the file as an issue quotes it: JSON, cut short (one 900 KB string must not make a 900 KB message). */
export function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
