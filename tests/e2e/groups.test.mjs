// RFC 7643 §4.2 Groups and RFC 7644 §3.3–§3.6 on /Groups, end to end against the worker in
// workerd: create/read/replace/patch/delete, member references, User.groups, uniqueness, members
// that name nothing of this connection (isolation), projection, filters, a 2,000-member group and
// the group scopes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, createUser, createGroup, bulkCreateUsers,
  patchOp, sleep, GROUP_SCHEMA, USER_SCHEMA, LIST_RESPONSE, SEARCH_REQUEST,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Groups e2e');
});
after(async () => { await server?.stop(); });

let seq = 0;
/** A fresh, unique name. */
const uniq = (stem) => `${stem}-${Date.now().toString(36)}-${(seq += 1)}`;
const uname = (stem = 'member') => `${uniq(stem)}@groups.example`;
const memberIds = (group) => (group.members ?? []).map((m) => m.value);
const q = (filter) => `?filter=${encodeURIComponent(filter)}`;

/** The member element the service returns for a user of `c` (no display was sent). */
const userRef = (c, id) => ({ value: id, $ref: `${c.base}/Users/${id}`, type: 'User' });

async function getGroup(id, c = conn, query = '') {
  const res = await scim(c, 'GET', `/Groups/${id}${query}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}
async function getUser(id, c = conn) {
  const res = await scim(c, 'GET', `/Users/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}
async function patchGroup(id, ops, c = conn, headers = {}) {
  const res = await scim(c, 'PATCH', `/Groups/${id}`, patchOp(...ops), headers);
  assert.equal(res.status, 200, `${JSON.stringify(ops)}: ${res.text}`);
  return res;
}

test('RFC 7644 §3.3 POST /Groups with members: 201, Location, ETag, members with value/$ref/type "User"', async () => {
  const alice = await createUser(conn, uname('alice'));
  const bob = await createUser(conn, uname('bob'));
  const displayName = uniq('Tour Guides');
  const started = Date.now();
  const res = await scim(conn, 'POST', '/Groups', {
    schemas: [GROUP_SCHEMA],
    displayName,
    externalId: uniq('ext'),
    members: [{ value: alice.id }, { value: bob.id, display: 'Bob', type: 'User' }],
  });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/);
  const g = res.json;
  assert.equal(typeof g.id, 'string');
  assert.ok(g.id.length > 0);
  assert.notEqual(g.id, alice.id);
  assert.deepEqual(g.schemas, [GROUP_SCHEMA]);
  assert.equal(g.displayName, displayName);
  assert.deepEqual(g.members, [userRef(conn, alice.id), { ...userRef(conn, bob.id), display: 'Bob' }]);
  assert.equal(g.meta.resourceType, 'Group');
  assert.equal(g.meta.location, `${conn.base}/Groups/${g.id}`);
  assert.equal(res.headers.get('location'), g.meta.location);
  assert.equal(g.meta.version, 'W/"1"');
  assert.equal(res.headers.get('etag'), g.meta.version);
  assert.equal(g.meta.created, g.meta.lastModified);
  assert.ok(Math.abs(Date.parse(g.meta.created) - started) < 5 * 60_000, g.meta.created);

  // A group needs a displayName (RFC 7643 §4.2: required).
  assertScimError(await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], members: [] }), 400, 'invalidValue');
});

test('RFC 7644 §3.4.1 GET /Groups/{id} returns the group as created, with its ETag; unknown id 404', async () => {
  const u = await createUser(conn, uname());
  const created = await createGroup(conn, uniq('Readable'), [u.id]);
  const res = await scim(conn, 'GET', `/Groups/${created.id}`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(res.json, created);
  assert.equal(res.headers.get('etag'), 'W/"1"');
  assertScimError(await scim(conn, 'GET', '/Groups/00000000-0000-4000-8000-000000000000'), 404);
  // A user id is not a group id.
  assertScimError(await scim(conn, 'GET', `/Groups/${u.id}`), 404);
});

test('RFC 7644 §3.5.1 PUT /Groups/{id} replaces displayName and the member list; an identical PUT keeps the version', async () => {
  const [a, b, c] = [await createUser(conn, uname('a')), await createUser(conn, uname('b')), await createUser(conn, uname('c'))];
  const created = await createGroup(conn, uniq('Before'), [a.id, b.id]);
  await sleep(5);
  const newName = uniq('After');
  const res = await scim(conn, 'PUT', `/Groups/${created.id}`, {
    schemas: [GROUP_SCHEMA], id: created.id, displayName: newName, members: [{ value: c.id }, { value: b.id }],
  });
  assert.equal(res.status, 200, res.text);
  const g = res.json;
  assert.equal(g.id, created.id);
  assert.equal(g.displayName, newName);
  assert.deepEqual(g.members.map((m) => m.value).sort(), [b.id, c.id].sort());
  for (const m of g.members) assert.deepEqual(m, userRef(conn, m.value));
  assert.equal(g.meta.version, 'W/"2"');
  assert.equal(res.headers.get('etag'), 'W/"2"');
  assert.equal(g.meta.created, created.meta.created);
  assert.ok(Date.parse(g.meta.lastModified) > Date.parse(created.meta.created), 'lastModified moved');
  assert.deepEqual(await getGroup(created.id), g);
  assert.equal((await getUser(a.id)).groups, undefined, 'a is no longer a member');

  // The same content again: nothing changes, not even the version.
  const same = await scim(conn, 'PUT', `/Groups/${created.id}`, { schemas: [GROUP_SCHEMA], displayName: newName, members: [{ value: b.id }, { value: c.id }] });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.meta.version, 'W/"2"');
  assert.equal(same.json.meta.lastModified, g.meta.lastModified);

  // PUT without members empties the group.
  const emptied = await scim(conn, 'PUT', `/Groups/${created.id}`, { schemas: [GROUP_SCHEMA], displayName: newName });
  assert.equal(emptied.status, 200, emptied.text);
  assert.equal(emptied.json.members, undefined);
  assert.equal(emptied.json.meta.version, 'W/"3"');
  assert.equal((await getUser(b.id)).groups, undefined);

  assertScimError(await scim(conn, 'PUT', '/Groups/00000000-0000-4000-8000-000000000000', { displayName: uniq('x') }), 404);
});

test('RFC 7644 §3.5.2.1 PATCH add members: appended in order, an existing member is not duplicated', async () => {
  const [a, b, c] = [await createUser(conn, uname('a')), await createUser(conn, uname('b')), await createUser(conn, uname('c'))];
  const g = await createGroup(conn, uniq('Adders'), [a.id]);
  let res = await patchGroup(g.id, [{ op: 'add', path: 'members', value: [{ value: b.id }, { value: c.id }] }]);
  assert.deepEqual(res.json.members, [userRef(conn, a.id), userRef(conn, b.id), userRef(conn, c.id)]);
  assert.equal(res.json.meta.version, 'W/"2"');
  assert.equal(res.headers.get('etag'), 'W/"2"');
  // Adding members that are already there changes nothing (RFC 7644 §3.5.2.1), not even the version.
  res = await patchGroup(g.id, [{ op: 'add', path: 'members', value: [{ value: a.id }, { value: c.id }] }]);
  assert.deepEqual(memberIds(res.json), [a.id, b.id, c.id]);
  assert.equal(res.json.meta.version, 'W/"2"');
  assert.deepEqual(await getGroup(g.id), res.json);
});

test('RFC 7644 §3.5.2.2 PATCH remove members[value eq "…"], then remove path "members" empties the group', async () => {
  const [a, b, c] = [await createUser(conn, uname('a')), await createUser(conn, uname('b')), await createUser(conn, uname('c'))];
  const g = await createGroup(conn, uniq('Removers'), [a.id, b.id, c.id]);
  let res = await patchGroup(g.id, [{ op: 'remove', path: `members[value eq "${b.id}"]` }]);
  assert.deepEqual(res.json.members, [userRef(conn, a.id), userRef(conn, c.id)]);
  assert.equal(res.json.meta.version, 'W/"2"');
  assert.equal((await getUser(b.id)).groups, undefined);
  // Removing a member that is not there changes nothing.
  res = await patchGroup(g.id, [{ op: 'remove', path: `members[value eq "${b.id}"]` }]);
  assert.equal(res.json.meta.version, 'W/"2"');
  res = await patchGroup(g.id, [{ op: 'remove', path: 'members' }]);
  assert.equal(res.json.members, undefined);
  assert.equal(res.json.meta.version, 'W/"3"');
  assert.equal((await getGroup(g.id)).members, undefined);
  for (const u of [a, c]) assert.equal((await getUser(u.id)).groups, undefined);
});

test('RFC 7644 §3.5.2.3 PATCH replace members with a new list, and replace displayName by path', async () => {
  const [a, b, c] = [await createUser(conn, uname('a')), await createUser(conn, uname('b')), await createUser(conn, uname('c'))];
  const g = await createGroup(conn, uniq('Replacers'), [a.id, b.id]);
  const newName = uniq('Replaced');
  const res = await patchGroup(g.id, [
    { op: 'replace', path: 'members', value: [{ value: c.id }, { value: b.id }] },
    { op: 'replace', path: 'displayName', value: newName },
  ]);
  assert.deepEqual(memberIds(res.json).sort(), [b.id, c.id].sort());
  assert.equal(res.json.displayName, newName);
  assert.equal(res.json.meta.version, 'W/"2"', 'one PATCH request is one new version');
  const got = await getGroup(g.id);
  assert.deepEqual(got, res.json);
  assert.equal((await getUser(a.id)).groups, undefined);
  assert.deepEqual((await getUser(c.id)).groups.map((x) => x.display), [newName]);
});

test('RFC 7644 §3.6 DELETE /Groups/{id}: 204 with no body, then 404 on GET/PUT/PATCH/DELETE; members keep existing', async () => {
  const u = await createUser(conn, uname('survivor'));
  const g = await createGroup(conn, uniq('Doomed'), [u.id]);
  const res = await scim(conn, 'DELETE', `/Groups/${g.id}`);
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assertScimError(await scim(conn, 'GET', `/Groups/${g.id}`), 404);
  assertScimError(await scim(conn, 'PUT', `/Groups/${g.id}`, { displayName: g.displayName }), 404);
  assertScimError(await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'x' })), 404);
  assertScimError(await scim(conn, 'DELETE', `/Groups/${g.id}`), 404);
  const user = await getUser(u.id);
  assert.equal(user.groups, undefined, 'User.groups no longer lists the deleted group');
  const list = await scim(conn, 'GET', `/Groups${q(`displayName eq "${g.displayName}"`)}`);
  assert.equal(list.json.totalResults, 0);
  // The name is free again.
  await createGroup(conn, g.displayName);
});

test('RFC 7643 §4.1.2 User.groups shows direct memberships (value, $ref, display, type "direct") and follows changes', async () => {
  const u = await createUser(conn, uname('joiner'));
  assert.equal(u.groups, undefined);
  const first = await createGroup(conn, uniq('First'), [u.id]);
  const second = await createGroup(conn, uniq('Second'));
  await patchGroup(second.id, [{ op: 'add', path: 'members', value: [{ value: u.id }] }]);
  const entry = (g) => ({ value: g.id, $ref: `${conn.base}/Groups/${g.id}`, display: g.displayName, type: 'direct' });
  let user = await getUser(u.id);
  assert.deepEqual(user.groups, [entry(first), entry(second)]);

  // Renaming the group renames it in User.groups.
  const renamed = uniq('First renamed');
  await patchGroup(first.id, [{ op: 'replace', path: 'displayName', value: renamed }]);
  user = await getUser(u.id);
  assert.deepEqual(user.groups, [entry({ ...first, displayName: renamed }), entry(second)]);

  // Also on lists.
  const listed = await scim(conn, 'GET', `/Users${q(`userName eq "${u.userName}"`)}`);
  assert.deepEqual(listed.json.Resources[0].groups, user.groups);

  // Removing the membership removes the entry; the last one removes the attribute.
  await patchGroup(first.id, [{ op: 'remove', path: `members[value eq "${u.id}"]` }]);
  assert.deepEqual((await getUser(u.id)).groups, [entry(second)]);
  await patchGroup(second.id, [{ op: 'replace', path: 'members', value: [] }]);
  assert.equal((await getUser(u.id)).groups, undefined);
});

test('RFC 7643 §4.1.2 User.groups is readOnly: PATCH on it is 400 mutability, POST/PUT values are ignored', async () => {
  const g = await createGroup(conn, uniq('ReadOnly'));
  const u = await createUser(conn, uname('ro'), { groups: [{ value: g.id }] });
  assert.equal(u.groups, undefined, 'groups sent on POST do not create memberships');
  assert.equal((await getGroup(g.id)).members, undefined);
  const put = await scim(conn, 'PUT', `/Users/${u.id}`, { schemas: [USER_SCHEMA], userName: u.userName, groups: [{ value: g.id }] });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.groups, undefined);
  assertScimError(
    await scim(conn, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'add', path: 'groups', value: [{ value: g.id }] })),
    400, 'mutability',
  );
  assert.equal((await getGroup(g.id)).members, undefined);
});

test('a group can be a member of another group (type "Group", $ref to /Groups)', async () => {
  const inner = await createGroup(conn, uniq('Inner'));
  const outer = await createGroup(conn, uniq('Outer'), [inner.id]);
  assert.deepEqual(outer.members, [{ value: inner.id, $ref: `${conn.base}/Groups/${inner.id}`, type: 'Group' }]);
  // A group is never a member of itself.
  const self = await patchGroup(inner.id, [{ op: 'add', path: 'members', value: [{ value: inner.id }] }]);
  assert.equal(self.json.members, undefined);
  // Deleting the inner group removes it from the outer one and bumps the outer version.
  assert.equal((await scim(conn, 'DELETE', `/Groups/${inner.id}`)).status, 204);
  const after = await getGroup(outer.id);
  assert.equal(after.members, undefined);
  assert.equal(after.meta.version, 'W/"2"');
});

test('deleting a user removes it from every group and bumps those groups\' meta.version and lastModified', async () => {
  const leaver = await createUser(conn, uname('leaver'));
  const stayer = await createUser(conn, uname('stayer'));
  const g1 = await createGroup(conn, uniq('Leavers 1'), [leaver.id, stayer.id]);
  const g2 = await createGroup(conn, uniq('Leavers 2'), [stayer.id, leaver.id]);
  const untouched = await createGroup(conn, uniq('Untouched'), [stayer.id]);
  await sleep(5);
  const del = await scim(conn, 'DELETE', `/Users/${leaver.id}`);
  assert.equal(del.status, 204, del.text);
  for (const g of [g1, g2]) {
    const res = await scim(conn, 'GET', `/Groups/${g.id}`);
    assert.deepEqual(res.json.members, [userRef(conn, stayer.id)]);
    assert.equal(res.json.meta.version, 'W/"2"');
    assert.equal(res.headers.get('etag'), 'W/"2"');
    assert.ok(Date.parse(res.json.meta.lastModified) > Date.parse(g.meta.lastModified), 'lastModified moved');
  }
  const u = await getGroup(untouched.id);
  assert.equal(u.meta.version, 'W/"1"');
  assert.equal(u.meta.lastModified, untouched.meta.lastModified);
  // The stale ETag of an affected group no longer matches.
  assertScimError(await scim(conn, 'PATCH', `/Groups/${g1.id}`, patchOp({ op: 'replace', path: 'displayName', value: uniq('x') }), { 'if-match': 'W/"1"' }), 412);
  const byMember = await scim(conn, 'GET', `/Groups${q(`members[value eq "${leaver.id}"]`)}`);
  assert.equal(byMember.json.totalResults, 0);
});

test('RFC 7643 §4.2 displayName is unique per connection case-insensitively: 409 uniqueness on POST, PUT, PATCH', async () => {
  const name = uniq('Admins');
  const g = await createGroup(conn, name);
  const other = await createGroup(conn, uniq('Others'));
  assertScimError(await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: name.toUpperCase() }), 409, 'uniqueness');
  assertScimError(await scim(conn, 'PUT', `/Groups/${other.id}`, { schemas: [GROUP_SCHEMA], displayName: name.toLowerCase() }), 409, 'uniqueness');
  assertScimError(await scim(conn, 'PATCH', `/Groups/${other.id}`, patchOp({ op: 'replace', path: 'displayName', value: name.toUpperCase() })), 409, 'uniqueness');
  assert.equal((await getGroup(other.id)).displayName, other.displayName, 'the refused rename left nothing');
  // A group may change the case of its own name.
  const recased = await patchGroup(g.id, [{ op: 'replace', path: 'displayName', value: name.toUpperCase() }]);
  assert.equal(recased.json.displayName, name.toUpperCase());
  // Another connection has its own namespace.
  const elsewhere = await newConnection(server, 'Groups elsewhere');
  await createGroup(elsewhere, name);
  const listed = await scim(conn, 'GET', `/Groups${q(`displayName eq "${name}"`)}`);
  assert.equal(listed.json.totalResults, 1);
});

test('member values naming no user of this connection are not stored, including another connection\'s user', async () => {
  const other = await newConnection(server, 'Groups foreign');
  const foreign = await createUser(other, uname('foreign'));
  const foreignGroup = await createGroup(other, uniq('Foreign group'), [foreign.id]);
  const local = await createUser(conn, uname('local'));
  const bogus = '00000000-0000-4000-8000-000000000000';

  // POST: 201, only the local member is stored.
  const created = await createGroup(conn, uniq('Mixed'), [foreign.id, bogus, local.id, foreignGroup.id]);
  assert.deepEqual(created.members, [userRef(conn, local.id)]);
  assert.deepEqual(await getGroup(created.id), created);

  // PATCH add: 200, nothing stored, nothing changed.
  let res = await patchGroup(created.id, [{ op: 'add', path: 'members', value: [{ value: foreign.id }, { value: bogus }] }]);
  assert.deepEqual(res.json.members, [userRef(conn, local.id)]);
  assert.equal(res.json.meta.version, 'W/"1"');

  // PUT and PATCH replace: still only the local member.
  res = await scim(conn, 'PUT', `/Groups/${created.id}`, { schemas: [GROUP_SCHEMA], displayName: created.displayName, members: [{ value: local.id }, { value: foreign.id }] });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(memberIds(res.json), [local.id]);
  res = await patchGroup(created.id, [{ op: 'replace', path: 'members', value: [{ value: foreign.id }, { value: local.id }] }]);
  assert.deepEqual(memberIds(res.json), [local.id]);

  // The foreign id never shows up: not in GET, not in a filter, not in the other connection.
  assert.ok(!JSON.stringify(await getGroup(created.id)).includes(foreign.id));
  const byForeign = await scim(conn, 'GET', `/Groups${q(`members[value eq "${foreign.id}"]`)}`);
  assert.equal(byForeign.status, 200, byForeign.text);
  assert.equal(byForeign.json.totalResults, 0);
  const foreignUser = await getUser(foreign.id, other);
  assert.deepEqual(foreignUser.groups.map((x) => x.value), [foreignGroup.id]);
  assertScimError(await scim(conn, 'GET', `/Users/${foreign.id}`), 404);
  assertScimError(await scim(other, 'GET', `/Groups/${created.id}`), 404);
  assert.deepEqual(memberIds(await getGroup(foreignGroup.id, other)), [foreign.id]);

  // The other connection cannot reach this connection's group or user through its own groups.
  const reverse = await scim(other, 'PATCH', `/Groups/${foreignGroup.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: local.id }, { value: created.id }] }));
  assert.equal(reverse.status, 200, reverse.text);
  assert.deepEqual(memberIds(reverse.json), [foreign.id]);
  assert.equal((await getUser(local.id)).groups.length, 1);
});

test('RFC 7644 §3.9 excludedAttributes=members on GET, list, .search and writes returns no members', async () => {
  const u = await createUser(conn, uname('proj'));
  const g = await createGroup(conn, uniq('Projected'), [u.id]);

  const one = await scim(conn, 'GET', `/Groups/${g.id}?excludedAttributes=members`);
  assert.equal(one.status, 200, one.text);
  const { members, ...withoutMembers } = g;
  assert.deepEqual(one.json, withoutMembers);
  assert.equal(one.headers.get('etag'), 'W/"1"');

  const list = await scim(conn, 'GET', `/Groups${q(`displayName eq "${g.displayName}"`)}&excludedAttributes=members`);
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json.Resources, [withoutMembers]);

  const all = await scim(conn, 'GET', '/Groups?excludedAttributes=members&count=200');
  assert.ok(all.json.Resources.length > 0);
  for (const r of all.json.Resources) assert.equal(r.members, undefined, r.id);

  const search = await scim(conn, 'POST', '/Groups/.search', { schemas: [SEARCH_REQUEST], filter: `displayName eq "${g.displayName}"`, excludedAttributes: ['members'] });
  assert.equal(search.status, 200, search.text);
  assert.deepEqual(search.json.Resources, [withoutMembers]);

  const attrs = await scim(conn, 'GET', `/Groups/${g.id}?attributes=displayName`);
  assert.equal(attrs.status, 200, attrs.text);
  for (const key of Object.keys(attrs.json)) assert.ok(['id', 'displayName', 'schemas', 'meta'].includes(key), key);
  assert.equal(attrs.json.id, g.id);
  assert.equal(attrs.json.displayName, g.displayName);
  assert.equal(attrs.json.members, undefined);

  const u2 = await createUser(conn, uname('proj2'));
  const patched = await scim(conn, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'add', path: 'members', value: [{ value: u2.id }] }));
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.members, undefined);
  assert.equal(patched.json.meta.version, 'W/"2"');
  assert.deepEqual(memberIds(await getGroup(g.id)), [u.id, u2.id], 'projection hides members, never drops them');
});

test('RFC 7644 §3.9 excluding or selecting a member sub-attribute (members.type, members.display, members.value) keeps the members', async () => {
  const u = await createUser(conn, uname('sub'));
  const g = await createGroup(conn, uniq('Sub attrs'));
  await patchGroup(g.id, [{ op: 'add', path: 'members', value: [{ value: u.id, display: 'Shown' }] }]);
  const full = { value: u.id, $ref: `${conn.base}/Users/${u.id}`, type: 'User', display: 'Shown' };
  assert.deepEqual((await getGroup(g.id)).members, [full]);

  const only = await getGroup(g.id, conn, '?attributes=members.value');
  assert.deepEqual(only.members, [{ value: u.id }]);
  for (const sub of ['type', 'display', '$ref']) {
    const res = await scim(conn, 'GET', `/Groups/${g.id}?excludedAttributes=members.${sub}`);
    assert.equal(res.status, 200, res.text);
    const { [sub]: _dropped, ...rest } = full;
    assert.deepEqual(res.json.members, [rest], `excludedAttributes=members.${sub} must drop only ${sub}: ${res.text}`);
    assert.equal(res.json.displayName, g.displayName);
  }
  const listed = await scim(conn, 'GET', `/Groups${q(`displayName eq "${g.displayName}"`)}&excludedAttributes=members.display`);
  assert.equal(listed.status, 200, listed.text);
  assert.deepEqual(listed.json.Resources[0]?.members, [{ value: u.id, $ref: full.$ref, type: 'User' }], listed.text);
});

test('RFC 7644 §3.4.2.2 GET /Groups filters on members: pr, not pr, members.type eq "Group", displayName co', async () => {
  const c = await newConnection(server, 'Group filters');
  const u = await createUser(c, uname('gf'));
  const withUser = await createGroup(c, 'Has a user', [u.id]);
  const withGroup = await createGroup(c, 'Has a group', [withUser.id]);
  const empty = await createGroup(c, 'Has nobody');
  const ids = async (filter) => {
    const res = await scim(c, 'GET', `/Groups${q(filter)}&excludedAttributes=members`);
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    assert.equal(res.json.totalResults, res.json.Resources.length, filter);
    return res.json.Resources.map((g) => g.id).sort();
  };
  assert.deepEqual(await ids('members pr'), [withUser.id, withGroup.id].sort());
  assert.deepEqual(await ids('not (members pr)'), [empty.id]);
  assert.deepEqual(await ids('members.type eq "Group"'), [withGroup.id]);
  assert.deepEqual(await ids('members[type eq "User" and value eq "' + u.id + '"]'), [withUser.id]);
  assert.deepEqual(await ids('displayName co "A "'), [withUser.id, withGroup.id].sort());
  assert.deepEqual(await ids('displayName sw "has" and not (members pr)'), [empty.id]);
});

test('concurrent PATCH add members to one group (IdPs push in parallel): every member lands, one version per change', async () => {
  const users = [];
  for (let i = 0; i < 10; i += 1) users.push(await createUser(conn, uname(`par${i}`)));
  const g = await createGroup(conn, uniq('Parallel'));
  const results = await Promise.all(users.map((u) => scim(conn, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`,
    patchOp({ op: 'add', path: 'members', value: [{ value: u.id }] }))));
  for (const r of results) assert.equal(r.status, 200, r.text);
  const after = await getGroup(g.id);
  assert.deepEqual(memberIds(after).sort(), users.map((u) => u.id).sort());
  assert.equal(after.meta.version, 'W/"11"');
  assert.deepEqual(results.map((r) => r.headers.get('etag')).sort(), Array.from({ length: 10 }, (_, i) => `W/"${i + 2}"`).sort(),
    'each request saw its own version');

  // Twelve simultaneous creates of one displayName in different cases: exactly one wins.
  const name = uniq('Race Group');
  const creates = await Promise.all(Array.from({ length: 12 }, (_, i) => scim(conn, 'POST', '/Groups', {
    schemas: [GROUP_SCHEMA], displayName: i % 2 ? name.toUpperCase() : name,
  })));
  assert.deepEqual(creates.map((r) => r.status).sort(), [201, ...Array(11).fill(409)]);
  for (const r of creates.filter((x) => x.status === 409)) assertScimError(r, 409, 'uniqueness');
});

test('RFC 7644 §3.4.2.2 GET /Groups?filter=displayName eq "…" (case-insensitive) and members[value eq "<userId>"]', async () => {
  const a = await createUser(conn, uname('fa'));
  const b = await createUser(conn, uname('fb'));
  const name = uniq('Filtered Team');
  const g1 = await createGroup(conn, name, [a.id]);
  const g2 = await createGroup(conn, uniq('Filtered Other'), [a.id, b.id]);

  const byName = await scim(conn, 'GET', `/Groups${q(`displayName eq "${name.toUpperCase()}"`)}`);
  assert.equal(byName.status, 200, byName.text);
  assert.deepEqual(byName.json.schemas, [LIST_RESPONSE]);
  assert.equal(byName.json.totalResults, 1);
  assert.deepEqual(byName.json.Resources, [g1]);

  const withA = await scim(conn, 'GET', `/Groups${q(`members[value eq "${a.id}"]`)}`);
  assert.equal(withA.status, 200, withA.text);
  assert.deepEqual(withA.json.Resources.map((r) => r.id).sort(), [g1.id, g2.id].sort());
  assert.equal(withA.json.totalResults, 2);
  const withB = await scim(conn, 'GET', `/Groups${q(`members[value eq "${b.id}"]`)}`);
  assert.deepEqual(withB.json.Resources, [g2], 'a member filter selects groups, it does not trim their member lists');
  const both = await scim(conn, 'GET', `/Groups${q(`members[value eq "${a.id}"] and members[value eq "${b.id}"]`)}`);
  assert.deepEqual(both.json.Resources.map((r) => r.id), [g2.id]);
  const viaSub = await scim(conn, 'GET', `/Groups${q(`members.value eq "${b.id}"`)}`);
  assert.deepEqual(viaSub.json.Resources.map((r) => r.id), [g2.id]);
  const nobody = await scim(conn, 'GET', `/Groups${q('members[value eq "00000000-0000-4000-8000-000000000000"]')}`);
  assert.deepEqual([nobody.status, nobody.json.totalResults, nobody.json.Resources], [200, 0, []]);
});

test('a 2,000-member group (users via POST /Bulk, members via PATCH batches) lists all 2,000; PATCH +1 / -1 leaves 2,000±1', async () => {
  const c = await newConnection(server, 'Large group');
  const users = await bulkCreateUsers(c, 2000, 'large', 'large.example');
  assert.equal(new Set(users).size, 2000);
  const g = await createGroup(c, 'Everyone');
  for (let i = 0; i < users.length; i += 500) {
    const value = users.slice(i, i + 500).map((id) => ({ value: id }));
    const r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'add', path: 'members', value }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.members, undefined);
  }
  let full = await getGroup(g.id, c);
  assert.equal(full.members.length, 2000);
  assert.deepEqual(memberIds(full), users, 'all 2,000 in the order added');
  for (const m of full.members) assert.equal(m.type, 'User');

  const extra = await createUser(c, 'extra@large.example');
  let r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'add', path: 'members', value: [{ value: extra.id }] }));
  assert.equal(r.status, 200, r.text);
  full = await getGroup(g.id, c);
  assert.equal(full.members.length, 2001);
  assert.ok(memberIds(full).includes(extra.id));

  r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'remove', path: `members[value eq "${users[1234]}"]` }));
  assert.equal(r.status, 200, r.text);
  r = await scim(c, 'PATCH', `/Groups/${g.id}?excludedAttributes=members`, patchOp({ op: 'remove', path: `members[value eq "${users[7]}"]` }));
  assert.equal(r.status, 200, r.text);
  full = await getGroup(g.id, c);
  assert.equal(full.members.length, 1999);
  const now = new Set(memberIds(full));
  assert.ok(!now.has(users[7]) && !now.has(users[1234]));
  assert.ok(now.has(extra.id) && now.has(users[0]) && now.has(users[1999]));
  assert.equal(full.meta.version, 'W/"8"', '4 batches + add + 2 removes after create');

  // The member filter works on the large group too.
  const found = await scim(c, 'GET', `/Groups${q(`members[value eq "${users[1999]}"]`)}&excludedAttributes=members`);
  assert.deepEqual(found.json.Resources.map((x) => x.id), [g.id]);
  assert.deepEqual((await getUser(users[1500], c)).groups.map((x) => x.value), [g.id]);
});

test('group scopes: a token with only read:users/write:users gets 403 on /Groups reads and writes', async () => {
  const limited = await newConnection(server, 'Users only', { scopes: ['read:users', 'write:users'] });
  const u = await createUser(limited, uname('scoped'));
  const attempts = [
    ['GET', '/Groups'],
    ['GET', '/Groups/00000000-0000-4000-8000-000000000000'],
    ['POST', '/Groups/.search', { schemas: [SEARCH_REQUEST] }],
    ['POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Nope', members: [{ value: u.id }] }],
    ['PUT', '/Groups/00000000-0000-4000-8000-000000000000', { schemas: [GROUP_SCHEMA], displayName: 'Nope' }],
    ['PATCH', '/Groups/00000000-0000-4000-8000-000000000000', patchOp({ op: 'replace', path: 'displayName', value: 'Nope' })],
    ['DELETE', '/Groups/00000000-0000-4000-8000-000000000000'],
  ];
  for (const [method, path, body] of attempts) {
    assertScimError(await scim(limited, method, path, body), 403, undefined, `${method} ${path}`);
  }
  // Users work with that token, and nothing was created.
  assert.equal((await getUser(u.id, limited)).groups, undefined);

  // read:groups alone reads but cannot write.
  const reader = await newConnection(server, 'Groups reader', { scopes: ['read:groups'] });
  const list = await scim(reader, 'GET', '/Groups');
  assert.equal(list.status, 200, list.text);
  assert.equal(list.json.totalResults, 0);
  assertScimError(await scim(reader, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Nope' }), 403);
  assertScimError(await scim(reader, 'GET', '/Users'), 403);
});
