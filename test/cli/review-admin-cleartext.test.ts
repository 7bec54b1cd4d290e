// Review regression (a security engineer's): the CLI sent the admin token over plain HTTP to any --admin-url, and
// `bots import` sends Kiwoom keys and bot secrets with it: anyone on the path got them all. Now plain HTTP goes only
// to this machine (loopback, a port-forward, the unspecified address the sidecar binds); elsewhere it takes https
// (admin.tls), or KGUARD_ADMIN_ALLOW_HTTP=1 where a service mesh encrypts the path. Refused before any connection.
import t from 'tap';
import { adminClientFrom } from '../../proxy/cli/admin-common.js';
import { kguardInProcess } from './run-cli.js';

const io = (env: Record<string, string> = {}) => ({ env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }) as never;
const client = (url: string, env: Record<string, string> = {}) => adminClientFrom({ 'admin-url': url, 'token-file': '/nonexistent/token' }, io(env));

t.test('plain HTTP to another machine is refused; loopback, https and the explicit opt-in are not', async (t) => {
  for (const url of ['http://10.0.0.7:9090/admin/v1', 'http://kiwoom-guard.trading.svc:9090/admin/v1', 'http://[2001:db8::1]:9090/admin/v1'])
    await t.rejects(client(url), { message: /refusing to send the admin token over plain HTTP to .*: use https \(admin\.tls\) or a loopback address/ }, url);
  for (const url of [
    'http://127.0.0.1:9090/admin/v1',
    'http://127.8.9.10:9090/admin/v1',
    'http://localhost:9090/admin/v1',
    'http://[::1]:9090/admin/v1',
    'http://0.0.0.0:9090/admin/v1',
    'https://kiwoom-guard.trading.svc:9443/admin/v1',
  ])
    t.ok(await client(url), `${url}: allowed`);
  t.ok(await client('http://10.0.0.7:9090/admin/v1', { KGUARD_ADMIN_ALLOW_HTTP: '1' }), 'KGUARD_ADMIN_ALLOW_HTTP=1: allowed');
  t.ok((await client('http://10.0.0.7:9090/admin/v1', { KGUARD_ADMIN_ALLOW_HTTP: 'yes' }).catch(() => false)) === false, 'only "1" opts in');
});

t.test('a command refuses before reading the token or connecting: a usage error, exit 2', async (t) => {
  const r = await kguardInProcess([
    'lockdown',
    '--bot',
    'trend-bot',
    '--reason',
    'x',
    '--admin-url',
    'http://10.0.0.7:9090/admin/v1',
    '--token-file',
    '/nonexistent',
  ]);
  t.equal(r.code, 2);
  t.match(r.stderr, /refusing to send the admin token over plain HTTP to 10\.0\.0\.7/);
});
