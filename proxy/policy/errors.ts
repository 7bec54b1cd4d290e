// Errors from reading a policy file. Each issue names file, line and column
// (1-based) so security staff can jump straight to the mistake.
import { GuardError } from '../common/errors.js';

export interface PolicyIssue {
  file: string;
  line: number;
  column: number;
  /** Where in the document, e.g. rules[3].maxQuantity */
  path: string;
  message: string;
}

/** KG3017: a policy (or policy test) file is invalid; `detail` is the file, the count and every issue. */
export class PolicyLoadError extends GuardError {
  readonly file: string;
  readonly issues: readonly PolicyIssue[];
  readonly at: string;

  constructor(file: string, unsorted: PolicyIssue[]) {
    const issues = [...unsorted].sort((a, b) => a.line - b.line || a.column - b.column);
    super('KG3017', `${file}: ${issues.length} problem${issues.length === 1 ? '' : 's'}\n${formatIssues(issues)}`);
    this.name = 'PolicyLoadError';
    this.file = file;
    this.issues = issues;
    this.at = new Date().toISOString();
  }
}

export function formatIssues(issues: readonly PolicyIssue[]): string {
  return issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n');
}
