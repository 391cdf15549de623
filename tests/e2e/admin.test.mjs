// The admin API (/admin/v1): ADMIN_TOKEN authentication, connections and their bearer tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, admin, app, newConnection, scim, call, assertAdminError, assertScimError,
  unknownConnectionId, USER_SCHEMA,
} from './harness.mjs';

let server;
before(async () => { server = await startWorker(); });
after(async () => { await server?.stop(); });

const CONNECTION_ID = /^con_[0-9a-f]{20}$/;
const ALL_SCOPES = ['read:users', 'write:users', 'read:groups', 'write:groups'];

function assertTimestamp(value, { near = Date.now(), within = 5 * 60_000 } = {}) {
  assert.equal(typeof value, 'string', `not a timestamp: ${value}`);
  assert.match(value, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const ms = Date.parse(value);
  assert.ok(Math.abs(ms - near) < within, `${value} is not near now`);
}

async function createConnection(name) {
  const res = await admin(server, 'POST', '/connections', { name });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function allConnectionIds() {
  const ids = [];
  let after;
  for (let page = 0; page < 100; page += 1) {
    const res = await admin(server, 'GET', `/connections?limit=100${after ? `&after=${after}` : ''}`);
    assert.equal(res.status, 200, res.text);
    ids.push(...res.json.connections.map((c) => c.id));
    if (!res.json.next_after) return ids;
    after = res.json.next_after;
  }
  throw new Error('connection listing does not end');
}

test('admin API without a token, with a wrong token or a non-Bearer scheme answers 401 {error, message}', async () => {
  const existing = await allConnectionIds();
  for (const [method, path, body] of [
    ['GET', '/connections'],
    ['POST', '/connections', { name: 'Intruder' }],
    ['GET', `/connections/${unknownConnectionId()}`],
    ['POST', `/connections/${unknownConnectionId()}/tokens`, {}],
  ]) {
    const missing = await admin(server, method, path, body, null);
    assertAdminError(missing, 401, 'unauthorized');
    const wrong = await admin(server, method, path, body, `${server.adminToken}x`);
    assertAdminError(wrong, 401, 'unauthorized');
    assert.deepEqual(wrong.json, missing.json);
    const basic = await call(`${server.url}/admin/v1${path}`, method, null, body, {
      authorization: `Basic ${Buffer.from(`admin:${server.adminToken}`).toString('base64')}`,
    });
    assertAdminError(basic, 401, 'unauthorized');
    const raw = await call(`${server.url}/admin/v1${path}`, method, null, body, {
      authorization: server.adminToken,
    });
    assertAdminError(raw, 401, 'unauthorized');
  }
  // Nothing was created by the rejected POST.
  assert.deepEqual(await allConnectionIds(), existing);
});

test('create a connection: 201 with id, name, scim_base_url and created_at', async () => {
  const started = Date.now();
  const res = await admin(server, 'POST', '/connections', { name: 'Acme Corp' });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const c = res.json;
  assert.match(c.id, CONNECTION_ID);
  assert.equal(c.name, 'Acme Corp');
  assert.equal(c.scim_base_url, `${server.url}/scim/v2/${c.id}`);
  assertTimestamp(c.created_at, { near: started });

  // Two connections never share an id.
  const other = await createConnection('Acme Corp');
  assert.notEqual(other.id, c.id);
});

test('get a connection by id returns what create returned; unknown and malformed ids are 404', async () => {
  const created = await createConnection('Globex');
  const got = await admin(server, 'GET', `/connections/${created.id}`);
  assert.equal(got.status, 200, got.text);
  // Everything create returned, plus the connection's settings and live token count.
  assert.deepEqual({ ...got.json, settings: undefined, active_tokens: undefined }, { ...created, settings: undefined, active_tokens: undefined });
  assert.equal(typeof got.json.settings, 'object');

  assertAdminError(await admin(server, 'GET', `/connections/${unknownConnectionId()}`), 404, 'not_found');
  assertAdminError(await admin(server, 'GET', '/connections/not-a-connection'), 404, 'not_found');
});

test('list connections pages with limit and next_after, in creation order, without repeats', async () => {
  const created = [];
  for (let i = 0; i < 5; i += 1) created.push((await createConnection(`Paged ${i}`)).id);

  const seen = [];
  let after;
  let pages = 0;
  for (;;) {
    const res = await admin(server, 'GET', `/connections?limit=2${after ? `&after=${after}` : ''}`);
    assert.equal(res.status, 200, res.text);
    const { connections, next_after: next } = res.json;
    assert.ok(Array.isArray(connections));
    assert.ok(connections.length <= 2, `page of ${connections.length} with limit=2`);
    for (const c of connections) {
      assert.match(c.id, CONNECTION_ID);
      assert.equal(c.scim_base_url, `${server.url}/scim/v2/${c.id}`);
      assert.equal(typeof c.name, 'string');
      assertTimestamp(c.created_at);
    }
    assert.ok(connections.length > 0 || pages === 0, 'next_after led to an empty page');
    seen.push(...connections.map((c) => c.id));
    pages += 1;
    if (next === null || next === undefined) break;
    assert.equal(connections.length, 2, 'a page before the last one is full');
    assert.equal(next, connections.at(-1).id, 'next_after is the last id of the page');
    after = next;
    assert.ok(pages < 50, 'paging does not end');
  }
  assert.equal(new Set(seen).size, seen.length, `repeated ids: ${seen}`);
  // The five new connections all appear, in the order they were created, and last.
  assert.deepEqual(seen.slice(-5), created);
  assert.deepEqual(seen, await allConnectionIds());

  const first = await admin(server, 'GET', '/connections?limit=1');
  assert.equal(first.status, 200);
  assert.equal(first.json.connections.length, 1);
  assert.equal(first.json.connections[0].id, seen[0]);
  assert.equal(first.json.next_after, seen[0]);

  for (const bad of ['0', '-1', 'abc', '1.5']) {
    assertAdminError(await admin(server, 'GET', `/connections?limit=${bad}`), 400, 'invalid_request');
  }
});

test('a bad create body is 400 invalid_request and creates nothing', async () => {
  const existing = await allConnectionIds();
  const bodies = [
    {}, // missing name
    { name: 'Acme', plan: 'gold' }, // unknown field
    '{"name": "Acme"', // invalid JSON
    'not json at all',
    { name: 42 },
    { name: '' },
    { name: '   ' },
    { name: null },
    ['Acme'],
  ];
  for (const body of bodies) {
    const res = await admin(server, 'POST', '/connections', body);
    assertAdminError(res, 400, 'invalid_request', `POST /connections ${JSON.stringify(body)}`);
  }
  assert.deepEqual(await allConnectionIds(), existing);
});

test('create a token: 201 with a scim_ secret shown once; the list never shows a secret', async () => {
  const c = await createConnection('Tokens Inc');
  const started = Date.now();
  const res = await admin(server, 'POST', `/connections/${c.id}/tokens`, {});
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const t = res.json;
  assert.deepEqual(Object.keys(t).sort(), ['created_at', 'expires_at', 'id', 'scopes', 'token']);
  assert.match(t.token, /^scim_[A-Za-z0-9_-]{40,}$/);
  assert.equal(typeof t.id, 'string');
  assert.ok(t.id.length > 0);
  assert.ok(!t.id.includes(t.token) && !t.token.includes(t.id));
  assert.deepEqual([...t.scopes].sort(), [...ALL_SCOPES].sort(), 'no scopes asked: all of them');
  assertTimestamp(t.created_at, { near: started });
  assert.equal(t.expires_at, null);

  // An empty body means the same as {}.
  const second = await admin(server, 'POST', `/connections/${c.id}/tokens`, '');
  assert.equal(second.status, 201, second.text);
  assert.notEqual(second.json.token, t.token);
  assert.notEqual(second.json.id, t.id);

  // The token works on its connection's SCIM URL.
  const conn = { base: c.scim_base_url, token: t.token };
  assert.equal((await scim(conn, 'GET', '/Users')).status, 200);

  const list = await admin(server, 'GET', `/connections/${c.id}/tokens`);
  assert.equal(list.status, 200, list.text);
  assert.ok(Array.isArray(list.json.tokens));
  const listed = list.json.tokens.find((x) => x.id === t.id);
  assert.ok(listed, `token ${t.id} not listed: ${list.text}`);
  assert.deepEqual(listed.scopes, t.scopes);
  assert.equal(listed.created_at, t.created_at);
  assert.equal(listed.expires_at, null);
  assert.deepEqual(list.json.tokens.map((x) => x.id).sort(), [t.id, second.json.id].sort());
  for (const entry of list.json.tokens) assert.equal(entry.token, undefined);
  // No secret, in any form, anywhere in the listing.
  for (const secret of [t.token, second.json.token]) {
    assert.ok(!list.text.includes(secret), 'secret in the token list');
    assert.ok(!list.text.includes(secret.slice('scim_'.length)), 'secret body in the token list');
  }
});

test('bad token requests are 400; tokens of an unknown connection are 404', async () => {
  const c = await createConnection('Token errors');
  for (const body of [
    { scopes: ['read:everything'] },
    { scopes: [] },
    { scopes: 'read:users' },
    { expires_in: 'soon' },
    { lifetime: 60 },
    '{"scopes": [',
    [null, null], // an array is not an object, even if its length matches the fields
  ]) {
    assertAdminError(await admin(server, 'POST', `/connections/${c.id}/tokens`, body), 400, 'invalid_request', `POST tokens ${JSON.stringify(body)}`);
  }
  const list = await admin(server, 'GET', `/connections/${c.id}/tokens`);
  assert.deepEqual(list.json.tokens, [], 'a rejected request issued no token');

  const ghost = unknownConnectionId();
  assertAdminError(await admin(server, 'POST', `/connections/${ghost}/tokens`, {}), 404, 'not_found');
  assertAdminError(await admin(server, 'GET', `/connections/${ghost}/tokens`), 404, 'not_found');
  assertAdminError(await admin(server, 'POST', '/connections/nope/tokens', {}), 404, 'not_found');
  // Asking for a token did not bring the connection into existence.
  assertAdminError(await admin(server, 'GET', `/connections/${ghost}`), 404, 'not_found');
  assertScimError(await scim({ base: `${server.url}/scim/v2/${ghost}`, token: 'scim_x' }, 'GET', '/Users'), 401);
});

test('revoking a token: 204, then that token gets 401 at once while others keep working', async () => {
  const conn = await newConnection(server, 'Revoke Ltd');
  const spare = await admin(server, 'POST', `/connections/${conn.id}/tokens`, {});
  assert.equal(spare.status, 201);
  assert.equal((await scim(conn, 'GET', '/Users')).status, 200);

  const res = await admin(server, 'DELETE', `/connections/${conn.id}/tokens/${conn.tokenId}`);
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');

  for (const [method, path, body] of [
    ['GET', '/Users'],
    ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'after.revoke@example.com' }],
    ['GET', '/ServiceProviderConfig'],
  ]) {
    const denied = await scim(conn, method, path, body);
    assertScimError(denied, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
  }
  const other = await scim(conn, 'GET', '/Users', undefined, {}, spare.json.token);
  assert.equal(other.status, 200, other.text);
  assert.equal(other.json.totalResults, 0, 'the POST with the revoked token created nothing');

  assertAdminError(await admin(server, 'DELETE', `/connections/${conn.id}/tokens/tok_0000000000000000`), 404, 'not_found');
});

test('deleting a connection: 204, then its SCIM URL answers exactly like a never-existing one', async () => {
  const conn = await newConnection(server, 'Doomed');
  await (async () => {
    const r = await scim(conn, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'doomed@example.com' });
    assert.equal(r.status, 201, r.text);
  })();

  const del = await admin(server, 'DELETE', `/connections/${conn.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');

  const ghost = { base: `${server.url}/scim/v2/${unknownConnectionId()}`, token: 'scim_wrongwrongwrong' };
  const reference = await scim(ghost, 'GET', '/Users');
  assertScimError(reference, 401);
  for (const [method, path, body] of [
    ['GET', '/Users'],
    ['GET', '/Users?filter=userName%20eq%20%22doomed@example.com%22'],
    ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'zombie@example.com' }],
    ['GET', '/ServiceProviderConfig'],
  ]) {
    const res = await scim(conn, method, path, body);
    assert.equal(res.status, 401, `${method} ${path}: ${res.status} ${res.text}`);
    assert.equal(res.text, reference.text, 'same body as a never-existing connection');
    assert.equal(res.headers.get('www-authenticate'), reference.headers.get('www-authenticate'));
    assert.equal(res.headers.get('content-type'), reference.headers.get('content-type'));
  }

  assertAdminError(await admin(server, 'GET', `/connections/${conn.id}`), 404, 'not_found');
  assertAdminError(await admin(server, 'DELETE', `/connections/${conn.id}`), 404, 'not_found');
  assert.ok(!(await allConnectionIds()).includes(conn.id));
  // No new credentials for a deleted connection, and it stays dead.
  assertAdminError(await admin(server, 'POST', `/connections/${conn.id}/tokens`, {}), 404, 'not_found');
  assertAdminError(await admin(server, 'GET', `/connections/${conn.id}/tokens`), 404, 'not_found');
  assert.equal((await scim(conn, 'GET', '/Users')).status, 401);
});

test('deleting an unknown connection is 404; unknown admin routes are 404 JSON', async () => {
  assertAdminError(await admin(server, 'DELETE', `/connections/${unknownConnectionId()}`), 404, 'not_found');
  assertAdminError(await admin(server, 'GET', '/nothing-here'), 404, 'not_found');
});

test('connection settings: defaults, update with validation listing every problem, rename', async () => {
  const created = await createConnection('Settings Co');
  const got = await admin(server, 'GET', `/connections/${created.id}`);
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.json.settings, {
    idp: 'generic', user_identifier: 'userName', rate_limit: 50, request_log: { mask_pii: false, failed_event_bodies: false },
  });
  assert.equal(got.json.active_tokens, 0);
  const bad = await admin(server, 'PATCH', `/connections/${created.id}`, {
    settings: { idp: 'myspace', user_identifier: 'email', rate_limit: 0 },
  });
  assertAdminError(bad, 400, 'invalid_request');
  for (const field of ['idp', 'user_identifier', 'rate_limit']) assert.match(bad.json.message, new RegExp(field));
  assertAdminError(await admin(server, 'PATCH', `/connections/${created.id}`, { colour: 'red' }), 400, 'invalid_request');
  assertAdminError(await admin(server, 'PATCH', `/connections/${created.id}`, { name: '' }), 400, 'invalid_request');
  const unchanged = await admin(server, 'GET', `/connections/${created.id}`);
  assert.deepEqual(unchanged.json, got.json, 'a refused update changes nothing');
  const updated = await admin(server, 'PATCH', `/connections/${created.id}`, {
    name: 'Settings Co (EU)', settings: { idp: 'entra', rate_limit: 30 },
  });
  assert.equal(updated.status, 200, updated.text);
  assert.equal(updated.json.name, 'Settings Co (EU)');
  assert.deepEqual(updated.json.settings, {
    idp: 'entra', user_identifier: 'userName', rate_limit: 30, request_log: { mask_pii: false, failed_event_bodies: false },
  });
  const listed = await admin(server, 'GET', '/connections?limit=100');
  assert.equal(listed.json.connections.find((c) => c.id === created.id).name, 'Settings Co (EU)');
  assertAdminError(await admin(server, 'PATCH', `/connections/${unknownConnectionId()}`, { name: 'x' }), 404, 'not_found');
});

// Hardening item 6: answers that carry secrets or personal data say `Cache-Control: no-store`;
// only public documents (keys, discovery) may be cached.
test('hardening 6: secrets and personal data are never cacheable', async () => {
  const c = await newConnection(server, 'No store');
  const checks = [
    ['token issue', await admin(server, 'POST', `/connections/${c.id}/tokens`, {})],
    ['setup link', await admin(server, 'POST', `/connections/${c.id}/setup-links`, {})],
    ['connection', await admin(server, 'GET', `/connections/${c.id}`)],
    ['SCIM create', await scim(c, 'POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'nostore@example.com' })],
    ['SCIM list', await scim(c, 'GET', '/Users')],
    ['SCIM error', await scim(c, 'GET', '/Users/nope')],
    ['app users', await app(server, 'GET', `/connections/${c.id}/users`)],
    ['admin error', await admin(server, 'GET', '/connections/con_00000000000000000000')],
  ];
  for (const [what, res] of checks) {
    assert.ok(res.status < 500, `${what}: ${res.status}`);
    assert.equal(res.headers.get('cache-control'), 'no-store', what);
  }
  // A public document keeps its own caching.
  const discovery = await fetch(`${server.url}/connections/${c.id}/.well-known/openid-configuration`);
  assert.equal(discovery.status, 200);
  assert.match(discovery.headers.get('cache-control') ?? '', /^public, max-age=/);
});
