// Okta's SCIM 2.0 provisioning, replayed request by request as Okta sends it (Okta's "SCIM 2.0
// protocol reference" and its Runscope/SPEC test suite): user lookup before create, create with
// a password and "groups": [], profile updates by PUT, deactivation and reactivation by pathless
// PATCH, password sync, and group push (create, rename with id, add/remove/replace members,
// delete).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, GROUP_SCHEMA, USER_SCHEMA, PATCH_OP, LIST_RESPONSE,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Okta tenant');
});
after(async () => { await server?.stop(); });

const q = (filter) => `filter=${encodeURIComponent(filter)}`;
/** Asserts the status (and a SCIM media type on bodies), returns the JSON body. */
function ok(res, status = 200, context = '') {
  assert.equal(res.status, status, `${context} ${res.status} ${res.text}`);
  if (res.text) assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/, context);
  return res.json;
}
/** Okta's PATCH bodies always carry the PatchOp schema. */
const okPatch = (...Operations) => ({ schemas: [PATCH_OP], Operations });

/** The user body Okta POSTs (Okta's own example, its field order and values). */
const oktaUser = (userName, extra = {}) => ({
  schemas: [USER_SCHEMA],
  userName,
  name: { givenName: 'Test', familyName: 'User' },
  emails: [{ primary: true, value: userName, type: 'work' }],
  displayName: 'Test User',
  locale: 'en-US',
  externalId: `00u${Math.random().toString(36).slice(2, 14)}`,
  groups: [],
  password: '1mz050nq',
  active: true,
  ...extra,
});

test('Okta import/lookup: GET /Users?filter=userName eq "…"&startIndex=1&count=100 on an unknown user is an empty ListResponse', async () => {
  const res = await scim(conn, 'GET', `/Users?${q('userName eq "test.user@okta.local"')}&startIndex=1&count=100`);
  const body = ok(res);
  assert.deepEqual(body, { schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  // Okta's group import: GET /Groups?startIndex=1&count=100.
  const groups = ok(await scim(conn, 'GET', '/Groups?startIndex=1&count=100'));
  assert.equal(groups.totalResults, 0);
  assert.deepEqual(groups.Resources, []);
});

test('Okta Create User: POST /Users with password and "groups": [] → 201; password never returned; lookup then finds it', async () => {
  const userName = 'okta.create@okta.local';
  const body = oktaUser(userName);
  const res = await scim(conn, 'POST', '/Users', body);
  const u = ok(res, 201);
  assert.equal(res.headers.get('location'), `${conn.base}/Users/${u.id}`);
  assert.equal(res.headers.get('etag'), 'W/"1"');
  const { password, groups, ...stored } = body;
  assert.deepEqual(
    { ...u, id: undefined, meta: undefined },
    { ...stored, id: undefined, meta: undefined },
    'everything Okta sent comes back except password and the empty groups',
  );
  assert.equal(u.password, undefined);
  assert.equal(u.groups, undefined);
  assert.ok(!res.text.includes('1mz050nq'), 'the password appears nowhere in the response');

  // Okta's next lookup (case differs: userName is caseExact false).
  const found = ok(await scim(conn, 'GET', `/Users?${q(`userName eq "${userName.toUpperCase()}"`)}&startIndex=1&count=100`));
  assert.equal(found.totalResults, 1);
  assert.equal(found.itemsPerPage, 1);
  assert.deepEqual(found.Resources, [u]);

  // Creating it again (Okta retrying after a timeout) is 409 uniqueness, not a second user.
  assertScimError(await scim(conn, 'POST', '/Users', oktaUser(userName)), 409, 'uniqueness');
});

test('Okta Retrieve User: GET /Users/{id} returns exactly what the create returned', async () => {
  const u = ok(await scim(conn, 'POST', '/Users', oktaUser('okta.get@okta.local')), 201);
  const res = await scim(conn, 'GET', `/Users/${u.id}`);
  assert.deepEqual(ok(res), u);
  assert.equal(res.headers.get('etag'), u.meta.version);
  assertScimError(await scim(conn, 'GET', '/Users/010101'), 404);
});

test('Okta Update User: PUT /Users/{id} with the full profile (id, groups [], meta included) replaces it', async () => {
  const u = ok(await scim(conn, 'POST', '/Users', oktaUser('okta.put@okta.local', { title: 'Temp' })), 201);
  const res = await scim(conn, 'PUT', `/Users/${u.id}`, {
    schemas: [USER_SCHEMA],
    id: u.id,
    userName: 'okta.put@okta.local',
    name: { givenName: 'Another', familyName: 'Name' },
    emails: [{ primary: true, value: 'okta.put@okta.local', type: 'work' }],
    displayName: 'Another Name',
    locale: 'en-US',
    externalId: u.externalId,
    groups: [],
    active: true,
    meta: { resourceType: 'User', created: u.meta.created, lastModified: u.meta.lastModified },
  });
  const put = ok(res);
  assert.equal(put.id, u.id);
  assert.deepEqual(put.name, { givenName: 'Another', familyName: 'Name' });
  assert.equal(put.displayName, 'Another Name');
  assert.equal(put.title, undefined, 'PUT replaces: title was not sent');
  assert.equal(put.groups, undefined);
  assert.equal(put.active, true);
  assert.equal(put.meta.version, 'W/"2"');
  assert.equal(put.meta.created, u.meta.created);
  assert.deepEqual(ok(await scim(conn, 'GET', `/Users/${u.id}`)), put);
});

test('Okta Deactivate User: PATCH {"op":"replace","value":{"active":false}} → GET active false; reactivation → true', async () => {
  const u = ok(await scim(conn, 'POST', '/Users', oktaUser('okta.deactivate@okta.local')), 201);
  const off = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, okPatch({ op: 'replace', value: { active: false } })));
  assert.equal(off.active, false);
  assert.equal(off.meta.version, 'W/"2"');
  assert.deepEqual({ ...off, active: true, meta: u.meta }, u, 'only active changed');
  const got = ok(await scim(conn, 'GET', `/Users/${u.id}`));
  assert.equal(got.active, false);
  assert.deepEqual(got, off);

  // Okta looks deactivated users up too; a filter on active sees it.
  const inactive = ok(await scim(conn, 'GET', `/Users?${q(`userName eq "${u.userName}" and active eq false`)}`));
  assert.deepEqual(inactive.Resources.map((r) => r.id), [u.id]);

  // Okta repeats the deactivation when it is unsure: nothing changes.
  const again = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, okPatch({ op: 'replace', value: { active: false } })));
  assert.equal(again.meta.version, 'W/"2"');

  const on = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, okPatch({ op: 'replace', value: { active: true } })));
  assert.equal(on.active, true);
  assert.equal(on.meta.version, 'W/"3"');
  assert.equal(ok(await scim(conn, 'GET', `/Users/${u.id}`)).active, true);
});

test('Okta Sync Password: PATCH {"op":"replace","value":{"password":"…"}} → 200, the password never returned', async () => {
  const u = ok(await scim(conn, 'POST', '/Users', oktaUser('okta.password@okta.local')), 201);
  const res = await scim(conn, 'PATCH', `/Users/${u.id}`, okPatch({ op: 'replace', value: { password: 'NewP@ssw0rd!' } }));
  const body = ok(res);
  assert.equal(body.password, undefined);
  assert.ok(!res.text.includes('NewP@ssw0rd!'));
  assert.equal(body.userName, u.userName);
  assert.equal(ok(await scim(conn, 'GET', `/Users/${u.id}?attributes=password`)).password, undefined);
});

test('Okta Push Groups: POST /Groups {"displayName","members":[]}, pathless replace {id, displayName}, add members with display, remove members[value eq], replace members [], DELETE', async () => {
  const a = ok(await scim(conn, 'POST', '/Users', oktaUser('push.a@okta.local')), 201);
  const b = ok(await scim(conn, 'POST', '/Users', oktaUser('push.b@okta.local')), 201);
  const c = ok(await scim(conn, 'POST', '/Users', oktaUser('push.c@okta.local')), 201);

  // Okta checks whether the group exists first.
  const lookup = ok(await scim(conn, 'GET', `/Groups?${q('displayName eq "Test SCIMv2"')}&startIndex=1&count=100`));
  assert.equal(lookup.totalResults, 0);

  const created = await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Test SCIMv2', members: [] });
  const g = ok(created, 201);
  assert.equal(created.headers.get('location'), `${conn.base}/Groups/${g.id}`);
  assert.deepEqual(g.schemas, [GROUP_SCHEMA]);
  assert.equal(g.displayName, 'Test SCIMv2');
  assert.equal(g.members, undefined);
  assert.equal(g.meta.version, 'W/"1"');

  // Okta reads the group back without members.
  const read = ok(await scim(conn, 'GET', `/Groups/${g.id}?excludedAttributes=members`));
  assert.deepEqual(read, g);

  // Rename: pathless replace carrying the (unchanged, readOnly) id.
  const renamed = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, okPatch({ op: 'replace', value: { id: g.id, displayName: 'Test SCIMv2 New' } })));
  assert.equal(renamed.id, g.id);
  assert.equal(renamed.displayName, 'Test SCIMv2 New');
  assert.equal(renamed.meta.version, 'W/"2"');
  assert.equal(ok(await scim(conn, 'GET', `/Groups/${g.id}`)).displayName, 'Test SCIMv2 New');
  assert.equal(ok(await scim(conn, 'GET', `/Groups?${q('displayName eq "Test SCIMv2"')}`)).totalResults, 0);

  // Add members, with the display Okta sends.
  const added = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, okPatch({
    op: 'add', path: 'members',
    value: [{ value: a.id, display: a.userName }, { value: b.id, display: b.userName }, { value: c.id, display: c.userName }],
  })));
  assert.deepEqual(added.members, [a, b, c].map((u) => ({ value: u.id, $ref: `${conn.base}/Users/${u.id}`, type: 'User', display: u.userName })));
  assert.equal(added.meta.version, 'W/"3"');
  const member = ok(await scim(conn, 'GET', `/Users/${a.id}`));
  assert.deepEqual(member.groups, [{ value: g.id, $ref: `${conn.base}/Groups/${g.id}`, display: 'Test SCIMv2 New', type: 'direct' }]);

  // Remove one member by value filter.
  const removed = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, okPatch({ op: 'remove', path: `members[value eq "${b.id}"]` })));
  assert.deepEqual(removed.members.map((m) => m.value), [a.id, c.id]);
  assert.equal(removed.meta.version, 'W/"4"');
  assert.equal(ok(await scim(conn, 'GET', `/Users/${b.id}`)).groups, undefined);

  // Okta's "replace members with []" empties the group.
  const emptied = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, okPatch({ op: 'replace', path: 'members', value: [] })));
  assert.equal(emptied.members, undefined);
  assert.equal(emptied.meta.version, 'W/"5"');
  assert.equal(ok(await scim(conn, 'GET', `/Groups/${g.id}`)).members, undefined);
  for (const u of [a, c]) assert.equal(ok(await scim(conn, 'GET', `/Users/${u.id}`)).groups, undefined);

  // Unlink and delete.
  const del = await scim(conn, 'DELETE', `/Groups/${g.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal(del.text, '');
  assertScimError(await scim(conn, 'GET', `/Groups/${g.id}`), 404);
  // Deleting a group leaves its former members alone.
  assert.equal(ok(await scim(conn, 'GET', `/Users/${a.id}`)).active, true);
});

test('Okta Push Groups with members in the pathless replace: {"op":"replace","value":{"id","displayName","members":[…]}}', async () => {
  const a = ok(await scim(conn, 'POST', '/Users', oktaUser('push2.a@okta.local')), 201);
  const b = ok(await scim(conn, 'POST', '/Users', oktaUser('push2.b@okta.local')), 201);
  const g = ok(await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Okta Full Push', members: [{ value: a.id, display: a.userName }] }), 201);
  const pushed = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, okPatch({
    op: 'replace', value: { id: g.id, displayName: 'Okta Full Push', members: [{ value: b.id, display: b.userName }] },
  })));
  assert.deepEqual(pushed.members, [{ value: b.id, $ref: `${conn.base}/Users/${b.id}`, type: 'User', display: b.userName }]);
  assert.equal(pushed.displayName, 'Okta Full Push');
  assert.equal(pushed.meta.version, 'W/"2"');
});

test('Okta Delete User after deprovisioning: DELETE /Users/{id} → 204, removed from its pushed groups', async () => {
  const u = ok(await scim(conn, 'POST', '/Users', oktaUser('okta.delete@okta.local')), 201);
  const g = ok(await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Okta Deleted Member', members: [{ value: u.id, display: u.userName }] }), 201);
  const del = await scim(conn, 'DELETE', `/Users/${u.id}`);
  assert.equal(del.status, 204, del.text);
  assertScimError(await scim(conn, 'GET', `/Users/${u.id}`), 404);
  const after = ok(await scim(conn, 'GET', `/Groups/${g.id}`));
  assert.equal(after.members, undefined);
  assert.equal(after.meta.version, 'W/"2"');
  const lookup = ok(await scim(conn, 'GET', `/Users?${q(`userName eq "${u.userName}"`)}&startIndex=1&count=100`));
  assert.equal(lookup.totalResults, 0);
});
