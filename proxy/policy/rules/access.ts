// Least privilege on api-ids and symbols, venues and order types.
import type { CompiledRule } from '../compiled.js';
import { say } from '../compiled.js';
import type { RuleDoc } from '../document.js';
import { TRADE_TYPE_NAMES } from '../schema.js';
import { base, BOOK_KINDS, EVERY_KIND, ORDER_KINDS, PRICED_KINDS, refuse, symbolSet, type CompileContext } from './common.js';

type Doc<T extends RuleDoc['type']> = Extract<RuleDoc, { type: T }>;

export function compileApis(doc: Doc<'allow-apis' | 'deny-apis'>, index: number, ctx: CompileContext): CompiledRule {
  const kinds = new Set<string>(doc.kinds ?? []);
  const apiIds = new Set(doc.apiIds ?? []);
  const listed = (kind: string | undefined, apiId: string) => (kind !== undefined && kinds.has(kind)) || apiIds.has(apiId);
  const { lang } = ctx;
  if (doc.type === 'allow-apis') {
    return {
      ...base(doc, index, 'apis', EVERY_KIND, true),
      needs: 0,
      grantsTransfer: kinds.has('transfer') || undefined,
      check: (f) =>
        listed(f.kind, f.apiId)
          ? undefined
          : refuse(doc, lang, `이 봇에 허용되지 않은 API입니다 (${f.apiId}, ${f.kind})`, `${f.apiId} (${f.kind}) is not on this bot's allow-list`),
    };
  }
  return {
    ...base(doc, index, 'apis', EVERY_KIND, true),
    needs: 0,
    check: (f) => (listed(f.kind, f.apiId) ? refuse(doc, lang, `금지된 API입니다 (${f.apiId}, ${f.kind})`, `${f.apiId} (${f.kind}) is denied`) : undefined),
  };
}

export function compileSymbols(doc: Doc<'allow-symbols' | 'deny-symbols'>, index: number, ctx: CompileContext): CompiledRule {
  const symbols = symbolSet(doc.symbols);
  const { lang } = ctx;
  const allow = doc.type === 'allow-symbols';
  return {
    ...base(doc, index, 'symbols', PRICED_KINDS, true),
    needs: 0,
    ...(allow ? {} : { denySymbols: symbols }),
    check: (f) => {
      if (f.symbols.length === 0) {
        // An order with no stock code cannot be judged against an allow-list: fail closed.
        return allow && (f.kind === 'order' || f.kind === 'modify')
          ? refuse(doc, lang, '종목코드(stk_cd)가 없습니다', 'no stock code (stk_cd) in the order')
          : undefined;
      }
      // Every code the call names (a quote may name several): one off the allow-list or on the deny-list refuses it.
      const named = f.symbols.find((s) => symbols.has(s) !== allow);
      if (named === undefined) return undefined;
      return {
        outcome: 'deny',
        reason:
          doc.message ??
          (allow
            ? say(lang, `허용 목록에 없는 종목입니다 (${named})`, `${named} is not on the symbol allow-list`)
            : say(lang, `거래가 제한된 종목입니다 (${named})`, `${named} is a restricted security`)),
      };
    },
  };
}

export function compileMarkets(doc: Doc<'markets'>, index: number, ctx: CompileContext): CompiledRule {
  const allowed = new Set<string>(doc.allow);
  const list = doc.allow.join(', ');
  const { lang } = ctx;
  return {
    ...base(doc, index, 'markets', BOOK_KINDS),
    needs: 0,
    check: (f) =>
      f.market !== undefined && allowed.has(f.market)
        ? undefined
        : refuse(
            doc,
            lang,
            `허용되지 않은 거래소입니다 (${f.market ?? '없음'}; 허용: ${list})`,
            `venue ${f.market ?? '(none)'} is not allowed (allowed: ${list})`,
          ),
  };
}

const CODE_NAMES: Readonly<Record<string, string>> = {
  ...Object.fromEntries(Object.entries(TRADE_TYPE_NAMES).map(([name, code]) => [code, name])),
  '00': 'limit',
};

export function compileTradeTypes(doc: Doc<'trade-types'>, index: number, ctx: CompileContext): CompiledRule {
  // Gold's plain limit order is "00" (its IOC and FOK share stock's 10 and 20): a rule on limit orders covers it.
  const codesOf = (t: string): string[] => {
    const code = TRADE_TYPE_NAMES[t] ?? t;
    return code === '0' ? ['0', '00'] : [code];
  };
  const allow = doc.allow ? new Set(doc.allow.flatMap(codesOf)) : undefined;
  const deny = new Set((doc.deny ?? []).flatMap(codesOf));
  const { lang } = ctx;
  return {
    ...base(doc, index, 'trade-types', ORDER_KINDS),
    needs: 0,
    check: (f) => {
      const tp = f.tradeType;
      const ok = tp !== undefined && (allow ? allow.has(tp) : !deny.has(tp));
      if (ok) return undefined;
      const label = tp === undefined ? say(lang, '없음', '(none)') : `${tp}${CODE_NAMES[tp] ? ` ${CODE_NAMES[tp]}` : ''}`;
      return refuse(doc, lang, `허용되지 않은 매매구분입니다 (trde_tp ${label})`, `order type trde_tp ${label} is not allowed`);
    },
  };
}
