// A command line the command cannot run: a missing or malformed argument or
// option. KG9004 in the catalogue; `detail` is what was wrong, in words.
// Wherever it comes from (the dispatcher's own checks or a handler), kguard
// prints `kguard <command>: <detail>`, a usage line and the code on stderr,
// and exits 2 (runner.ts).
import { GuardError } from '../common/errors.js';

export class UsageError extends GuardError {
  constructor(detail: string) {
    super('KG9004', detail);
    this.name = 'UsageError';
  }
}
