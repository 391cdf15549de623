// The app's runtime API (/v1) and the per-connection attribute mapping, against the worker in
// workerd: mapped profiles, filters, paging, groups, import then IdP match, mapping validation
// and preview, and that the mapping never changes what SCIM stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, admin, app, newConnection, scim, assertAdminError, USER_SCHEMA, ENTERPRISE,
} from './harness.mjs';

let server;
let conn;

before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'App API');
});
after(async () => { await server?.stop(); });

const MAPPING = {
  rules: [
    { scim: 'userName', app: 'username' },
    { scim: 'emails[type eq "work"].value', app: 'email' },
    { scim: 'name.givenName', app: 'given_name' },
    { scim: 'name.familyName', app: 'family_name' },
    { scim: 'active', app: 'blocked' },
    { scim: 'externalId', app: 'external_id' },
    { scim: `${ENTERPRISE}:department`, app: 'app_metadata.department' },
  ],
};

async function createUser(c, userName, extra = {}) {
  const r = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName, ...extra });
  assert.equal(r.status, 201, r.text);
  return r.json;
}

test('the app API needs its own secret: no token, the admin token or a SCIM token get 401', async () => {
  for (const token of [null, server.adminToken, conn.token, 'nope']) {
    const r = await app(server, 'GET', `/connections/${conn.id}/users`, undefined, token);
    assertAdminError(r, 401, 'unauthorized');
  }
});

test('mapping: PUT validates and lists every problem; GET shows it; preview maps a sample', async () => {
  const bad = await admin(server, 'PUT', `/connections/${conn.id}/mapping`, {
    rules: [
      { scim: 'shoeSize', app: 'email' },
      { scim: 'userName', app: 'email' },
      { scim: 'userName', app: 'favorite_color' },
    ],
  });
  assertAdminError(bad, 400, 'invalid_request');
  for (const word of ['shoeSize', 'favorite_color']) assert.match(bad.json.message, new RegExp(word));
  const put = await admin(server, 'PUT', `/connections/${conn.id}/mapping`, MAPPING);
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.is_default, false);
  const got = await admin(server, 'GET', `/connections/${conn.id}/mapping`);
  assert.deepEqual(got.json.mapping, MAPPING);
  const preview = await admin(server, 'POST', `/connections/${conn.id}/mapping/preview`, {
    user: {
      id: 'u1', userName: 'bjensen', active: false,
      emails: [{ value: 'home@example.com', type: 'home' }, { value: 'work@example.com', type: 'work' }],
      [ENTERPRISE]: { department: 'Tours' },
    },
  });
  assert.equal(preview.status, 200, preview.text);
  assert.equal(preview.json.profile.email, 'work@example.com');
  assert.equal(preview.json.profile.blocked, true);
  assert.equal(preview.json.profile.app_metadata.department, 'Tours');
});

test('users are served as mapped profiles, filtered and paged; SCIM still reads back what it wrote', async () => {
  const c = await newConnection(server, 'Profiles');
  assert.equal((await admin(server, 'PUT', `/connections/${c.id}/mapping`, MAPPING)).status, 200);
  const body = {
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    emails: [{ value: 'bjensen@acme.example', type: 'work' }],
    externalId: 'ext-1',
    [ENTERPRISE]: { department: 'Tours' },
  };
  const u = await createUser(c, 'bjensen@acme.example', body);
  for (let i = 0; i < 5; i += 1) await createUser(c, `user${i}@acme.example`, { active: i % 2 === 0 });
  const one = await app(server, 'GET', `/connections/${c.id}/users/${u.id}`);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json, {
    user_id: u.id, active: true, blocked: false, username: 'bjensen@acme.example',
    email: 'bjensen@acme.example', given_name: 'Barbara', family_name: 'Jensen', external_id: 'ext-1',
    app_metadata: { department: 'Tours' }, identifier: 'bjensen@acme.example',
  });
  // The connection's user_identifier setting picks the key the app matches its users on.
  assert.equal((await admin(server, 'PATCH', `/connections/${c.id}`, { settings: { user_identifier: 'externalId' } })).status, 200);
  assert.equal((await app(server, 'GET', `/connections/${c.id}/users/${u.id}`)).json.identifier, 'ext-1');
  const byEmail = await app(server, 'GET', `/connections/${c.id}/users?email=BJENSEN@acme.example`);
  assert.deepEqual(byEmail.json.users.map((p) => p.user_id), [u.id]);
  const byName = await app(server, 'GET', `/connections/${c.id}/users?username=USER1@acme.example`);
  assert.equal(byName.json.users.length, 1);
  const inactive = await app(server, 'GET', `/connections/${c.id}/users?active=false`);
  assert.deepEqual(inactive.json.users.map((p) => p.username).sort(), ['user1@acme.example', 'user3@acme.example']);
  const page1 = await app(server, 'GET', `/connections/${c.id}/users?limit=4`);
  assert.equal(page1.json.users.length, 4);
  const page2 = await app(server, 'GET', `/connections/${c.id}/users?limit=4&after=${page1.json.next_after}`);
  assert.equal(page2.json.users.length, 2);
  assert.equal(page2.json.next_after, null);
  const all = [...page1.json.users, ...page2.json.users].map((p) => p.user_id);
  assert.equal(new Set(all).size, 6);
  assertAdminError(await app(server, 'GET', `/connections/${c.id}/users?limit=0`), 400, 'invalid_request');
  // Changing the mapping changes what the app sees, never what SCIM stored.
  const before = (await scim(c, 'GET', `/Users/${u.id}`)).json;
  await admin(server, 'PUT', `/connections/${c.id}/mapping`, { rules: [{ scim: 'userName', app: 'email' }] });
  const remapped = await app(server, 'GET', `/connections/${c.id}/users/${u.id}`);
  assert.equal(remapped.json.email, 'bjensen@acme.example');
  assert.equal(remapped.json.given_name, undefined);
  assert.deepEqual((await scim(c, 'GET', `/Users/${u.id}`)).json, before);
});

test('groups and a user\'s groups', async () => {
  const c = await newConnection(server, 'Groups');
  const u = await createUser(c, 'member@acme.example');
  const g = await scim(c, 'POST', '/Groups', { displayName: 'Engineering', members: [{ value: u.id }] });
  assert.equal(g.status, 201, g.text);
  const groups = await app(server, 'GET', `/connections/${c.id}/groups`);
  assert.deepEqual(groups.json.groups, [{ id: g.json.id, name: 'Engineering', external_id: null }]);
  const one = await app(server, 'GET', `/connections/${c.id}/groups/${g.json.id}`);
  assert.deepEqual(one.json.members, [{ id: u.id, type: 'user' }]);
  const mine = await app(server, 'GET', `/connections/${c.id}/users/${u.id}/groups`);
  assert.deepEqual(mine.json.groups, [{ id: g.json.id, name: 'Engineering' }]);
});

test('import existing app users, then the IdP matches them instead of creating duplicates', async () => {
  const c = await newConnection(server, 'Import');
  assert.equal((await admin(server, 'PUT', `/connections/${c.id}/mapping`, MAPPING)).status, 200);
  const imported = await app(server, 'POST', `/connections/${c.id}/users/import`, {
    users: [
      { username: 'alice@acme.example', email: 'alice@acme.example', given_name: 'Alice', external_id: 'okta-1', plan: 'pro' },
      { username: 'bob@acme.example', email: 'bob@acme.example', blocked: true },
      { email: 'no-username@acme.example' },
    ],
  });
  assert.equal(imported.status, 200, imported.text);
  assert.equal(imported.json.created, 2);
  assert.equal(imported.json.results[0].status, 'created');
  assert.deepEqual(imported.json.results[0].ignored_fields, ['plan']);
  assert.equal(imported.json.results[2].status, 'invalid');
  // The IdP's lookups find them.
  const byName = await scim(c, 'GET', '/Users?filter=userName%20eq%20%22Alice@acme.example%22');
  assert.equal(byName.json.totalResults, 1);
  assert.equal(byName.json.Resources[0].id, imported.json.results[0].user_id);
  const byExternal = await scim(c, 'GET', '/Users?filter=externalId%20eq%20%22okta-1%22');
  assert.equal(byExternal.json.totalResults, 1);
  const bob = await scim(c, 'GET', `/Users/${imported.json.results[1].user_id}`);
  assert.equal(bob.json.active, false);
  // A POST with the same userName is a conflict, not a duplicate.
  const dup = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'alice@acme.example' });
  assert.equal(dup.status, 409);
  // Importing again reports them as existing.
  const again = await app(server, 'POST', `/connections/${c.id}/users/import`, {
    users: [{ username: 'alice@acme.example' }],
  });
  assert.equal(again.json.results[0].status, 'exists');
  // Every change is in the connection's event log, with who made it.
  const log = await admin(server, 'GET', `/connections/${c.id}/events`);
  const seen = log.json.events.map((e) => `${e.type} by ${e.actor}`);
  for (const expected of ['connection.created by admin', 'token.created by admin', 'mapping.updated by admin', 'user.created by app']) {
    assert.ok(seen.includes(expected), `${expected} missing from ${seen.join(', ')}`);
  }
  const imports = log.json.events.filter((e) => e.type === 'user.created' && e.actor === 'app');
  assert.deepEqual(imports.map((e) => e.data.user_id).sort(), [imported.json.results[0].user_id, imported.json.results[1].user_id].sort());
});

test('another connection\'s users are never visible through the app API', async () => {
  const a = await newConnection(server, 'A');
  const b = await newConnection(server, 'B');
  const bu = await createUser(b, 'only-in-b@acme.example');
  const r = await app(server, 'GET', `/connections/${a.id}/users/${bu.id}`);
  assertAdminError(r, 404, 'not_found');
  const list = await app(server, 'GET', `/connections/${a.id}/users`);
  assert.equal(list.json.users.length, 0);
});
