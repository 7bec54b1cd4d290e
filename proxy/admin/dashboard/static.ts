// Serves the dashboard's three files on the admin listener: GET / (HTML),
// /dashboard.js and /dashboard.css, built once in the sidecar's language and
// held in memory (nothing is read from disk per request, so no path can
// reach a file). They carry no data and need no token, like /healthz; every
// datum the page shows comes from the /admin/v1 routes with the admin token.
// Any other path falls through to the listener's routing (404 when unknown).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Language } from '../../common/errors.js';
import { CLIENT_CORE } from './client-core.js';
import { CLIENT_PANELS } from './client-panels.js';
import { dashboardLabels } from './labels.js';
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

/** The script: the labels, then both halves, in one function so nothing leaks to the page's globals. */
export function dashboardScript(language: Language): string {
  return `(function () {\n'use strict';\nconst L = ${JSON.stringify(dashboardLabels(language))};\n${CLIENT_CORE}\n${CLIENT_PANELS}\nstart();\n})();\n`;
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
