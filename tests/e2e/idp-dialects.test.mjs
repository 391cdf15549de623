// What Okta and Microsoft Entra ID actually send, replayed in their order against the worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startWorker, newConnection, scim, USER_SCHEMA, ENTERPRISE, PATCH_OP,
} from './harness.mjs';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
let server;
before(async () => { server = await startWorker(); });
after(async () => { await server?.stop(); });

const q = (filter) => `?filter=${encodeURIComponent(filter)}`;
const ok = (r, status = 200) => { assert.equal(r.status, status, r.text); return r.json; };

test('Okta: lookup, create with password and groups [], update, deactivate and reactivate', async () => {
  const c = await newConnection(server, 'Okta');
  const lookup = ok(await scim(c, 'GET', `/Users${q('userName eq "jdoe@okta.example"')}&startIndex=1&count=100`));
  assert.deepEqual([lookup.totalResults, lookup.Resources], [0, []]);
  const created = ok(await scim(c, 'POST', '/Users', {
    schemas: [USER_SCHEMA], userName: 'jdoe@okta.example',
    name: { givenName: 'John', familyName: 'Doe' },
    emails: [{ primary: true, value: 'jdoe@okta.example', type: 'work' }],
    displayName: 'John Doe', locale: 'en-US', externalId: '00u1abcd', groups: [], password: 'Okta-sends-this-1', active: true,
  }), 201);
  assert.equal(created.password, undefined);
  assert.equal(created.groups, undefined);
  const found = ok(await scim(c, 'GET', `/Users${q('userName eq "jdoe@okta.example"')}`));
  assert.equal(found.Resources[0].id, created.id);
  const updated = ok(await scim(c, 'PUT', `/Users/${created.id}`, {
    schemas: [USER_SCHEMA], id: created.id, userName: 'jdoe@okta.example',
    name: { givenName: 'Johnny', familyName: 'Doe' },
    emails: [{ primary: true, value: 'jdoe@okta.example', type: 'work' }], active: true,
  }));
  assert.equal(updated.name.givenName, 'Johnny');
  const off = ok(await scim(c, 'PATCH', `/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] }));
  assert.equal(off.active, false);
  assert.equal(ok(await scim(c, 'GET', `/Users/${created.id}`)).active, false);
  const on = ok(await scim(c, 'PATCH', `/Users/${created.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: true } }] }));
  assert.equal(on.active, true);
});

test('Okta group push: create, rename with id in a pathless replace, add/remove/replace members, delete', async () => {
  const c = await newConnection(server, 'Okta groups');
  const u1 = ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'a@okta.example' }), 201);
  const u2 = ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'b@okta.example' }), 201);
  const g = ok(await scim(c, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Okta Push', members: [] }), 201);
  const renamed = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { id: g.id, displayName: 'Okta Push Renamed' } }] }));
  assert.equal(renamed.displayName, 'Okta Push Renamed');
  const added = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: u1.id, display: 'a@okta.example' }, { value: u2.id, display: 'b@okta.example' }] }] }));
  assert.deepEqual(added.members.map((m) => [m.value, m.display]), [[u1.id, 'a@okta.example'], [u2.id, 'b@okta.example']]);
  const removed = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${u1.id}"]` }] }));
  assert.deepEqual(removed.members.map((m) => m.value), [u2.id]);
  const emptied = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'members', value: [] }] }));
  assert.equal(emptied.members, undefined);
  assert.equal((await scim(c, 'DELETE', `/Groups/${g.id}`)).status, 204);
});

test('Entra: test connection, create with nulls and the enterprise extension, match by externalId', async () => {
  const c = await newConnection(server, 'Entra');
  const probe = ok(await scim(c, 'GET', `/Users${q(`userName eq "${randomUUID()}"`)}`));
  assert.equal(probe.totalResults, 0);
  const manager = ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'boss@entra.example' }), 201);
  const created = ok(await scim(c, 'POST', '/Users', {
    schemas: [USER_SCHEMA, ENTERPRISE], externalId: 'e1f2', userName: 'Test_User@entra.example', active: true,
    displayName: 'Test User', nickName: null, title: null,
    emails: [{ primary: true, type: 'work', value: 'Test_User@entra.example' }],
    name: { givenName: 'Test', familyName: 'User', formatted: null },
    [ENTERPRISE]: { employeeNumber: '42', department: 'Eng', manager: { value: manager.id } },
  }), 201);
  assert.equal(created.nickName, undefined);
  assert.equal(created.name.formatted, undefined);
  assert.equal(created[ENTERPRISE].manager.value, manager.id);
  const byExternal = ok(await scim(c, 'GET', `/Users${q('externalId eq "e1f2"')}`));
  assert.equal(byExternal.Resources[0].id, created.id);
});

test('Entra PATCH dialect: capitalised ops, "False", dotted and URN keys, add to a missing value path, bare manager id', async () => {
  const c = await newConnection(server, 'Entra patch');
  const boss = ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'boss2@entra.example' }), 201);
  const u = ok(await scim(c, 'POST', '/Users', {
    schemas: [USER_SCHEMA], userName: 'p@entra.example', active: true,
    emails: [{ type: 'work', value: 'p@entra.example', primary: true }],
  }), 201);
  const off = ok(await scim(c, 'PATCH', `/Users/${u.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] }));
  assert.equal(off.active, false);
  const multi = ok(await scim(c, 'PATCH', `/Users/${u.id}`, {
    schemas: [PATCH_OP],
    Operations: [
      { op: 'Replace', value: { 'name.givenName': 'Pat', 'name.familyName': 'Entra', [`${ENTERPRISE}:department`]: 'Sales' } },
      { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
      { op: 'Replace', path: 'emails[type eq "work"].value', value: 'pat@entra.example' },
      { op: 'Add', path: `${ENTERPRISE}:manager`, value: boss.id },
    ],
  }));
  assert.deepEqual(multi.name, { givenName: 'Pat', familyName: 'Entra' });
  assert.equal(multi[ENTERPRISE].department, 'Sales');
  assert.deepEqual(multi.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }]);
  assert.equal(multi.emails[0].value, 'pat@entra.example');
  assert.deepEqual(multi[ENTERPRISE].manager, { value: boss.id });
  assert.ok(multi.schemas.includes(ENTERPRISE));
});

test('Entra groups: externalId, Add members with "$ref": null, Remove with a value array, membership query', async () => {
  const c = await newConnection(server, 'Entra groups');
  const users = [];
  for (const n of ['x', 'y', 'z']) users.push(ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: `${n}@entra.example` }), 201));
  const g = ok(await scim(c, 'POST', '/Groups', { schemas: [GROUP], externalId: 'grp-1', displayName: 'Entra Group' }), 201);
  ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: users.map((u) => ({ value: u.id, $ref: null })) }] }));
  const trimmed = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ value: users[0].id }, { value: users[2].id }] }] }));
  assert.deepEqual(trimmed.members.map((m) => m.value), [users[1].id]);
  const member = ok(await scim(c, 'GET', `/Groups${q(`id eq "${g.id}" and members[value eq "${users[1].id}"]`)}&excludedAttributes=members`));
  assert.equal(member.totalResults, 1);
  assert.equal(member.Resources[0].members, undefined);
  const notMember = ok(await scim(c, 'GET', `/Groups${q(`id eq "${g.id}" and members[value eq "${users[0].id}"]`)}&excludedAttributes=members`));
  assert.equal(notMember.totalResults, 0);
  const byExternal = ok(await scim(c, 'GET', `/Groups${q('externalId eq "grp-1"')}`));
  assert.equal(byExternal.Resources[0].id, g.id);
});

test('OneLogin/JumpCloud: PUT for updates and pathless replace of a group displayName', async () => {
  const c = await newConnection(server, 'OneLogin');
  const u = ok(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'ol@onelogin.example', title: 'A' }), 201);
  const put = ok(await scim(c, 'PUT', `/Users/${u.id}`, { schemas: [USER_SCHEMA], userName: 'ol@onelogin.example', title: 'B', active: false }));
  assert.deepEqual([put.title, put.active], ['B', false]);
  const g = ok(await scim(c, 'POST', '/Groups', { schemas: [GROUP], displayName: 'OL' }), 201);
  const renamed = ok(await scim(c, 'PATCH', `/Groups/${g.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { displayName: 'OneLogin Team' } }] }));
  assert.equal(renamed.displayName, 'OneLogin Team');
});
