// Sessions and refresh tokens through the worker in workerd: the app registers them, introspects
// them, and the identity provider's deactivation or deletion — in each dialect — ends them at
// once, with a user.sessions_revoked event; reactivation revives nothing. The app's own calls
// are events too (session.created|ended, refresh_token.created|revoked).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  startWorker, admin, app, newConnection, scim, createUser, patchOp, assertAdminError, BULK_REQUEST,
} from './harness.mjs';

let server;
let conn;

before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Sessions');
});
after(async () => { await server?.stop(); });

const A = (method, path, body) => app(server, method, `/connections/${conn.id}${path}`, body);

async function register(user, name) {
  const s = await A('POST', '/sessions', { sid: `sid-${name}`, user_id: user.id, client_id: 'web' });
  assert.equal(s.status, 201, s.text);
  assert.equal(s.json.active, true);
  const t = await A('POST', '/refresh-tokens', { refresh_token: `rt-${name}`, user_id: user.id, client_id: 'web', sid: `sid-${name}` });
  assert.equal(t.status, 201, t.text);
  assert.ok(!t.text.includes(`rt-${name}"`), 'the token is never echoed');
  const hash = createHash('sha256').update(`offline-${name}`).digest('hex');
  const o = await A('POST', '/refresh-tokens', { token_hash: hash, user_id: user.id, client_id: 'cli' });
  assert.equal(o.status, 201, o.text);
  return { sessionTokenId: t.json.id, offlineId: o.json.id };
}

async function introspect(body) {
  const r = await A('POST', '/introspect', body);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const asks = (name) => [{ sid: `sid-${name}` }, { refresh_token: `rt-${name}` }, { refresh_token: `offline-${name}` }];

async function assertActive(user, name) {
  for (const body of asks(name)) {
    const r = await introspect(body);
    assert.equal(r.active, true, JSON.stringify(body));
    assert.equal(r.user_id, user.id);
    assert.equal(r.sub, user.userName);
  }
}

async function assertInactive(name) {
  for (const body of asks(name)) assert.deepEqual(await introspect(body), { active: false }, JSON.stringify(body));
}

async function revokedEvents(userId) {
  const r = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200`);
  assert.equal(r.status, 200, r.text);
  return r.json.events.filter((e) => e.type === 'user.sessions_revoked' && e.data.user_id === userId);
}

async function deactivatesEverything(name, deactivate, reason = 'deactivated') {
  const user = await createUser(conn, `${name}@sessions.example`);
  const ids = await register(user, name);
  await assertActive(user, name);
  const r = await deactivate(user);
  assert.ok(r.status < 300, r.text);
  await assertInactive(name);
  const events = await revokedEvents(user.id);
  assert.equal(events.length, 1);
  const { data } = events[0];
  assert.equal(data.reason, reason);
  assert.equal(data.subject, user.userName);
  assert.deepEqual(data.sessions, [{ sid: `sid-${name}`, client_id: 'web' }]);
  assert.deepEqual(
    [...data.refresh_tokens].sort((a, b) => a.client_id.localeCompare(b.client_id)),
    [{ id: ids.offlineId, client_id: 'cli', sid: null }, { id: ids.sessionTokenId, client_id: 'web', sid: `sid-${name}` }],
  );
  return user;
}

test('a session is registered, introspected, listed and logged out by the app', async () => {
  const user = await createUser(conn, 'app@sessions.example');
  const s = await A('POST', '/sessions', { sid: 'app-1', user_id: user.id, client_id: 'web', expires_at: '2999-01-01T00:00:00Z' });
  assert.equal(s.status, 201, s.text);
  assert.equal(s.json.expires_at, '2999-01-01T00:00:00.000Z');
  const r = await introspect({ sid: 'app-1' });
  assert.deepEqual(r, { active: true, user_id: user.id, client_id: 'web', sid: 'app-1', sub: 'app@sessions.example', exp: 32472144000 });
  assertAdminError(await A('POST', '/sessions', { sid: 'app-1', user_id: user.id, client_id: 'web' }), 409, 'conflict');
  assertAdminError(await A('POST', '/sessions', { sid: 'app-2', user_id: 'nobody', client_id: 'web' }), 404, 'not_found');
  assertAdminError(await A('POST', '/sessions', { sid: 'app-2', user_id: user.id, client_id: 'web', expires_at: '2001-01-01T00:00:00Z' }), 400, 'invalid_request');
  assertAdminError(await A('POST', '/introspect', { sid: 'app-1', token_hash: 'a'.repeat(64) }), 400, 'invalid_request');
  assertAdminError(await A('POST', '/introspect', {}), 400, 'invalid_request');
  const logout = await A('DELETE', '/sessions/app-1');
  assert.equal(logout.status, 204);
  assert.deepEqual(await introspect({ sid: 'app-1' }), { active: false });
  const listed = await A('GET', `/users/${user.id}/sessions`);
  assert.equal(listed.status, 200, listed.text);
  assert.equal(listed.json.sessions[0].revoked_reason, 'logout');
  assertAdminError(await A('DELETE', '/sessions/never'), 404, 'not_found');
});

test("the app's own calls are events with actor app and the call's request id, never the token", async () => {
  const user = await createUser(conn, 'events@sessions.example');
  const s = await A('POST', '/sessions', { sid: 'ev-1', user_id: user.id, client_id: 'web' });
  assert.equal(s.status, 201, s.text);
  const t = await A('POST', '/refresh-tokens', { refresh_token: 'rt-ev-secret', user_id: user.id, client_id: 'web', sid: 'ev-1' });
  assert.equal(t.status, 201, t.text);
  const out = await A('DELETE', '/sessions/ev-1');
  assert.equal(out.status, 204, out.text);
  const log = [];
  for (let after = ''; ;) {
    const r = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200${after && `&after=${after}`}`);
    assert.equal(r.status, 200, r.text);
    log.push(...r.json.events);
    if (!r.json.next_after) break;
    after = r.json.next_after;
  }
  const mine = log.filter((e) => e.actor === 'app' && e.data.user_id === user.id);
  const requestId = (res) => res.headers.get('x-request-id');
  assert.ok(requestId(s) && requestId(t) && requestId(out), 'every response carries x-request-id');
  assert.deepEqual(mine.map((e) => [e.type, e.request_id, e.data]), [
    ['session.created', requestId(s), { sid: 'ev-1', user_id: user.id, client_id: 'web', expires_at: null }],
    ['refresh_token.created', requestId(t), { id: t.json.id, user_id: user.id, client_id: 'web', sid: 'ev-1' }],
    ['session.ended', requestId(out), { sid: 'ev-1', user_id: user.id, client_id: 'web', refresh_tokens: [t.json.id] }],
  ]);
  const hash = createHash('sha256').update('rt-ev-secret').digest('hex');
  const raw = JSON.stringify(log);
  assert.ok(!raw.includes('rt-ev-secret') && !raw.toLowerCase().includes(hash), 'no token or hash in the log');
  // Logging out again changes nothing and records nothing.
  assert.equal((await A('DELETE', '/sessions/ev-1')).status, 204);
  const again = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200&after=${log.at(-1).id}`);
  assert.deepEqual(again.json.events, []);
});

test('Okta deactivation (pathless PATCH) ends sessions and refresh tokens at once', async () => {
  await deactivatesEverything('okta', (u) => scim(conn, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'replace', value: { active: false } })));
});

test('Entra deactivation ("False" as a string) ends them', async () => {
  await deactivatesEverything('entra', (u) => scim(conn, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' })));
});

test('PUT with active false ends them', async () => {
  await deactivatesEverything('put', (u) => scim(conn, 'PUT', `/Users/${u.id}`, { userName: u.userName, active: false }));
});

test('DELETE ends them with reason deleted', async () => {
  await deactivatesEverything('delete', (u) => scim(conn, 'DELETE', `/Users/${u.id}`), 'deleted');
});

test('a Bulk PATCH deactivation ends them', async () => {
  await deactivatesEverything('bulk', async (u) => {
    const r = await scim(conn, 'POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [{ method: 'PATCH', path: `/Users/${u.id}`, data: patchOp({ op: 'replace', path: 'active', value: false }) }],
    });
    assert.equal(r.json.Operations[0].status, '200', r.text);
    return r;
  });
});

test('reactivation revives nothing; new sessions need registering again', async () => {
  const user = await deactivatesEverything('back', (u) => scim(conn, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'replace', value: { active: false } })));
  assertAdminError(await A('POST', '/sessions', { sid: 'back-2', user_id: user.id, client_id: 'web' }), 409, 'conflict');
  const r = await scim(conn, 'PATCH', `/Users/${user.id}`, patchOp({ op: 'replace', value: { active: true } }));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.active, true);
  await assertInactive('back');
  const listed = await A('GET', `/users/${user.id}/sessions`);
  assert.ok([...listed.json.sessions, ...listed.json.refresh_tokens].every((x) => x.revoked_reason === 'deactivated' && !x.active));
  const fresh = await A('POST', '/sessions', { sid: 'back-2', user_id: user.id, client_id: 'web' });
  assert.equal(fresh.status, 201, fresh.text);
  assert.equal((await introspect({ sid: 'back-2' })).active, true);
});

test('a failed SCIM write revokes nothing', async () => {
  const user = await createUser(conn, 'safe@sessions.example');
  await register(user, 'safe');
  const r = await scim(conn, 'PATCH', `/Users/${user.id}`, patchOp(
    { op: 'replace', path: 'active', value: false },
    { op: 'replace', path: 'id', value: 'x' },
  ));
  assert.equal(r.status, 400, r.text);
  await assertActive(user, 'safe');
  assert.equal((await revokedEvents(user.id)).length, 0);
});

test('group membership changes record group.member.added and group.member.removed', async () => {
  const a = await createUser(conn, 'member-a@sessions.example');
  const b = await createUser(conn, 'member-b@sessions.example');
  const g = await scim(conn, 'POST', '/Groups', { displayName: 'Members', members: [{ value: a.id }] });
  assert.equal(g.status, 201, g.text);
  const p = await scim(conn, 'PATCH', `/Groups/${g.json.id}`, patchOp(
    { op: 'add', path: 'members', value: [{ value: b.id }] },
    { op: 'remove', path: `members[value eq "${a.id}"]` },
  ));
  assert.equal(p.status, 200, p.text);
  const r = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200`);
  const member = r.json.events.filter((e) => e.type.startsWith('group.member.') && e.data.group_id === g.json.id);
  assert.deepEqual(member.map((e) => [e.type, e.data.display_name, e.data.members]), [
    ['group.member.added', 'Members', [{ value: a.id, type: 'User' }]],
    ['group.member.added', 'Members', [{ value: b.id, type: 'User' }]],
    ['group.member.removed', 'Members', [{ value: a.id, type: 'User' }]],
  ]);
});

test('sessions and refresh tokens belong to their connection: another one neither sees nor ends them', async () => {
  const other = await newConnection(server, 'Sessions elsewhere');
  const B = (method, path, body) => app(server, method, `/connections/${other.id}${path}`, body);
  const user = await createUser(conn, 'isolated@sessions.example');
  await register(user, 'isolated');
  // B knows neither the user nor the session nor the token.
  const foreign = await B('POST', '/sessions', { sid: 'sid-b', user_id: user.id, client_id: 'web' });
  assertAdminError(foreign, 404, 'not_found');
  for (const body of asks('isolated')) {
    const r = await B('POST', '/introspect', body);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { active: false }, JSON.stringify(body));
  }
  assertAdminError(await B('DELETE', '/sessions/sid-isolated'), 404, 'not_found');
  assertAdminError(await B('GET', `/users/${user.id}/sessions`), 404, 'not_found');
  // The same sid in B is B's own and does not collide.
  const bUser = await createUser(other, 'isolated@sessions.example');
  const own = await B('POST', '/sessions', { sid: 'sid-isolated', user_id: bUser.id, client_id: 'web' });
  assert.equal(own.status, 201, own.text);
  // Deactivating B's user ends B's session only.
  const off = await scim(other, 'PATCH', `/Users/${bUser.id}`, patchOp({ op: 'replace', value: { active: false } }));
  assert.equal(off.status, 200, off.text);
  assert.deepEqual((await B('POST', '/introspect', { sid: 'sid-isolated' })).json, { active: false });
  await assertActive(user, 'isolated');
});
