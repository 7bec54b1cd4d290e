// Serves the dashboard's three files on the admin listener: GET / (HTML),
// /dashboard.js and /dashboard.css, built once in the sidecar's language and
// held in memory (nothing is read from disk per request, so no path can
// reach a file). They carry no data and need no token, like /healthz; every
// datum the page shows comes from the /admin/v1 routes with the admin token.
// Any other path falls through to the listener's routing (404 when unknown).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Language } from '../../common/errors.js';
import { allApis } from '../../kiwoom/catalogue.js';
import { CLIENT_CORE } from './client-core.js';
import { CLIENT_PANELS } from './client-panels.js';
import { dashboardLabels, tradeTypeNames } from './labels.js';
import { DASHBOARD_CSS, dashboardHtml } from './page.js';

/** Same origin only, no inline script or style, no framing, no plugins, no form posts anywhere. */
export const DASHBOARD_CSP = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  'cache-control': 'no-store',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

const asset = (text: string, type: string): Asset => ({ body: Buffer.from(text, 'utf8'), type });

/**
 * What each order, modify and cancel api-id does, in the page's language, so an approver reads "주식 매도주문" (a sell)
 * and not only "kt10001" on a held call: Kiwoom's own name in Korean; in English the book, the side or the kind.
 */
export function orderApiNames(language: Language): Record<string, string> {
  const calls = allApis().filter((e) => e.kind === 'order' || e.kind === 'modify' || e.kind === 'cancel');
  return Object.fromEntries(calls.map((e) => [e.apiId, language === 'ko' ? e.name : `${e.market ?? 'stock'} ${e.side ? `${e.side} order` : e.kind}`]));
}

/** The script: the labels, order and order-type names, then both halves, in one function so nothing leaks to the page's globals. */
export function dashboardScript(language: Language): string {
  const head = [
    `const L = ${JSON.stringify(dashboardLabels(language))};`,
    `const API_NAMES = ${JSON.stringify(orderApiNames(language))};`,
    `const TRADE_TYPES = ${JSON.stringify(tradeTypeNames(language))};`,
  ].join('\n');
  return `(function () {\n'use strict';\n${head}\n${CLIENT_CORE}\n${CLIENT_PANELS}\nstart();\n})();\n`;
}

export const DASHBOARD_PATHS = ['/', '/dashboard.js', '/dashboard.css'] as const;

/** Returns a request handler that answers the dashboard's files and returns false for anything else. */
export function dashboardAssets(language: Language): (req: IncomingMessage, res: ServerResponse) => boolean {
  const assets: Record<string, Asset> = {
    '/': asset(dashboardHtml(language, dashboardLabels(language)), 'text/html; charset=utf-8'),
    '/dashboard.js': asset(dashboardScript(language), 'text/javascript; charset=utf-8'),
    '/dashboard.css': asset(DASHBOARD_CSS, 'text/css; charset=utf-8'),
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = new URL(req.url ?? '/', 'http://admin').pathname;
    const a = Object.hasOwn(assets, pathname) ? assets[pathname] : undefined;
    if (!a) return false;
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': a.type, 'content-length': a.body.length });
    res.end(req.method === 'HEAD' ? undefined : a.body);
    return true;
  };
}
