// The language a command prints for people in: --lang where the command has it, else the configured `language`
// (Korean unless set). Codes, ids, fingerprints, file names and numbers are printed as they are in both; --json
// output is never translated.
import { errorMessage, type GuardError, type Language } from '../common/errors.js';
import { configFromFlags } from './args.js';
import type { CliIO } from './types.js';

type Source = { readonly values: Readonly<Record<string, unknown>>; readonly io: CliIO };

function flagged(values: Readonly<Record<string, unknown>>): Language | undefined {
  const flag = values.lang;
  return flag === 'ko' || flag === 'en' ? flag : undefined;
}

/** --lang, else the configured language (Korean by default); `config` when the command has read it already. */
export async function cliLanguage(ctx: Source, config?: { readonly language: Language }): Promise<Language> {
  return flagged(ctx.values) ?? (config ?? (await configFromFlags(ctx.values, ctx.io))).language;
}

/**
 * As cliLanguage, but it never throws (for an error report the configuration may be what failed; a command on the
 * admin API may not need it): then KGUARD_LANGUAGE if it names one, else Korean.
 */
export async function languageOrDefault(ctx: Source): Promise<Language> {
  try {
    return await cliLanguage(ctx);
  } catch {
    return ctx.io.env.KGUARD_LANGUAGE === 'en' ? 'en' : 'ko';
  }
}

/** A GuardError as the CLI prints it: the code, the catalogue's message in `lang`, the detail as it is. */
export function guardErrorText(err: GuardError, lang: Language): string {
  return `${err.code}: ${errorMessage(err.code, lang)}${err.detail ? ` (${err.detail})` : ''}`;
}
