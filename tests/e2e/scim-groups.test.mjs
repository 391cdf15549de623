// Groups (RFC 7643 §4.2, RFC 7644 §3) and Bulk (RFC 7644 §3.7) against the worker in workerd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, admin, assertScimError, createUser, patchOp,
} from './harness.mjs';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Groups');
});
after(async () => { await server?.stop(); });

const ids = (group) => (group.members ?? []).map((m) => m.value);

async function newGroup(c, displayName, members = [], extra = {}) {
  const r = await scim(c, 'POST', '/Groups', {
    schemas: [GROUP], displayName, members: members.map((value) => ({ value })), ...extra,
  });
  assert.equal(r.status, 201, r.text);
  return r;
}

test('RFC 7644 §3.3 group CRUD: members with $ref and type, User.groups, PUT, DELETE', async () => {
  const alice = await createUser(conn, 'alice@groups.example');
  const bob = await createUser(conn, 'bob@groups.example');
  const created = await newGroup(conn, 'Tour Guides', [alice.id, bob.id]);
  const g = created.json;
  assert.equal(created.headers.get('location'), g.meta.location);
  assert.equal(created.headers.get('etag'), g.meta.version);
  assert.equal(g.meta.resourceType, 'Group');
  assert.deepEqual(ids(g), [alice.id, bob.id]);
  assert.equal(g.members[0].type, 'User');
  assert.equal(g.members[0].$ref, `${conn.base}/Users/${alice.id}`);
  const user = (await scim(conn, 'GET', `/Users/${alice.id}`)).json;
  assert.deepEqual(user.groups, [{ value: g.id, $ref: `${conn.base}/Groups/${g.id}`, display: 'Tour Guides', type: 'direct' }]);
  const put = await scim(conn, 'PUT', `/Groups/${g.id}`, { schemas: [GROUP], displayName: 'Guides', members: [{ value: bob.id }] });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(ids(put.json), [bob.id]);
  assert.equal(put.json.meta.version, 'W/"2"');
  assert.equal((await scim(conn, 'GET', `/Users/${alice.id}`)).json.groups, undefined);
  assert.equal((await scim(conn, 'DELETE', `/Groups/${g.id}`)).status, 204);
  assertScimError(await scim(conn, 'GET', `/Groups/${g.id}`), 404);
});

test('deleting a user removes it from its groups and bumps their version', async () => {
  const u = await createUser(conn, 'leaver@groups.example');
  const stay = await createUser(conn, 'stayer@groups.example');
  const g = (await newGroup(conn, 'Leavers', [u.id, stay.id])).json;
  assert.equal((await scim(conn, 'DELETE', `/Users/${u.id}`)).status, 204);
  const after = (await scim(conn, 'GET', `/Groups/${g.id}`)).json;
  assert.deepEqual(ids(after), [stay.id]);
  assert.equal(after.meta.version, 'W/"2"');
});

test('displayName is unique per connection, case-insensitively (409 uniqueness)', async () => {
  await newGroup(conn, 'Admins');
  assertScimError(await scim(conn, 'POST', '/Groups', { schemas: [GROUP], displayName: 'ADMINS' }), 409, 'uniqueness');
  const other = await newConnection(server, 'Other');
  assert.equal((await scim(other, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Admins' })).status, 201);
});

test('members outside the connection are never stored, including another connection\'s user', async () => {
  const other = await newConnection(server, 'Elsewhere');
  const foreign = await createUser(other, 'foreign@groups.example');
  const local = await createUser(conn, 'local@groups.example');
  const g = (await newGroup(conn, 'Mixed', [foreign.id, 'no-such-user', local.id])).json;
  assert.deepEqual(ids(g), [local.id]);
  const patched = await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: foreign.id }] }));
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(ids(patched.json), [local.id]);
  assert.equal(patched.json.meta.version, g.meta.version, 'nothing changed');
});

test('excludedAttributes=members, and filters on displayName and members', async () => {
  const u = await createUser(conn, 'filtered@groups.example');
  const g = (await newGroup(conn, 'Filtered', [u.id])).json;
  const one = await scim(conn, 'GET', `/Groups/${g.id}?excludedAttributes=members`);
  assert.equal(one.json.members, undefined);
  assert.equal(one.json.displayName, 'Filtered');
  const byName = await scim(conn, 'GET', '/Groups?filter=displayName%20eq%20%22filtered%22');
  assert.deepEqual(byName.json.Resources.map((r) => r.id), [g.id]);
  const filter = encodeURIComponent(`members[value eq "${u.id}"]`);
  const byMember = await scim(conn, 'GET', `/Groups?filter=${filter}&excludedAttributes=members`);
  assert.deepEqual(byMember.json.Resources.map((r) => r.id), [g.id]);
  assert.equal(byMember.json.Resources[0].members, undefined);
});

test('group scopes: a users-only token gets 403 on /Groups', async () => {
  const t = await admin(server, 'POST', `/connections/${conn.id}/tokens`, { scopes: ['read:users', 'write:users'] });
  assert.equal(t.status, 201, t.text);
  const limited = { base: conn.base, token: t.json.token };
  assertScimError(await scim(limited, 'GET', '/Groups'), 403);
  assertScimError(await scim(limited, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Nope' }), 403);
  assert.equal((await admin(server, 'DELETE', `/connections/${conn.id}/tokens/${t.json.id}`)).status, 204);
});

test('a 2,000-member group: built with Bulk and PATCH, one member added and one removed', async () => {
  const c = await newConnection(server, 'Large');
  const users = [];
  for (let batch = 0; batch < 2; batch += 1) {
    const Operations = Array.from({ length: 1000 }, (_, i) => ({
      method: 'POST', path: '/Users', bulkId: `u${batch * 1000 + i}`,
      data: { userName: `member${batch * 1000 + i}@large.example` },
    }));
    const r = await scim(c, 'POST', '/Bulk', { schemas: [BULK], Operations });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    for (const op of r.json.Operations) {
      assert.equal(op.status, '201', JSON.stringify(op));
      users.push(op.location.split('/').pop());
    }
  }
  const g = (await newGroup(c, 'Everyone')).json;
  for (let i = 0; i < users.length; i += 500) {
    const value = users.slice(i, i + 500).map((id) => ({ value: id }));
    const r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'add', path: 'members', value }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.members, undefined);
  }
  assert.equal((await scim(c, 'GET', `/Groups/${g.id}`)).json.members.length, 2000);
  const extra = await createUser(c, 'extra@large.example');
  const r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp(
    { op: 'add', path: 'members', value: [{ value: extra.id }] },
    { op: 'remove', path: `members[value eq "${users[7]}"]` },
  ));
  assert.equal(r.status, 200, r.text);
  const full = (await scim(c, 'GET', `/Groups/${g.id}`)).json;
  assert.equal(full.members.length, 2000);
  assert.ok(ids(full).includes(extra.id));
  assert.ok(!ids(full).includes(users[7]));
});

test('RFC 7644 §3.7 Bulk: forward bulkId reference, response shape, advertised limits', async () => {
  const spc = (await scim(conn, 'GET', '/ServiceProviderConfig')).json;
  assert.deepEqual(spc.bulk, { supported: true, maxOperations: 1000, maxPayloadSize: 1048576 });
  const r = await scim(conn, 'POST', '/Bulk', {
    schemas: [BULK],
    Operations: [
      { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP], displayName: 'Bulk Team', members: [{ type: 'User', value: 'bulkId:u' }] } },
      { method: 'POST', path: '/Users', bulkId: 'u', data: { userName: 'bulk.user@groups.example' } },
    ],
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.schemas, [BULK_RESPONSE]);
  const byId = Object.fromEntries(r.json.Operations.map((op) => [op.bulkId, op]));
  for (const op of Object.values(byId)) {
    assert.equal(op.method, 'POST');
    assert.equal(op.status, '201');
    assert.match(op.version, /^W\/"\d+"$/);
  }
  const userId = byId.u.location.split('/').pop();
  const group = (await scim(conn, 'GET', byId.g.location.replace(conn.base, ''))).json;
  assert.deepEqual(ids(group), [userId]);
});

test('Bulk: cycles are 409 per operation, failOnErrors stops, versions are checked', async () => {
  const cycle = await scim(conn, 'POST', '/Bulk', {
    schemas: [BULK],
    Operations: [
      { method: 'POST', path: '/Groups', bulkId: 'a', data: { displayName: 'Cycle A', members: [{ value: 'bulkId:b' }] } },
      { method: 'POST', path: '/Groups', bulkId: 'b', data: { displayName: 'Cycle B', members: [{ value: 'bulkId:a' }] } },
    ],
  });
  assert.deepEqual(cycle.json.Operations.map((o) => o.status), ['409', '409']);
  const none = await scim(conn, 'GET', '/Groups?filter=displayName%20sw%20%22Cycle%22');
  assert.equal(none.json.totalResults, 0);

  const u = await createUser(conn, 'versioned@groups.example');
  const stopped = await scim(conn, 'POST', '/Bulk', {
    schemas: [BULK], failOnErrors: 1,
    Operations: [
      { method: 'PATCH', path: `/Users/${u.id}`, version: 'W/"1"', data: patchOp({ op: 'replace', path: 'displayName', value: 'V2' }) },
      { method: 'PUT', path: `/Users/${u.id}`, version: 'W/"1"', data: { userName: 'versioned@groups.example' } },
      { method: 'DELETE', path: `/Users/${u.id}` },
    ],
  });
  assert.deepEqual(stopped.json.Operations.map((o) => o.status), ['200', '412']);
  assert.equal(stopped.json.Operations[1].response.status, '412');
  const still = (await scim(conn, 'GET', `/Users/${u.id}`)).json;
  assert.equal(still.displayName, 'V2', 'the first operation stays applied');
});

test('Bulk: over 1,000 operations or over 1 MiB is 413 with a SCIM error', async () => {
  const many = Array.from({ length: 1001 }, (_, i) => ({ method: 'DELETE', path: `/Users/x${i}` }));
  assertScimError(await scim(conn, 'POST', '/Bulk', { schemas: [BULK], Operations: many }), 413);
  const big = { schemas: [BULK], Operations: [{ method: 'POST', path: '/Users', bulkId: 'x', data: { userName: 'x', displayName: 'y'.repeat(1_100_000) } }] };
  assertScimError(await scim(conn, 'POST', '/Bulk', big), 413);
});
