// RFC 7644 §3.3–§3.6 and §3.14 on /Users: create, read, replace, patch (with the IdP dialects),
// delete, list, filter, page, search, uniqueness, ETags, write-only passwords, the enterprise
// extension, and durability across a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startWorker, newConnection, scim, admin, assertScimError, createUser, patchOp, sleep,
  USER_SCHEMA, ENTERPRISE, LIST_RESPONSE, SEARCH_REQUEST,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Users');
});
after(async () => { await server?.stop(); });

let seq = 0;
/** A fresh, unique userName. */
const uname = (stem = 'user') => `${stem}.${Date.now().toString(36)}.${(seq += 1)}@example.com`;
const q = (filter) => `/Users?filter=${encodeURIComponent(filter)}`;

async function get(id, c = conn) {
  const res = await scim(c, 'GET', `/Users/${id}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** A resource without its server-owned members, for comparing client-written content. */
function clientPart(resource) {
  const { id, meta, ...rest } = resource;
  return rest;
}

test('POST /Users: 201 with Location = meta.location, ETag = meta.version = W/"1"', async () => {
  const userName = uname('bjensen');
  const started = Date.now();
  const res = await scim(conn, 'POST', '/Users', {
    schemas: [USER_SCHEMA],
    userName,
    externalId: `ext-${userName}`,
    name: { givenName: 'Barbara', familyName: 'Jensen' },
    displayName: 'Babs Jensen',
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
  });
  assert.equal(res.status, 201, res.text);
  assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
  const u = res.json;
  assert.equal(typeof u.id, 'string');
  assert.ok(u.id.length > 0);
  assert.deepEqual(u.schemas, [USER_SCHEMA]);
  assert.equal(u.userName, userName);
  assert.equal(u.externalId, `ext-${userName}`);
  assert.deepEqual(u.name, { givenName: 'Barbara', familyName: 'Jensen' });
  assert.equal(u.displayName, 'Babs Jensen');
  assert.deepEqual(u.emails, [{ value: userName, type: 'work', primary: true }]);
  assert.equal(u.active, true);
  assert.equal(u.meta.resourceType, 'User');
  assert.equal(u.meta.location, `${conn.base}/Users/${u.id}`);
  assert.equal(res.headers.get('location'), u.meta.location);
  assert.equal(u.meta.version, 'W/"1"');
  assert.equal(res.headers.get('etag'), u.meta.version);
  assert.equal(u.meta.created, u.meta.lastModified);
  assert.ok(Math.abs(Date.parse(u.meta.created) - started) < 5 * 60_000, u.meta.created);

  // Another user gets another id.
  const other = await createUser(conn, uname());
  assert.notEqual(other.id, u.id);
});

test('GET /Users/{id} returns the resource as created, with its ETag', async () => {
  const created = await createUser(conn, uname(), { displayName: 'Get Me', title: 'Tester' });
  const res = await scim(conn, 'GET', `/Users/${created.id}`);
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
  assert.deepEqual(res.json, created);
  assert.equal(res.headers.get('etag'), 'W/"1"');

  assertScimError(await scim(conn, 'GET', '/Users/00000000-0000-4000-8000-000000000000'), 404);
  assertScimError(await scim(conn, 'GET', '/Users/not-an-id'), 404);
});

test('PUT replaces: omitted attributes are removed, readOnly id/meta ignored, version bumps', async () => {
  const userName = uname('put');
  const created = await createUser(conn, userName, {
    displayName: 'Before', title: 'Engineer', nickName: 'Nick',
    name: { givenName: 'Pat', familyName: 'Doe' },
    emails: [{ value: userName, type: 'work' }],
  });
  await sleep(5);
  const res = await scim(conn, 'PUT', `/Users/${created.id}`, {
    schemas: [USER_SCHEMA],
    id: 'attacker-chosen-id',
    userName,
    name: { givenName: 'Patricia' },
    displayName: 'After',
    meta: { version: 'W/"99"', created: '2000-01-01T00:00:00Z', location: 'https://evil.example/x', resourceType: 'Group' },
  });
  assert.equal(res.status, 200, res.text);
  const u = res.json;
  assert.equal(u.id, created.id);
  assert.equal(u.userName, userName);
  assert.deepEqual(u.name, { givenName: 'Patricia' });
  assert.equal(u.displayName, 'After');
  for (const gone of ['title', 'nickName', 'emails']) assert.equal(u[gone], undefined, `${gone} survived PUT`);
  assert.equal(u.meta.version, 'W/"2"');
  assert.equal(res.headers.get('etag'), 'W/"2"');
  assert.equal(u.meta.created, created.meta.created);
  assert.equal(u.meta.location, created.meta.location);
  assert.equal(u.meta.resourceType, 'User');
  assert.ok(Date.parse(u.meta.lastModified) > Date.parse(created.meta.lastModified), 'lastModified moved');
  assert.deepEqual(await get(created.id), u);
  assertScimError(await scim(conn, 'GET', '/Users/attacker-chosen-id'), 404);
});

test('PUT with an unchanged body keeps version and lastModified', async () => {
  const created = await createUser(conn, uname('same'), { displayName: 'Same', name: { givenName: 'S' } });
  await sleep(20);
  // The representation as read, including its readOnly members.
  const res = await scim(conn, 'PUT', `/Users/${created.id}`, created);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, created);
  assert.equal(res.headers.get('etag'), 'W/"1"');
  // The same content, written differently: no schemas, attribute names in other cases.
  const res2 = await scim(conn, 'PUT', `/Users/${created.id}`, {
    USERNAME: created.userName, displayname: 'Same', Name: { GivenName: 'S' },
  });
  assert.equal(res2.status, 200, res2.text);
  assert.equal(res2.json.meta.version, 'W/"1"');
  assert.equal(res2.json.meta.lastModified, created.meta.lastModified);
  assert.deepEqual(await get(created.id), created);
});

test('DELETE: 204, then GET 404 and a second DELETE 404', async () => {
  const created = await createUser(conn, uname('del'));
  const res = await scim(conn, 'DELETE', `/Users/${created.id}`);
  assert.equal(res.status, 204, res.text);
  assert.equal(res.text, '');
  assertScimError(await scim(conn, 'GET', `/Users/${created.id}`), 404);
  assertScimError(await scim(conn, 'DELETE', `/Users/${created.id}`), 404);
  assertScimError(await scim(conn, 'PUT', `/Users/${created.id}`, { userName: created.userName }), 404);
  assertScimError(await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'active', value: false })), 404);
  const list = await scim(conn, 'GET', q(`userName eq "${created.userName}"`));
  assert.equal(list.json.totalResults, 0);
  // The userName is free again.
  await createUser(conn, created.userName);
});

test('PATCH add/replace with a path: displayName, name.givenName, active', async () => {
  const created = await createUser(conn, uname('patch'), {
    displayName: 'Old', name: { familyName: 'Keep' }, active: true,
  });
  let res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp(
    { op: 'replace', path: 'displayName', value: 'New Name' },
  ));
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
  assert.equal(res.json.displayName, 'New Name');
  assert.equal(res.json.meta.version, 'W/"2"');
  assert.equal(res.headers.get('etag'), 'W/"2"');

  res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp(
    { op: 'add', path: 'name.givenName', value: 'Given' },
    { op: 'replace', path: 'active', value: false },
    { op: 'add', path: 'title', value: 'Boss' },
  ));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.name, { familyName: 'Keep', givenName: 'Given' });
  assert.equal(res.json.active, false);
  assert.equal(res.json.title, 'Boss');
  assert.equal(res.json.displayName, 'New Name');
  assert.equal(res.json.userName, created.userName);
  assert.equal(res.json.meta.version, 'W/"3"');
  assert.equal(res.json.meta.created, created.meta.created);
  assert.deepEqual(await get(created.id), res.json);

  // A PATCH that changes nothing keeps the version.
  res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'active', value: false }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.meta.version, 'W/"3"');
});

test('PATCH pathless replace, Okta style: {"op":"replace","value":{"active":false}}', async () => {
  const created = await createUser(conn, uname('okta'), { active: true, displayName: 'Okta User' });
  const res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', value: { active: false } }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.active, false);
  assert.equal(res.json.displayName, 'Okta User');
  assert.equal(res.json.meta.version, 'W/"2"');
  assert.equal((await get(created.id)).active, false);
});

test('PATCH Entra dialect: "Replace", "False" as a boolean, dotted and URN keys', async () => {
  const created = await createUser(conn, uname('entra'), {
    active: true, name: { givenName: 'Ada', familyName: 'Old' },
  });
  // Entra ID's literal shape: capitalised op, string boolean, no schemas check needed.
  let res = await scim(conn, 'PATCH', `/Users/${created.id}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.active, false, 'the string "False" is stored as the boolean false');

  res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'Replace', value: { active: 'True' } }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.active, true);

  res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({
    op: 'Replace',
    value: {
      'name.familyName': 'X',
      [`${ENTERPRISE}:department`]: 'Research',
    },
  }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.name, { givenName: 'Ada', familyName: 'X' });
  assert.deepEqual(res.json[ENTERPRISE], { department: 'Research' });
  assert.deepEqual(res.json.schemas, [USER_SCHEMA, ENTERPRISE]);
  assert.equal(res.json['name.familyName'], undefined);

  res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'Add', path: 'displayName', value: 'Ada X' }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.displayName, 'Ada X');
  assert.deepEqual(await get(created.id), res.json);
});

test('PATCH remove with a path removes the attribute or sub-attribute', async () => {
  const created = await createUser(conn, uname('rm'), {
    title: 'Remove me', name: { givenName: 'G', familyName: 'F' }, displayName: 'Stays',
    emails: [{ value: 'a@example.com', type: 'work' }, { value: 'b@example.com', type: 'home' }],
  });
  const res = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp(
    { op: 'remove', path: 'title' },
    { op: 'remove', path: 'name.givenName' },
    { op: 'remove', path: 'emails[type eq "home"]' },
  ));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.title, undefined);
  assert.deepEqual(res.json.name, { familyName: 'F' });
  assert.deepEqual(res.json.emails, [{ value: 'a@example.com', type: 'work' }]);
  assert.equal(res.json.displayName, 'Stays');
  assert.deepEqual(await get(created.id), res.json);

  // Removing the required userName is refused, and nothing changes.
  const bad = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'remove', path: 'userName' }));
  assertScimError(bad, 400);
  assert.deepEqual(await get(created.id), res.json);
});

test('list: userName eq is case-insensitive, externalId eq is exact, no match gives an empty list', async () => {
  const c = await newConnection(server, 'Filters');
  const alice = await createUser(c, 'Alice.Smith@Example.com', { externalId: 'EXT-Alice-1' });
  await createUser(c, 'bob@example.com', { externalId: 'ext-bob-1' });

  for (const filter of [
    'userName eq "alice.smith@example.com"',
    'userName eq "ALICE.SMITH@EXAMPLE.COM"',
    'USERNAME EQ "Alice.Smith@Example.com"',
  ]) {
    const res = await scim(c, 'GET', q(filter));
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
    assert.deepEqual(res.json.schemas, [LIST_RESPONSE]);
    assert.equal(res.json.totalResults, 1, filter);
    assert.equal(res.json.itemsPerPage, 1);
    assert.equal(res.json.startIndex, 1);
    assert.deepEqual(res.json.Resources, [alice]);
  }

  // A query string written with '+' for spaces (form encoding) means the same.
  let res = await scim(c, 'GET', '/Users?filter=userName+eq+%22alice.smith%40example.com%22');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.Resources, [alice]);

  res = await scim(c, 'GET', q('externalId eq "EXT-Alice-1"'));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.totalResults, 1);
  assert.equal(res.json.Resources[0].id, alice.id);
  // externalId is caseExact (RFC 7643 §3.1).
  res = await scim(c, 'GET', q('externalId eq "ext-alice-1"'));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.totalResults, 0);

  for (const filter of ['userName eq "nobody@example.com"', 'externalId eq "nope"', 'displayName eq "x"']) {
    res = await scim(c, 'GET', q(filter));
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    assert.deepEqual(res.json, {
      schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [],
    }, filter);
  }

  // A non-indexed filter is evaluated too.
  res = await scim(c, 'GET', q('userName sw "alice" and externalId pr'));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.Resources.map((u) => u.id), [alice.id]);
});

test('list paging: startIndex/count, itemsPerPage, stable order, startIndex 0, bad count', async () => {
  const c = await newConnection(server, 'Paging');
  const ids = [];
  for (let i = 0; i < 7; i += 1) ids.push((await createUser(c, `page${i}@example.com`)).id);

  const all = await scim(c, 'GET', '/Users');
  assert.equal(all.status, 200, all.text);
  assert.equal(all.json.totalResults, 7);
  assert.equal(all.json.itemsPerPage, 7);
  const order = all.json.Resources.map((u) => u.id);
  assert.deepEqual([...order].sort(), [...ids].sort());

  const page = await scim(c, 'GET', '/Users?startIndex=4&count=3');
  assert.equal(page.status, 200, page.text);
  assert.equal(page.json.totalResults, 7);
  assert.equal(page.json.startIndex, 4);
  assert.equal(page.json.itemsPerPage, 3);
  assert.equal(page.json.Resources.length, 3);
  assert.deepEqual(page.json.Resources.map((u) => u.id), order.slice(3, 6));

  const collected = [];
  for (let start = 1; start <= 7; start += 3) {
    const r = await scim(c, 'GET', `/Users?startIndex=${start}&count=3`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.startIndex, start);
    assert.equal(r.json.itemsPerPage, r.json.Resources.length);
    assert.equal(r.json.totalResults, 7);
    collected.push(...r.json.Resources.map((u) => u.id));
  }
  assert.deepEqual(collected, order, 'pages concatenate to the full list, in the same order');

  const last = await scim(c, 'GET', '/Users?startIndex=7&count=3');
  assert.equal(last.json.itemsPerPage, 1);
  const beyond = await scim(c, 'GET', '/Users?startIndex=50&count=3');
  assert.equal(beyond.status, 200);
  assert.equal(beyond.json.totalResults, 7);
  assert.equal(beyond.json.itemsPerPage, 0);
  assert.deepEqual(beyond.json.Resources, []);

  const zero = await scim(c, 'GET', '/Users?startIndex=0&count=2');
  assert.equal(zero.status, 200, zero.text);
  assert.equal(zero.json.startIndex, 1);
  assert.deepEqual(zero.json.Resources.map((u) => u.id), order.slice(0, 2));
  const negative = await scim(c, 'GET', '/Users?startIndex=-5&count=2');
  assert.equal(negative.json.startIndex, 1);

  // count=0: only totalResults (RFC 7644 §3.4.2.4).
  const none = await scim(c, 'GET', '/Users?count=0');
  assert.equal(none.status, 200, none.text);
  assert.equal(none.json.totalResults, 7);
  assert.equal(none.json.itemsPerPage, 0);

  // Paging combines with a filter.
  const filtered = await scim(c, 'GET', `${q('userName sw "page"')}&startIndex=2&count=2`);
  assert.equal(filtered.status, 200, filtered.text);
  assert.equal(filtered.json.totalResults, 7);
  assert.deepEqual(filtered.json.Resources.map((u) => u.id), order.slice(1, 3));

  for (const bad of ['count=abc', 'count=2.5', 'startIndex=x', 'startIndex=1.0', 'count=1e2']) {
    assertScimError(await scim(c, 'GET', `/Users?${bad}`), 400, 'invalidValue');
  }
});

test('count above the maxResults cap of 200 is capped', async () => {
  const c = await newConnection(server, 'Big');
  const total = 205;
  for (let i = 0; i < total; i += 15) {
    await Promise.all(Array.from({ length: Math.min(15, total - i) }, (_, k) => createUser(c, `big${i + k}@example.com`)));
  }
  const res = await scim(c, 'GET', '/Users?count=1000');
  assert.equal(res.status, 200, res.text.slice(0, 300));
  assert.equal(res.json.totalResults, total);
  assert.equal(res.json.itemsPerPage, 200);
  assert.equal(res.json.Resources.length, 200);
  // Without count, the page is capped too, and the rest is reachable.
  const def = await scim(c, 'GET', '/Users');
  assert.equal(def.json.Resources.length, 200);
  const rest = await scim(c, 'GET', '/Users?startIndex=201&count=1000');
  assert.equal(rest.json.itemsPerPage, 5);
  const ids = new Set([...def.json.Resources, ...rest.json.Resources].map((u) => u.id));
  assert.equal(ids.size, total);
});

test('POST /Users/.search with a filter body', async () => {
  const c = await newConnection(server, 'Search');
  const target = await createUser(c, 'Searched.Person@example.com', { displayName: 'Found' });
  await createUser(c, 'other.person@example.com');

  const res = await scim(c, 'POST', '/Users/.search', {
    schemas: [SEARCH_REQUEST], filter: 'userName eq "searched.person@EXAMPLE.com"', startIndex: 1, count: 10,
  });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
  assert.deepEqual(res.json.schemas, [LIST_RESPONSE]);
  assert.equal(res.json.totalResults, 1);
  assert.deepEqual(res.json.Resources, [target]);

  const paged = await scim(c, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], startIndex: 2, count: 1 });
  assert.equal(paged.status, 200, paged.text);
  assert.equal(paged.json.totalResults, 2);
  assert.equal(paged.json.startIndex, 2);
  assert.equal(paged.json.itemsPerPage, 1);

  assertScimError(await scim(c, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'userName eq' }), 400, 'invalidFilter');
});

test('userName is unique case-insensitively: 409 uniqueness, the first user unchanged', async () => {
  const c = await newConnection(server, 'Unique');
  const first = await createUser(c, 'Dup.User@Example.com', { displayName: 'First' });
  const res = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'dup.user@example.COM', displayName: 'Second' });
  assertScimError(res, 409, 'uniqueness');
  assert.deepEqual(await get(first.id, c), first);
  const list = await scim(c, 'GET', '/Users');
  assert.equal(list.json.totalResults, 1);

  // Taking the name by PUT or PATCH is refused the same way.
  const second = await createUser(c, 'second@example.com');
  assertScimError(await scim(c, 'PUT', `/Users/${second.id}`, { userName: 'DUP.USER@example.com' }), 409, 'uniqueness');
  assertScimError(await scim(c, 'PATCH', `/Users/${second.id}`, patchOp({ op: 'replace', path: 'userName', value: 'dup.user@example.com' })), 409, 'uniqueness');
  assert.deepEqual(await get(second.id, c), second);
  assert.deepEqual(await get(first.id, c), first);

  // A user may change the case of its own userName.
  const own = await scim(c, 'PATCH', `/Users/${first.id}`, patchOp({ op: 'replace', path: 'userName', value: 'DUP.USER@EXAMPLE.COM' }));
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json.userName, 'DUP.USER@EXAMPLE.COM');
});

test('externalId is unique per connection: 409 uniqueness', async () => {
  const c = await newConnection(server, 'Unique ext');
  const first = await createUser(c, 'ext1@example.com', { externalId: 'E-100' });
  assertScimError(await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'ext2@example.com', externalId: 'E-100' }), 409, 'uniqueness');
  const second = await createUser(c, 'ext3@example.com', { externalId: 'E-200' });
  assertScimError(await scim(c, 'PATCH', `/Users/${second.id}`, patchOp({ op: 'replace', path: 'externalId', value: 'E-100' })), 409, 'uniqueness');
  assert.deepEqual(await get(first.id, c), first);
  assert.deepEqual(await get(second.id, c), second);
  assert.equal((await scim(c, 'GET', '/Users')).json.totalResults, 2);
});

test('password is accepted on write and never returned', async () => {
  const c = await newConnection(server, 'Passwords');
  const secret = 'S3cret!pass-XYZ-7731';
  const res = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'pw@example.com', password: secret });
  assert.equal(res.status, 201, res.text);
  const id = res.json.id;
  const responses = [res];
  responses.push(await scim(c, 'GET', `/Users/${id}`));
  responses.push(await scim(c, 'GET', '/Users'));
  responses.push(await scim(c, 'GET', q('userName eq "pw@example.com"')));
  responses.push(await scim(c, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST] }));
  responses.push(await scim(c, 'PUT', `/Users/${id}`, { userName: 'pw@example.com', password: `${secret}-2`, displayName: 'PW' }));
  responses.push(await scim(c, 'PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'password', value: `${secret}-3` })));
  responses.push(await scim(c, 'PATCH', `/Users/${id}`, patchOp({ op: 'replace', value: { password: `${secret}-4`, title: 'T' } })));
  for (const r of responses) {
    assert.ok(r.status === 200 || r.status === 201, `${r.status} ${r.text}`);
    assert.ok(!r.text.includes(secret), `password returned: ${r.text}`);
    assert.ok(!/"password"/i.test(r.text), `password attribute returned: ${r.text}`);
  }
  assert.equal(responses.at(-1).json.title, 'T');
});

// RFC 7643 §8.3 (the base64 certificate joined onto one line, as JSON requires).
const ENTERPRISE_EXAMPLE = {
  schemas: [USER_SCHEMA, ENTERPRISE],
  id: '2819c223-7f76-453a-919d-413861904646',
  externalId: '701984',
  userName: 'bjensen@example.com',
  name: {
    formatted: 'Ms. Barbara J Jensen, III',
    familyName: 'Jensen',
    givenName: 'Barbara',
    middleName: 'Jane',
    honorificPrefix: 'Ms.',
    honorificSuffix: 'III',
  },
  displayName: 'Babs Jensen',
  nickName: 'Babs',
  profileUrl: 'https://login.example.com/bjensen',
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  addresses: [
    {
      streetAddress: '100 Universal City Plaza',
      locality: 'Hollywood',
      region: 'CA',
      postalCode: '91608',
      country: 'USA',
      formatted: '100 Universal City Plaza\nHollywood, CA 91608 USA',
      type: 'work',
      primary: true,
    },
    {
      streetAddress: '456 Hollywood Blvd',
      locality: 'Hollywood',
      region: 'CA',
      postalCode: '91608',
      country: 'USA',
      formatted: '456 Hollywood Blvd\nHollywood, CA 91608 USA',
      type: 'home',
    },
  ],
  phoneNumbers: [
    { value: '555-555-5555', type: 'work' },
    { value: '555-555-4444', type: 'mobile' },
  ],
  ims: [{ value: 'someaimhandle', type: 'aim' }],
  photos: [
    { value: 'https://photos.example.com/profilephoto/72930000000Ccne/F', type: 'photo' },
    { value: 'https://photos.example.com/profilephoto/72930000000Ccne/T', type: 'thumbnail' },
  ],
  userType: 'Employee',
  title: 'Tour Guide',
  preferredLanguage: 'en-US',
  locale: 'en-US',
  timezone: 'America/Los_Angeles',
  active: true,
  password: 't1meMa$heen',
  groups: [
    { value: 'e9e30dba-f08f-4109-8486-d5c6a331660a', $ref: 'https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a', display: 'Tour Guides' },
    { value: 'fc348aa8-3835-40eb-a20b-c726e15c55b5', $ref: 'https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5', display: 'Employees' },
    { value: '71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7', $ref: 'https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7', display: 'US Employees' },
  ],
  x509Certificates: [{
    value: 'MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMxEzARBgNVBAgMCkNhbGlmb3JuaWExFDASBgNVBAoMC2V4YW1wbGUuY29tMRQwEgYDVQQDDAtleGFtcGxlLmNvbTAeFw0xMTEwMjIwNjI0MzFaFw0xMjEwMDQwNjI0MzFaMH8xCzAJBgNVBAYTAlVTMRMwEQYDVQQIDApDYWxpZm9ybmlhMRQwEgYDVQQKDAtleGFtcGxlLmNvbTEhMB8GA1UEAwwYTXMuIEJhcmJhcmEgSiBKZW5zZW4gSUlJMSIwIAYJKoZIhvcNAQkBFhNiamVuc2VuQGV4YW1wbGUuY29tMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7Kr+Dcds/JQ5GwejJFcBIP682X3xpjis56AK02bc1FLgzdLI8auoR+cC9/Vrh5t66HkQIOdA4unHh0AaZ4xL5PhVbXIPMB5vAPKpzz5iPSi8xO8SL7I7SDhcBVJhqVqr3HgllEG6UClDdHO7nkLuwXq8HcISKkbT5WFTVfFZzidPl8HZ7DhXkZIRtJwBweq4bvm3hM1Os7UQH05ZS6cVDgweKNwdLLrT51ikSQG3DYrl+ft781UQRIqxgwqCfXEuDiinPh0kkvIi5jivVu1Z9QiwlYEdRbLJ4zJQBmDrSGTMYn4lRc2HgHO4DqB/bnMVorHB0CC6AV1QoFK4GPe1LwIDAQABo3sweTAJBgNVHRMEAjAAMCwGCWCGSAGG+EIBDQQfFh1PcGVuU1NMIEdlbmVyYXRlZCBDZXJ0aWZpY2F0ZTAdBgNVHQ4EFgQU8pD0U0vsZIsaA16lL8En8bx0F/gwHwYDVR0jBBgwFoAUdGeKitcaF7gnzsNwDx708kqaVt0wDQYJKoZIhvcNAQEFBQADgYEAA81SsFnOdYJtNg5Tcq+/ByEDrBgnusx0jloUhByPMEVkoMZ3J7j1ZgI8rAbOkNngX8+pKfTiDz1RC4+dx8oU6Za+4NJXUjlL5CvV6BEYb1+QAEJwitTVvxB/A67g42/vzgAtoRUeDov1+GFiBZ+GNF/cAYKcMtGcrs2i97ZkJMo=',
  }],
  [ENTERPRISE]: {
    employeeNumber: '701984',
    costCenter: '4130',
    organization: 'Universal Studios',
    division: 'Theme Park',
    department: 'Tour Operations',
    manager: {
      value: '26118915-6090-4610-87e4-49d8ca9f808d',
      $ref: '../Users/26118915-6090-4610-87e4-49d8ca9f808d',
      displayName: 'John Smith',
    },
  },
  meta: {
    resourceType: 'User',
    created: '2010-01-23T04:56:22Z',
    lastModified: '2011-05-13T04:42:34Z',
    version: 'W/"3694e05e9dff591"',
    location: 'https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646',
  },
};

test('the RFC 7643 §8.3 enterprise user round-trips every client-writable value', async () => {
  const c = await newConnection(server, 'Enterprise');
  const res = await scim(c, 'POST', '/Users', ENTERPRISE_EXAMPLE);
  assert.equal(res.status, 201, res.text);
  // What a client may write: all but readOnly (id, meta, groups, manager.displayName) and
  // writeOnly (password) values.
  const { id, meta, password, groups, ...writable } = structuredClone(ENTERPRISE_EXAMPLE);
  delete writable[ENTERPRISE].manager.displayName;

  for (const u of [res.json, await get(res.json.id, c)]) {
    assert.notEqual(u.id, ENTERPRISE_EXAMPLE.id, 'id is assigned by the service provider');
    assert.equal(u.meta.version, 'W/"1"');
    assert.notEqual(u.meta.created, ENTERPRISE_EXAMPLE.meta.created);
    assert.equal(u.meta.location, `${c.base}/Users/${u.id}`);
    assert.equal(u.password, undefined);
    assert.equal(u.groups, undefined, 'groups is readOnly: not taken from the client');
    assert.deepEqual(clientPart(u), writable);
  }

  // PUT of the same document changes nothing.
  const put = await scim(c, 'PUT', `/Users/${res.json.id}`, ENTERPRISE_EXAMPLE);
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.meta.version, 'W/"1"');
  assert.deepEqual(clientPart(put.json), writable);

  // Filters reach into the extension.
  const found = await scim(c, 'GET', q(`${ENTERPRISE}:employeeNumber eq "701984"`));
  assert.equal(found.status, 200, found.text);
  assert.deepEqual(found.json.Resources.map((u) => u.id), [res.json.id]);
});

test('If-Match with a stale ETag: PUT/PATCH/DELETE are 412 and change nothing', async () => {
  const created = await createUser(conn, uname('etag'), { displayName: 'v1' });
  const v2 = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'v2' }));
  assert.equal(v2.status, 200, v2.text);
  assert.equal(v2.headers.get('etag'), 'W/"2"');
  const stale = { 'if-match': 'W/"1"' };

  assertScimError(await scim(conn, 'PUT', `/Users/${created.id}`, { userName: created.userName, displayName: 'put' }, stale), 412);
  assertScimError(await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'patch' }), stale), 412);
  assertScimError(await scim(conn, 'DELETE', `/Users/${created.id}`, undefined, stale), 412);
  assertScimError(await scim(conn, 'DELETE', `/Users/${created.id}`, undefined, { 'if-match': '"bogus"' }), 412);
  assert.deepEqual(await get(created.id), v2.json);

  // The current ETag passes.
  const ok = await scim(conn, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'v3' }), { 'if-match': 'W/"2"' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json.meta.version, 'W/"3"');
  const putOk = await scim(conn, 'PUT', `/Users/${created.id}`, { userName: created.userName, displayName: 'v4' }, { 'if-match': ok.headers.get('etag') });
  assert.equal(putOk.status, 200, putOk.text);
  assert.equal(putOk.json.meta.version, 'W/"4"');
  const del = await scim(conn, 'DELETE', `/Users/${created.id}`, undefined, { 'if-match': 'W/"4"' });
  assert.equal(del.status, 204, del.text);
});

test('If-None-Match with the current ETag on GET is 304 without a body', async () => {
  const created = await createUser(conn, uname('inm'));
  const res = await scim(conn, 'GET', `/Users/${created.id}`, undefined, { 'if-none-match': 'W/"1"' });
  assert.equal(res.status, 304);
  assert.equal(res.text, '');
  assert.equal(res.headers.get('etag'), 'W/"1"');

  const changed = await scim(conn, 'GET', `/Users/${created.id}`, undefined, { 'if-none-match': 'W/"0"' });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.json, created);
});

test('state persists across a worker restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'scim-edge-persist-'));
  let first;
  let second;
  try {
    first = await startWorker({ persistTo: dir });
    const c = await newConnection(first, 'Durable');
    const created = await createUser(c, 'durable@example.com', {
      displayName: 'Durable', [ENTERPRISE]: { department: 'Ops' },
    });
    const patched = await scim(c, 'PATCH', `/Users/${created.id}`, patchOp({ op: 'replace', path: 'title', value: 'Kept' }));
    assert.equal(patched.status, 200, patched.text);
    const { adminToken } = first;
    await first.stop();
    first = undefined;

    second = await startWorker({ persistTo: dir, adminToken });
    const listed = await admin(second, 'GET', `/connections/${c.id}`);
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.name, 'Durable');
    assert.equal(listed.json.scim_base_url, `${second.url}/scim/v2/${c.id}`);
    // The connection's URL moved with the port; its token and data did not.
    const moved = { ...c, base: `${second.url}/scim/v2/${c.id}` };
    const got = await scim(moved, 'GET', `/Users/${created.id}`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(clientPart(got.json), clientPart(patched.json));
    assert.equal(got.json.meta.version, 'W/"2"');
    assert.equal(got.json.meta.created, created.meta.created);
    assert.equal(got.json.meta.lastModified, patched.json.meta.lastModified);
    const dup = await scim(moved, 'POST', '/Users', { userName: 'DURABLE@example.com' });
    assertScimError(dup, 409, 'uniqueness');
  } finally {
    await first?.stop({ keepState: true });
    await second?.stop({ keepState: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('filters: every operator, logical grouping, value paths, sub-attributes and extensions', async () => {
  const c = await newConnection(server, 'Filter operators');
  const ann = await createUser(c, 'ann@corp.example', {
    displayName: 'Ann Lee', title: 'Engineer', active: true, externalId: 'e1',
    emails: [{ value: 'ann@corp.example', type: 'work' }],
    [ENTERPRISE]: { department: 'R&D' },
  });
  const ben = await createUser(c, 'ben@corp.example', {
    displayName: 'Ben Ng', title: 'Manager', active: false,
    emails: [{ value: 'ben@home.example', type: 'home' }],
  });
  const cat = await createUser(c, 'cat@other.example', {
    displayName: 'Cat Cho', active: true,
    emails: [{ value: 'cat@corp.example', type: 'work' }, { value: 'c@home.example', type: 'home' }],
  });
  const byName = { ann, ben, cat };
  const cases = [
    ['userName sw "ANN"', ['ann']],
    ['userName ew "corp.example"', ['ann', 'ben']],
    ['userName co "@CORP."', ['ann', 'ben']],
    ['USERNAME Eq "BEN@corp.example"', ['ben']],
    ['displayName ne "ann lee"', ['ben', 'cat']],
    ['title pr', ['ann', 'ben']],
    ['not (title pr)', ['cat']],
    ['active eq false', ['ben']],
    ['active eq true and title pr', ['ann']],
    ['title eq "Manager" or userName sw "cat"', ['ben', 'cat']],
    ['(userName sw "a" or userName sw "b") and active eq true', ['ann']],
    ['title gt "F"', ['ben']],
    ['title le "Engineer"', ['ann']],
    ['emails[type eq "work" and value co "CORP"]', ['ann', 'cat']],
    ['emails.type eq "home"', ['ben', 'cat']],
    ['emails.value ew "home.example"', ['ben', 'cat']],
    [`${ENTERPRISE}:department eq "r&d"`, ['ann']],
    [`id eq "${ben.id}"`, ['ben']],
    ['externalId eq "e1" or externalId eq "zzz"', ['ann']],
    ['meta.created gt "2000-01-01T00:00:00Z"', ['ann', 'ben', 'cat']],
    ['meta.created lt "2000-01-01T00:00:00Z"', []],
    [`meta.resourceType eq "User" and userName eq "cat@other.example"`, ['cat']],
  ];
  for (const [filter, expected] of cases) {
    const res = await scim(c, 'GET', q(filter));
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    const got = res.json.Resources.map((u) => u.userName.split('@')[0]).sort();
    assert.deepEqual(got, expected, filter);
    assert.equal(res.json.totalResults, expected.length, filter);
    for (const u of res.json.Resources) assert.deepEqual(u, byName[u.userName.split('@')[0]]);
  }
});

test('PATCH on multi-valued attributes, value filters, extension paths, atomicity', async () => {
  const c = await newConnection(server, 'Patch multi');
  const created = await createUser(c, 'multi@example.com', {
    emails: [{ value: 'm@work.example', type: 'work', primary: true }],
  });
  const path = `/Users/${created.id}`;

  let res = await scim(c, 'PATCH', path, patchOp({ op: 'add', path: 'emails', value: [{ value: 'm@home.example', type: 'home' }] }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.emails, [
    { value: 'm@work.example', type: 'work', primary: true },
    { value: 'm@home.example', type: 'home' },
  ]);
  assert.equal(res.json.meta.version, 'W/"2"');

  // Adding a value that is already there changes nothing, not even the version (RFC 7644 §3.5.2.1).
  res = await scim(c, 'PATCH', path, patchOp({ op: 'add', path: 'emails', value: [{ value: 'm@home.example', type: 'home' }] }));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.emails.length, 2);
  assert.equal(res.json.meta.version, 'W/"2"');

  res = await scim(c, 'PATCH', path, patchOp({ op: 'replace', path: 'emails[type eq "work"].value', value: 'm2@work.example' }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.emails[0], { value: 'm2@work.example', type: 'work', primary: true });

  // Entra: add to a value path that does not exist yet creates the element.
  res = await scim(c, 'PATCH', path, patchOp({ op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }]);

  // replace through a filter that matches nothing: 400 noTarget (RFC 7644 §3.5.2.3).
  assertScimError(await scim(c, 'PATCH', path, patchOp({ op: 'replace', path: 'emails[type eq "other"].value', value: 'x@example.com' })), 400, 'noTarget');

  // Extension attributes by fully qualified path; Entra's bare-string manager.
  res = await scim(c, 'PATCH', path, patchOp(
    { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Sales' },
    { op: 'Add', path: `${ENTERPRISE}:manager`, value: 'mgr-42' },
  ));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json[ENTERPRISE], { department: 'Sales', manager: { value: 'mgr-42' } });
  assert.deepEqual(res.json.schemas, [USER_SCHEMA, ENTERPRISE]);
  res = await scim(c, 'PATCH', path, patchOp({ op: 'remove', path: `${ENTERPRISE}:manager` }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json[ENTERPRISE], { department: 'Sales' });

  // A request whose last operation fails applies none of its operations.
  const before = await get(created.id, c);
  const bad = await scim(c, 'PATCH', path, patchOp(
    { op: 'replace', path: 'title', value: 'Applied?' },
    { op: 'replace', path: 'active', value: 'maybe' },
  ));
  assertScimError(bad, 400, 'invalidValue');
  assert.deepEqual(await get(created.id, c), before);
});

test('PATCH setting primary on one value clears it on the others (RFC 7644 §3.5.2)', async () => {
  const c = await newConnection(server, 'Primary');
  const created = await createUser(c, 'primary@example.com', {
    emails: [{ value: 'p@work.example', type: 'work', primary: true }],
  });
  const res = await scim(c, 'PATCH', `/Users/${created.id}`, patchOp({
    op: 'add', path: 'emails', value: [{ value: 'p@home.example', type: 'home', primary: true }],
  }));
  assert.equal(res.status, 200, res.text);
  const emails = Object.fromEntries(res.json.emails.map((e) => [e.value, e.primary === true]));
  assert.deepEqual(emails, { 'p@work.example': false, 'p@home.example': true });
  assert.deepEqual(await get(created.id, c), res.json);

  // The same through a value filter on the primary sub-attribute.
  const other = await createUser(c, 'primary2@example.com', {
    emails: [{ value: 'q@work.example', type: 'work', primary: true }, { value: 'q@home.example', type: 'home' }],
  });
  const res2 = await scim(c, 'PATCH', `/Users/${other.id}`, patchOp({ op: 'replace', path: 'emails[type eq "home"].primary', value: true }));
  assert.equal(res2.status, 200, res2.text);
  const emails2 = Object.fromEntries(res2.json.emails.map((e) => [e.value, e.primary === true]));
  assert.deepEqual(emails2, { 'q@work.example': false, 'q@home.example': true });
});

test('attributes and excludedAttributes select what a response carries (RFC 7644 §3.9)', async () => {
  const c = await newConnection(server, 'Projection');
  const u = await createUser(c, 'proj@example.com', {
    displayName: 'Pro Jection', title: 'Lens', name: { givenName: 'Pro', familyName: 'Jection' },
    emails: [{ value: 'proj@example.com', type: 'work' }], password: 'Pr0jection!secret',
    [ENTERPRISE]: { department: 'Optics', costCenter: 'CC1' },
  });

  let res = await scim(c, 'GET', `/Users/${u.id}?attributes=displayName`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.id, u.id, 'id is always returned');
  assert.equal(res.json.displayName, 'Pro Jection');
  for (const absent of ['userName', 'title', 'name', 'emails', ENTERPRISE]) assert.equal(res.json[absent], undefined, absent);

  res = await scim(c, 'GET', `/Users/${u.id}?attributes=name.givenName,${ENTERPRISE}:department,password`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.name, { givenName: 'Pro' });
  assert.deepEqual(res.json[ENTERPRISE], { department: 'Optics' });
  assert.equal(res.json.password, undefined, 'password is never returned, even when asked for');
  assert.equal(res.json.title, undefined);

  res = await scim(c, 'GET', `/Users/${u.id}?excludedAttributes=emails,title,id`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.id, u.id, 'id is returned even when excluded');
  assert.equal(res.json.emails, undefined);
  assert.equal(res.json.title, undefined);
  assert.equal(res.json.userName, 'proj@example.com');
  assert.deepEqual(res.json.name, u.name);

  res = await scim(c, 'GET', `/Users?attributes=userName&filter=${encodeURIComponent('userName eq "proj@example.com"')}`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.Resources.length, 1);
  assert.equal(res.json.Resources[0].userName, 'proj@example.com');
  assert.equal(res.json.Resources[0].id, u.id);
  assert.equal(res.json.Resources[0].displayName, undefined);

  res = await scim(c, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], attributes: ['title'] });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.Resources[0].title, 'Lens');
  assert.equal(res.json.Resources[0].userName, undefined);

  // Projection changes the response only, never the resource.
  assert.deepEqual(await get(u.id, c), u);
});

test('POST /.search at the root finds users', async () => {
  const c = await newConnection(server, 'Root search');
  const target = await createUser(c, 'root.search@example.com');
  await createUser(c, 'someone.else@example.com');
  const res = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: 'userName eq "ROOT.search@example.com"' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.schemas, [LIST_RESPONSE]);
  assert.equal(res.json.totalResults, 1);
  assert.deepEqual(res.json.Resources, [target]);
});

test('uniqueness and If-Match hold under concurrent requests', async () => {
  const c = await newConnection(server, 'Races');
  // Twelve simultaneous creates of one userName (in different cases): exactly one wins.
  const spellings = Array.from({ length: 12 }, (_, i) => (i % 2 ? 'Race.Winner@Example.com' : 'race.winner@example.COM'));
  const creates = await Promise.all(spellings.map((userName) => scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName })));
  const statuses = creates.map((r) => r.status).sort();
  assert.deepEqual(statuses, [201, ...Array(11).fill(409)], creates.map((r) => r.text).join('\n'));
  for (const r of creates.filter((x) => x.status === 409)) assertScimError(r, 409, 'uniqueness');
  const list = await scim(c, 'GET', q('userName eq "race.winner@example.com"'));
  assert.equal(list.json.totalResults, 1);

  // Ten simultaneous PATCHes with the same If-Match: exactly one applies.
  const id = creates.find((r) => r.status === 201).json.id;
  const patches = await Promise.all(Array.from({ length: 10 }, (_, i) => scim(c, 'PATCH', `/Users/${id}`,
    patchOp({ op: 'replace', path: 'displayName', value: `writer ${i}` }), { 'if-match': 'W/"1"' })));
  const ok = patches.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, patches.map((r) => `${r.status} ${r.text}`).join('\n'));
  for (const r of patches.filter((x) => x.status !== 200)) assertScimError(r, 412);
  const final = await get(id, c);
  assert.equal(final.meta.version, 'W/"2"');
  assert.equal(final.displayName, ok[0].json.displayName);
});
