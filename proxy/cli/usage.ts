// A command line the command cannot run: a missing or malformed argument or
// option. KG9004 in the catalogue; `detail` is what was wrong, in words. The
// commands that print their usage text on it (policy, sim) exit 2; anywhere
// else it reaches main(), which prints it and exits 1 as before.
import { GuardError } from '../common/errors.js';

export class UsageError extends GuardError {
  constructor(detail: string) {
    super('KG9004', detail);
    this.name = 'UsageError';
  }
}
