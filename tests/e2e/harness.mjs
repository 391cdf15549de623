// Starts the real worker in workerd (through `wrangler dev`) on a free loopback port, with its
// own on-disk state, and gives tests small helpers for the admin and SCIM APIs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The worker bundle the tests run, made once per test process: `make build-worker` (a no-op when
 * build/index.js is up to date), then a private copy of build/ with a wrangler config that has no
 * [build] step. wrangler therefore neither rebuilds nor reloads the worker in the middle of a test
 * when someone edits src/ or rebuilds meanwhile. SCIM_E2E_SKIP_BUILD=1 uses build/ as it is.
 */
let bundle;
/** Workers still running, so that an interrupted test process leaves none behind. */
const live = new Set();
function cleanUp() {
  for (const w of live) {
    try { process.kill(-w.pid, 'SIGKILL'); } catch { /* gone */ }
    if (w.tempDir) rmSync(w.tempDir, { recursive: true, force: true });
  }
  live.clear();
  if (bundle) rmSync(bundle.dir, { recursive: true, force: true });
}
process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { cleanUp(); process.exit(128 + (signal === 'SIGINT' ? 2 : 15)); });
}

/** What build/ holds besides the bundle (deploy dry runs, conformance output): not copied. */
const NOT_BUNDLE = new Set(['dry-run', 'conformance', '.tmp']);

function prepareBundle() {
  if (bundle) return bundle;
  if (!process.env.SCIM_E2E_SKIP_BUILD) {
    const made = spawnSync('make', ['--no-print-directory', 'build-worker'], { cwd: ROOT, encoding: 'utf8' });
    if (made.status !== 0) {
      throw new Error(`make build-worker failed (${made.status}):\n${made.stdout}\n${made.stderr}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'scim-edge-bundle-'));
  const from = join(ROOT, 'build');
  cpSync(from, join(dir, 'build'), {
    recursive: true,
    filter: (src) => !NOT_BUNDLE.has(relative(from, src).split(sep)[0]),
  });
  // The project's config without its [build] table (up to the next table header).
  let inBuild = false;
  const config = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8')
    .split('\n')
    .filter((line) => {
      if (/^\s*\[/.test(line)) inBuild = /^\s*\[\s*build\s*\]/.test(line);
      return !inBuild;
    })
    .join('\n')
    .replace(/^main\s*=.*$/m, 'main = "build/index.js"');
  writeFileSync(join(dir, 'wrangler.toml'), config);
  bundle = { dir, config: join(dir, 'wrangler.toml') };
  return bundle;
}

/**
 * Variables every test worker gets unless `vars` overrides them: tests register webhook and
 * logout receivers on 127.0.0.1, which only `ALLOW_LOOPBACK_TARGETS=on` admits (as `make dev`).
 */
export const DEFAULT_VARS = Object.freeze({ ALLOW_LOOPBACK_TARGETS: 'on' });

/**
 * The `CONNECTION_ID_KEY` secret of every worker this test process starts (connection ids carry a
 * MAC under it): one per process, so a worker restarted on the same `persistTo` state still
 * verifies the ids it made. `vars: { CONNECTION_ID_KEY: … }` overrides it ('' leaves it unset).
 */
export const CONNECTION_ID_KEY = randomBytes(32).toString('hex');

/**
 * Starts the worker. `persistTo` keeps state across restarts when given; `vars` adds to or
 * overrides environment variables (`--var NAME:value`), starting from DEFAULT_VARS.
 * Returns { url, adminToken, appToken, persistTo, stop() }.
 */
export async function startWorker({ persistTo, adminToken, appToken, vars = {} } = {}) {
  const { config } = prepareBundle();
  const port = await freePort();
  const dir = persistTo ?? mkdtempSync(join(tmpdir(), 'scim-edge-e2e-'));
  const token = adminToken ?? `adm_${randomBytes(24).toString('hex')}`;
  const appSecret = appToken ?? `app_${randomBytes(24).toString('hex')}`;
  const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
  const child = spawn(
    wrangler,
    [
      'dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port), '--persist-to', dir,
      '--var', `ADMIN_TOKEN:${token}`, '--var', `APP_API_TOKEN:${appSecret}`,
      ...Object.entries({ ...DEFAULT_VARS, CONNECTION_ID_KEY, ...vars }).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
      '--show-interactive-dev-session=false',
      '--inspector-port', String(await freePort()),
    ],
    { cwd: ROOT, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const entry = { pid: child.pid, tempDir: persistTo ? undefined : dir };
  live.add(entry);
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      live.delete(entry);
      throw new Error(`wrangler dev exited early:\n${log}`);
    }
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      live.delete(entry);
      throw new Error(`worker did not start within 90 s:\n${log}`);
    }
    await sleep(200);
  }
  return {
    url,
    adminToken: token,
    appToken: appSecret,
    persistTo: dir,
    log: () => log,
    async stop({ keepState = Boolean(persistTo) } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
        await Promise.race([exited, sleep(5000)]);
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      live.delete(entry);
      if (!keepState) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One HTTP call. `token` null (or undefined) sends no Authorization header; an `authorization`
 * entry in `headers` is sent as given. A string, Uint8Array or ReadableStream body is sent as is
 * (a stream without Content-Length); anything else as JSON.
 */
export async function call(url, method, token, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (token != null && !('authorization' in init.headers)) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      init.body = body;
    } else if (body instanceof ReadableStream) {
      init.body = body;
      init.duplex = 'half';
    } else {
      init.body = JSON.stringify(body);
    }
    if (!init.headers['content-type']) init.headers['content-type'] = 'application/scim+json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** An admin API call; `token` null sends no Authorization header. */
/** The app's runtime API: `path` below `/v1`. */
export function app(server, method, path, body, token = server.appToken) {
  return call(`${server.url}/v1${path}`, method, token, body, { 'content-type': 'application/json' });
}

export function admin(server, method, path, body, token = server.adminToken) {
  return call(`${server.url}/admin/v1${path}`, method, token, body, { 'content-type': 'application/json' });
}

/**
 * Creates a connection and a token for it: { id, base, token, tokenId }. Its rate limit is lifted
 * to the maximum so that tests which create many resources measure behaviour, not the limiter;
 * the rate-limit tests set their own.
 */
export async function newConnection(server, name = 'Acme', tokenBody = {}) {
  const c = await admin(server, 'POST', '/connections', { name });
  if (c.status !== 201) throw new Error(`create connection: ${c.status} ${c.text}`);
  const limit = await admin(server, 'PATCH', `/connections/${c.json.id}`, { settings: { rate_limit: 10000 } });
  if (limit.status !== 200) throw new Error(`lift rate limit: ${limit.status} ${limit.text}`);
  const t = await admin(server, 'POST', `/connections/${c.json.id}/tokens`, tokenBody);
  if (t.status !== 201) throw new Error(`create token: ${t.status} ${t.text}`);
  return { id: c.json.id, base: c.json.scim_base_url, token: t.json.token, tokenId: t.json.id };
}

/** A SCIM call on a connection: path is relative to its base URL; `token` null sends none. */
export function scim(conn, method, path, body, headers = {}, token = conn.token) {
  return call(`${conn.base}${path}`, method, token, body, headers);
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

/**
 * Asserts an RFC 7644 §3.12 error response: the HTTP status, a SCIM media type, the Error schema,
 * `status` as a string equal to the HTTP status, a non-empty `detail`, and `scimType` when given
 * (`null` asserts that there is none). `context` (e.g. the request) prefixes failure messages.
 */
export function assertScimError(res, status, scimType, context = '') {
  const where = `${context ? `${context}: ` : ''}${res.status} ${res.text}`;
  assert.equal(res.status, status, where);
  assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/, where);
  assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${where}`);
  assert.deepEqual(res.json.schemas, [ERROR_SCHEMA], where);
  assert.equal(res.json.status, String(status), where);
  assert.equal(typeof res.json.detail, 'string', where);
  assert.ok(res.json.detail.trim().length > 0, `empty detail: ${where}`);
  if (scimType === null) assert.equal(res.json.scimType, undefined, where);
  else if (scimType !== undefined) assert.equal(res.json.scimType, scimType, where);
  return res.json;
}

/** Asserts an admin API error: the status, JSON media type and exactly `{error, message}`. */
export function assertAdminError(res, status, error, context = '') {
  const where = `${context ? `${context}: ` : ''}${res.status} ${res.text}`;
  assert.equal(res.status, status, where);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, where);
  assert.ok(res.json && typeof res.json === 'object', `error body is not JSON: ${where}`);
  assert.deepEqual(Object.keys(res.json).sort(), ['error', 'message'], where);
  assert.equal(res.json.error, error, where);
  assert.equal(typeof res.json.message, 'string', where);
  assert.ok(res.json.message.length > 0, where);
  return res.json;
}

/** Creates a user (`userName` plus `extra`) and asserts 201; returns the created resource. */
export async function createUser(conn, userName, extra = {}) {
  const res = await scim(conn, 'POST', '/Users', { schemas: [USER_SCHEMA], userName, ...extra });
  assert.equal(res.status, 201, `create ${userName}: ${res.status} ${res.text}`);
  return res.json;
}

/** A PatchOp body of the given operations. */
export const patchOp = (...Operations) => ({ schemas: [PATCH_OP], Operations });

/** A connection id of the right shape that was never created. */
export const unknownConnectionId = () => `con_${randomBytes(10).toString('hex')}`;

export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const BULK_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
export const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

/** Creates a group (`displayName`, member ids, `extra`) and asserts 201; returns the resource. */
export async function createGroup(conn, displayName, memberIds = [], extra = {}) {
  const res = await scim(conn, 'POST', '/Groups', {
    schemas: [GROUP_SCHEMA], displayName, members: memberIds.map((value) => ({ value })), ...extra,
  });
  assert.equal(res.status, 201, `create group ${displayName}: ${res.status} ${res.text}`);
  return res.json;
}

/**
 * Creates `count` users through POST /Bulk in batches of at most 1,000 operations, userNames
 * `${stem}${i}@${domain}`; asserts every operation is 201 and returns their ids in order.
 */
export async function bulkCreateUsers(conn, count, stem = 'bulk', domain = 'bulk.example') {
  const ids = [];
  for (let start = 0; start < count; start += 1000) {
    const n = Math.min(1000, count - start);
    const Operations = Array.from({ length: n }, (_, i) => ({
      method: 'POST', path: '/Users', bulkId: `u${start + i}`,
      data: { schemas: [USER_SCHEMA], userName: `${stem}${start + i}@${domain}` },
    }));
    const res = await scim(conn, 'POST', '/Bulk', { schemas: [BULK_REQUEST], Operations });
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.equal(res.json.Operations.length, n);
    const byBulkId = new Map(res.json.Operations.map((op) => [op.bulkId, op]));
    for (let i = 0; i < n; i += 1) {
      const op = byBulkId.get(`u${start + i}`);
      assert.equal(op?.status, '201', JSON.stringify(op));
      ids.push(op.location.split('/').pop());
    }
  }
  return ids;
}
