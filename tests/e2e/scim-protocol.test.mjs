// Protocol details across resource types: sorting (RFC 7644 §3.4.2.3), Group ETags (§3.14),
// root search over Users and Groups (§3.4.3), 405 with Allow, filters checked against the schema.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, createUser, patchOp, SEARCH_REQUEST,
} from './harness.mjs';

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Protocol');
  await createUser(conn, 'carol@p.example', { name: { familyName: 'young' }, emails: [{ value: 'z@p.example' }, { value: 'c@p.example', primary: true }] });
  await createUser(conn, 'alice@p.example', { name: { familyName: 'Adams' }, emails: [{ value: 'a@p.example', primary: true }] });
  await createUser(conn, 'bob@p.example', { name: { familyName: 'baker' } });
  await createUser(conn, 'dave@p.example');
});
after(async () => { await server?.stop(); });

const names = (r) => r.json.Resources.map((u) => u.userName);

test('sortBy/sortOrder: case-insensitive strings, multi-valued by primary, missing values last ascending', async () => {
  assert.deepEqual(names(await scim(conn, 'GET', '/Users?sortBy=userName')), ['alice@p.example', 'bob@p.example', 'carol@p.example', 'dave@p.example']);
  assert.deepEqual(names(await scim(conn, 'GET', '/Users?sortBy=name.familyName')), ['alice@p.example', 'bob@p.example', 'carol@p.example', 'dave@p.example']);
  assert.deepEqual(names(await scim(conn, 'GET', '/Users?sortBy=name.familyName&sortOrder=descending')), ['dave@p.example', 'carol@p.example', 'bob@p.example', 'alice@p.example']);
  assert.deepEqual(names(await scim(conn, 'GET', '/Users?sortBy=emails')), ['alice@p.example', 'carol@p.example', 'bob@p.example', 'dave@p.example']);
  const page = await scim(conn, 'GET', '/Users?sortBy=userName&startIndex=2&count=2');
  assert.deepEqual(names(page), ['bob@p.example', 'carol@p.example']);
  assert.equal(page.json.totalResults, 4);
  assertScimError(await scim(conn, 'GET', '/Users?sortBy=userName&sortOrder=up'), 400, 'invalidValue');
  const spc = (await scim(conn, 'GET', '/ServiceProviderConfig')).json;
  assert.equal(spc.sort.supported, true);
});

test('Group ETags: header = meta.version, If-Match and If-None-Match, no-op PATCH keeps the version', async () => {
  const created = await scim(conn, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Etagged' });
  const g = created.json;
  assert.equal(created.headers.get('etag'), 'W/"1"');
  const notModified = await scim(conn, 'GET', `/Groups/${g.id}`, undefined, { 'if-none-match': 'W/"1"' });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.text, '');
  assertScimError(await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'X' }), { 'if-match': 'W/"9"' }), 412);
  assertScimError(await scim(conn, 'DELETE', `/Groups/${g.id}`, undefined, { 'if-match': 'W/"9"' }), 412);
  const same = await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Etagged' }), { 'if-match': 'W/"1"' });
  assert.equal(same.status, 200, same.text);
  assert.equal(same.json.meta.version, 'W/"1"');
  assert.equal(same.json.meta.lastModified, g.meta.lastModified);
  const changed = await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp({ op: 'replace', path: 'displayName', value: 'Etagged 2' }), { 'if-match': 'W/"1"' });
  assert.equal(changed.headers.get('etag'), 'W/"2"');
});

test('POST /.search at the root returns Users and Groups together, paged across both', async () => {
  await scim(conn, 'POST', '/Groups', { schemas: [GROUP], displayName: 'Searchable' });
  const all = await scim(conn, 'POST', '/.search', { schemas: [SEARCH_REQUEST], excludedAttributes: ['members'] });
  assert.equal(all.status, 200, all.text);
  const users = (await scim(conn, 'GET', '/Users?count=0')).json.totalResults;
  const groups = (await scim(conn, 'GET', '/Groups?count=0')).json.totalResults;
  assert.equal(all.json.totalResults, users + groups);
  const types = all.json.Resources.map((r) => r.meta.resourceType);
  assert.ok(types.includes('User') && types.includes('Group'));
  const tail = await scim(conn, 'POST', '/.search', { schemas: [SEARCH_REQUEST], startIndex: users, count: 2 });
  assert.deepEqual(tail.json.Resources.map((r) => r.meta.resourceType), ['User', 'Group']);
  const named = await scim(conn, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: 'displayName eq "Searchable" or userName eq "bob@p.example"' });
  assert.equal(named.json.totalResults, 2);
});

test('405 with an Allow header for methods an endpoint does not support', async () => {
  const cases = [
    ['POST', '/ServiceProviderConfig', 'GET'], ['DELETE', '/Schemas', 'GET'], ['PUT', '/ResourceTypes/User', 'GET'],
    ['DELETE', '/Users', 'GET, POST'], ['GET', '/Bulk', 'POST'], ['GET', '/.search', 'POST'], ['GET', '/Users/.search', 'POST'],
  ];
  for (const [method, path, allow] of cases) {
    const r = await scim(conn, method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
    assertScimError(r, 405, undefined, `${method} ${path}`);
    assert.equal(r.headers.get('allow'), allow, `${method} ${path}`);
  }
});

test('filters name real attributes: an unknown one is 400 invalidFilter, never a silent non-match', async () => {
  const r = await scim(conn, 'GET', `/Users?filter=${encodeURIComponent('shoeSize eq "9"')}`);
  assertScimError(r, 400, 'invalidFilter');
  assert.match(r.json.detail, /shoeSize/);
  assertScimError(await scim(conn, 'GET', `/Groups?filter=${encodeURIComponent('userName eq "x"')}`), 400, 'invalidFilter');
});
