// Starts the real worker in workerd (through `wrangler dev`) on a free loopback port, with its
// own on-disk state, and gives tests small helpers for the admin and SCIM APIs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the worker. `persistTo` keeps state across restarts when given.
 * Returns { url, adminToken, persistTo, stop() }.
 */
export async function startWorker({ persistTo, adminToken } = {}) {
  const port = await freePort();
  const dir = persistTo ?? mkdtempSync(join(tmpdir(), 'scim-edge-e2e-'));
  const token = adminToken ?? `adm_${randomBytes(24).toString('hex')}`;
  const wrangler = join(ROOT, 'node_modules', '.bin', 'wrangler');
  const child = spawn(
    wrangler,
    [
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--persist-to', dir,
      '--var', `ADMIN_TOKEN:${token}`, '--show-interactive-dev-session=false',
      '--inspector-port', String(await freePort()),
    ],
    { cwd: ROOT, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${log}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`worker did not start within 90 s:\n${log}`);
    }
    await sleep(200);
  }
  return {
    url,
    adminToken: token,
    persistTo: dir,
    log: () => log,
    async stop({ keepState = Boolean(persistTo) } = {}) {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
        await Promise.race([exited, sleep(5000)]);
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      if (!keepState) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function call(url, method, token, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (token !== undefined) init.headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!init.headers['content-type']) init.headers['content-type'] = 'application/scim+json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

export function admin(server, method, path, body, token = server.adminToken) {
  return call(`${server.url}/admin/v1${path}`, method, token, body, { 'content-type': 'application/json' });
}

/** Creates a connection and a token for it: { id, base, token, tokenId }. */
export async function newConnection(server, name = 'Acme', tokenBody = {}) {
  const c = await admin(server, 'POST', '/connections', { name });
  if (c.status !== 201) throw new Error(`create connection: ${c.status} ${c.text}`);
  const t = await admin(server, 'POST', `/connections/${c.json.id}/tokens`, tokenBody);
  if (t.status !== 201) throw new Error(`create token: ${t.status} ${t.text}`);
  return { id: c.json.id, base: c.json.scim_base_url, token: t.json.token, tokenId: t.json.id };
}

/** A SCIM call on a connection: path is relative to its base URL. */
export function scim(conn, method, path, body, headers = {}, token = conn.token) {
  return call(`${conn.base}${path}`, method, token, body, headers);
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
