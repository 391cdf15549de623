// Microsoft Entra ID's provisioning service, replayed request by request as it sends them
// (Microsoft's "Develop and plan provisioning for a SCIM endpoint" request/response examples and
// the SCIM validator): Test Connection, create with nulls and the enterprise extension, lookup by
// externalId and userName, PATCH with capitalised ops, string booleans, dotted and URN-qualified
// keys, add to a value path that does not exist yet, manager as a bare id, and group
// provisioning (externalId, members with "$ref": null, Remove with a value array, the membership
// query).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startWorker, newConnection, scim, assertScimError, GROUP_SCHEMA, USER_SCHEMA, ENTERPRISE, PATCH_OP, LIST_RESPONSE,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Entra tenant');
});
after(async () => { await server?.stop(); });

const q = (filter) => `filter=${encodeURIComponent(filter)}`;
function ok(res, status = 200, context = '') {
  assert.equal(res.status, status, `${context} ${res.status} ${res.text}`);
  if (res.text) assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/, context);
  return res.json;
}
const entraPatch = (...Operations) => ({ schemas: [PATCH_OP], Operations });

/** The user body Entra POSTs: active true, nulls for unmapped attributes, the enterprise extension. */
function entraUser(extra = {}, enterprise = {}) {
  const tag = randomUUID();
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: randomUUID(),
    userName: `Test_User_${tag}@testuser.com`,
    active: true,
    displayName: 'givenName familyName',
    nickName: null,
    title: null,
    preferredLanguage: null,
    emails: [{ primary: true, type: 'work', value: `Test_User_${tag}@testuser.com` }],
    meta: { resourceType: 'User' },
    name: { formatted: null, familyName: 'familyName', givenName: 'givenName' },
    roles: [],
    [ENTERPRISE]: { employeeNumber: '1234', department: 'Engineering', costCenter: null, ...enterprise },
    ...extra,
  };
}

async function createEntraUser(extra, enterprise) {
  const body = entraUser(extra, enterprise);
  return ok(await scim(conn, 'POST', '/Users', body), 201, 'create');
}
async function get(path) {
  return ok(await scim(conn, 'GET', path), 200, `GET ${path}`);
}

test('Entra Test Connection: GET /Users?filter=userName eq "<random guid>" → 200 empty ListResponse', async () => {
  const res = await scim(conn, 'GET', `/Users?${q(`userName eq "${randomUUID()}"`)}`);
  const body = ok(res);
  assert.deepEqual(body.schemas, [LIST_RESPONSE]);
  assert.equal(body.totalResults, 0);
  assert.equal(body.startIndex, 1);
  assert.deepEqual(body.Resources, []);
  // Test Connection with a wrong secret must fail with 401 (Entra reports the credentials invalid).
  const bad = await scim(conn, 'GET', `/Users?${q(`userName eq "${randomUUID()}"`)}`, undefined, {}, 'scim_wrong');
  assertScimError(bad, 401);
  assert.match(bad.headers.get('www-authenticate') ?? '', /^Bearer/);
});

test('Entra Create User: POST /Users with active true, nulls, enterprise employeeNumber/department/manager {"value"}, externalId → 201', async () => {
  const manager = await createEntraUser();
  const body = entraUser({}, { manager: { value: manager.id } });
  const res = await scim(conn, 'POST', '/Users', body);
  const u = ok(res, 201);
  assert.equal(res.headers.get('location'), `${conn.base}/Users/${u.id}`);
  assert.deepEqual(u.schemas, [USER_SCHEMA, ENTERPRISE]);
  assert.equal(u.externalId, body.externalId);
  assert.equal(u.userName, body.userName);
  assert.equal(u.active, true);
  assert.deepEqual(u.emails, body.emails);
  assert.deepEqual(u.name, { familyName: 'familyName', givenName: 'givenName' }, 'formatted: null is absent');
  for (const absent of ['nickName', 'title', 'preferredLanguage']) {
    assert.ok(!(absent in u), `${absent}: null must be dropped, got ${JSON.stringify(u[absent])}`);
  }
  assert.ok(!('roles' in u) || (Array.isArray(u.roles) && u.roles.length === 0), 'roles: [] is empty or absent');
  assert.deepEqual(u[ENTERPRISE], { employeeNumber: '1234', department: 'Engineering', manager: { value: manager.id } });
  assert.equal(u.meta.resourceType, 'User');
  assert.deepEqual(await get(`/Users/${u.id}`), u);
});

test('Entra matching: GET /Users?filter=externalId eq "…" and userName eq "…" find the user; externalId is unique (409)', async () => {
  const u = await createEntraUser();
  const byExternal = await get(`/Users?${q(`externalId eq "${u.externalId}"`)}`);
  assert.equal(byExternal.totalResults, 1);
  assert.deepEqual(byExternal.Resources, [u]);
  // externalId is caseExact: another case does not match.
  const otherCase = await get(`/Users?${q(`externalId eq "${u.externalId.toUpperCase()}"`)}`);
  assert.equal(otherCase.totalResults, 0);
  const byUserName = await get(`/Users?${q(`userName eq "${u.userName}"`)}`);
  assert.deepEqual(byUserName.Resources.map((r) => r.id), [u.id]);
  assertScimError(await scim(conn, 'POST', '/Users', entraUser({ externalId: u.externalId })), 409, 'uniqueness');
});

test('Entra Disable User: PATCH {"op":"Replace","path":"active","value":"False"} → GET active false (a boolean); "True" re-enables', async () => {
  const u = await createEntraUser();
  const off = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Replace', path: 'active', value: 'False' })));
  assert.equal(off.active, false);
  assert.equal(off.meta.version, 'W/"2"');
  const got = await get(`/Users/${u.id}`);
  assert.strictEqual(got.active, false);
  assert.deepEqual(got, off);
  const byActive = await get(`/Users?${q(`externalId eq "${u.externalId}" and active eq false`)}`);
  assert.equal(byActive.totalResults, 1);
  const on = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Replace', path: 'active', value: 'True' })));
  assert.strictEqual(on.active, true);
  assert.strictEqual((await get(`/Users/${u.id}`)).active, true);
  // A string that is no boolean is refused, not stored.
  assertScimError(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Replace', path: 'active', value: 'Maybe' })), 400, 'invalidValue');
});

test('Entra pathless Replace with dotted name.givenName and URN-qualified enterprise department', async () => {
  const u = await createEntraUser();
  const res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({
    op: 'Replace',
    value: {
      'name.givenName': 'Pat',
      'name.familyName': 'Doe',
      displayName: 'Pat Doe',
      [`${ENTERPRISE}:department`]: 'Sales',
      [`${ENTERPRISE}:employeeNumber`]: '5678',
    },
  })));
  assert.deepEqual(res.name, { givenName: 'Pat', familyName: 'Doe' });
  assert.equal(res.displayName, 'Pat Doe');
  assert.deepEqual(res[ENTERPRISE], { employeeNumber: '5678', department: 'Sales' });
  for (const key of ['name.givenName', 'name.familyName', `${ENTERPRISE}:department`, `${ENTERPRISE}:employeeNumber`]) {
    assert.ok(!(key in res), `the key ${key} was stored literally`);
  }
  assert.equal(res.meta.version, 'W/"2"');
  assert.deepEqual(await get(`/Users/${u.id}`), res);
});

test('Entra Add on phoneNumbers[type eq "mobile"].value when no phone exists creates it; Replace emails[type eq "work"].value', async () => {
  const u = await createEntraUser();
  assert.equal(u.phoneNumbers, undefined);
  const res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch(
    { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
    { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
    { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
  )));
  assert.deepEqual(res.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }]);
  assert.deepEqual(res.emails, [{ primary: true, type: 'work', value: 'updatedEmail@microsoft.com' }]);
  assert.equal(res.name.familyName, 'updatedFamilyName');
  assert.deepEqual(await get(`/Users/${u.id}`), res);
  // The same Add again updates the existing element rather than adding a second mobile number.
  const again = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0199' })));
  assert.deepEqual(again.phoneNumbers, [{ type: 'mobile', value: '+1 555 0199' }]);
  // And the new phone is searchable.
  const found = await get(`/Users?${q('phoneNumbers[type eq "mobile" and value eq "+1 555 0199"]')}`);
  assert.deepEqual(found.Resources.map((r) => r.id), [u.id]);
});

test('Entra Add on value paths that do not exist yet: addresses[type eq "work"].formatted, emails[type eq "work"].value; roles with "primary": "True"; Remove of a whole phone element', async () => {
  const body = entraUser();
  delete body.emails;
  const u = ok(await scim(conn, 'POST', '/Users', body), 201);
  assert.equal(u.emails, undefined);
  const res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch(
    { op: 'Add', path: 'addresses[type eq "work"].formatted', value: 'Columbus' },
    { op: 'Add', path: 'addresses[type eq "work"].streetAddress', value: '1 Main St' },
    { op: 'Add', path: 'emails[type eq "work"].value', value: 'new.work@testuser.com' },
    { op: 'Add', path: 'roles', value: [{ primary: 'True', value: 'Admin' }] },
    { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
    { op: 'Add', path: 'phoneNumbers[type eq "work"].value', value: '+1 555 0101' },
    { op: 'Replace', path: 'externalId', value: 'entra-ext-replaced' },
  )));
  assert.deepEqual(res.addresses, [{ type: 'work', formatted: 'Columbus', streetAddress: '1 Main St' }]);
  assert.deepEqual(res.emails, [{ type: 'work', value: 'new.work@testuser.com' }]);
  assert.deepEqual(res.roles, [{ primary: true, value: 'Admin' }]);
  assert.equal(res.externalId, 'entra-ext-replaced');
  const removed = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Remove', path: 'phoneNumbers[type eq "mobile"]' })));
  assert.deepEqual(removed.phoneNumbers, [{ type: 'work', value: '+1 555 0101' }]);
  assert.deepEqual(await get(`/Users/${u.id}`), removed);
});

test('Entra Replace userName by path, and Remove of an attribute with a capitalised op', async () => {
  const u = await createEntraUser();
  const newName = `${randomUUID()}@testuser.com`;
  const res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch(
    { op: 'Replace', path: 'userName', value: newName },
    { op: 'Remove', path: 'displayName' },
  )));
  assert.equal(res.userName, newName);
  assert.equal(res.displayName, undefined);
  assert.deepEqual((await get(`/Users?${q(`userName eq "${newName}"`)}`)).Resources.map((r) => r.id), [u.id]);
  assert.equal((await get(`/Users?${q(`userName eq "${u.userName}"`)}`)).totalResults, 0);
});

test('Entra manager as a bare id string: Replace path urn:…:manager and pathless value {"urn:…:manager": "<id>"}', async () => {
  const boss1 = await createEntraUser();
  const boss2 = await createEntraUser();
  const u = await createEntraUser();
  let res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Replace', path: `${ENTERPRISE}:manager`, value: boss1.id })));
  assert.deepEqual(res[ENTERPRISE].manager, { value: boss1.id });
  res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Replace', value: { [`${ENTERPRISE}:manager`]: boss2.id } })));
  assert.deepEqual(res[ENTERPRISE].manager, { value: boss2.id });
  assert.equal(res[ENTERPRISE].department, 'Engineering', 'the rest of the extension is kept');
  assert.deepEqual(await get(`/Users/${u.id}`), res);
  const byManager = await get(`/Users?${q(`${ENTERPRISE}:manager.value eq "${boss2.id}"`)}`);
  assert.deepEqual(byManager.Resources.map((r) => r.id), [u.id]);
  // Entra clears the manager with Remove.
  res = ok(await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch({ op: 'Remove', path: `${ENTERPRISE}:manager` })));
  assert.equal(res[ENTERPRISE].manager, undefined);
  assert.equal(res[ENTERPRISE].department, 'Engineering');
});

test('Entra multi-operation PATCH is atomic (RFC 7644 §3.5.2): a bad string boolean in the last op applies none', async () => {
  const u = await createEntraUser();
  const bad = await scim(conn, 'PATCH', `/Users/${u.id}`, entraPatch(
    { op: 'Replace', path: 'displayName', value: 'Should Not Stick' },
    { op: 'Replace', path: 'active', value: 'NotABoolean' },
  ));
  assertScimError(bad, 400, 'invalidValue');
  assert.deepEqual(await get(`/Users/${u.id}`), u);
});

test('Entra groups: POST /Groups with externalId, Add members with "$ref": null, Remove members with a value array, membership query, DELETE', async () => {
  const users = [];
  for (let i = 0; i < 4; i += 1) users.push(await createEntraUser());
  const externalId = randomUUID();
  const displayName = `Entra Group ${randomUUID()}`;
  const created = await scim(conn, 'POST', '/Groups', {
    schemas: [GROUP_SCHEMA], externalId, displayName, meta: { resourceType: 'Group' },
  });
  const g = ok(created, 201);
  assert.equal(created.headers.get('location'), `${conn.base}/Groups/${g.id}`);
  assert.equal(g.externalId, externalId);
  assert.equal(g.displayName, displayName);
  assert.equal(g.members, undefined);

  // Entra's lookups: by id without members, by displayName, by externalId.
  assert.deepEqual(await get(`/Groups/${g.id}?excludedAttributes=members`), g);
  const byName = await get(`/Groups?excludedAttributes=members&${q(`displayName eq "${displayName}"`)}`);
  assert.deepEqual(byName.Resources, [g]);
  const byExternal = await get(`/Groups?${q(`externalId eq "${externalId}"`)}`);
  assert.deepEqual(byExternal.Resources.map((r) => r.id), [g.id]);
  assertScimError(await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], externalId, displayName: `${displayName} 2` }), 409, 'uniqueness');

  // Add members, each with "$ref": null.
  const added = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, entraPatch({
    op: 'Add', path: 'members', value: users.map((u) => ({ $ref: null, value: u.id })),
  })));
  assert.deepEqual(added.members, users.map((u) => ({ value: u.id, $ref: `${conn.base}/Users/${u.id}`, type: 'User' })));
  assert.equal(added.meta.version, 'W/"2"');

  // The membership query Entra sends before adding or removing.
  const membership = (uid) => `/Groups?${q(`id eq "${g.id}" and members[value eq "${uid}"]`)}&excludedAttributes=members`;
  let check = await get(membership(users[1].id));
  assert.equal(check.totalResults, 1);
  assert.equal(check.Resources.length, 1);
  assert.equal(check.Resources[0].id, g.id);
  assert.equal(check.Resources[0].members, undefined);
  assert.equal(check.Resources[0].displayName, displayName);

  // Remove on path "members" with a value array removes exactly those.
  const removed = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, entraPatch({
    op: 'Remove', path: 'members', value: [{ $ref: null, value: users[1].id }, { $ref: null, value: users[3].id }],
  })));
  assert.deepEqual(removed.members.map((m) => m.value), [users[0].id, users[2].id]);
  assert.equal(removed.meta.version, 'W/"3"');
  check = await get(membership(users[1].id));
  assert.deepEqual([check.totalResults, check.Resources], [0, []]);
  check = await get(membership(users[2].id));
  assert.equal(check.totalResults, 1);
  assert.equal(check.Resources[0].members, undefined);
  assert.equal((await get(`/Users/${users[3].id}`)).groups, undefined);
  assert.deepEqual((await get(`/Users/${users[0].id}`)).groups.map((x) => x.value), [g.id]);

  // Rename with a capitalised op, then delete.
  const renamed = ok(await scim(conn, 'PATCH', `/Groups/${g.id}`, entraPatch({ op: 'Replace', path: 'displayName', value: `${displayName} renamed` })));
  assert.equal(renamed.displayName, `${displayName} renamed`);
  assert.deepEqual(renamed.members.map((m) => m.value), [users[0].id, users[2].id]);
  const del = await scim(conn, 'DELETE', `/Groups/${g.id}`);
  assert.equal(del.status, 204, del.text);
  assertScimError(await scim(conn, 'GET', `/Groups/${g.id}`), 404);
  assert.equal((await get(membership(users[0].id))).totalResults, 0);
});

test('Entra Delete User: DELETE /Users/{id} → 204, then the externalId lookup is empty', async () => {
  const u = await createEntraUser();
  const del = await scim(conn, 'DELETE', `/Users/${u.id}`);
  assert.equal(del.status, 204, del.text);
  assert.equal((await get(`/Users?${q(`externalId eq "${u.externalId}"`)}`)).totalResults, 0);
  assertScimError(await scim(conn, 'DELETE', `/Users/${u.id}`), 404);
});
