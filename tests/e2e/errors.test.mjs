// RFC 7644 §3.12 errors: every failure is a SCIM Error message with the right status and
// scimType, authentication failures say nothing about the connection, and no input makes the
// worker fail (5xx) or stop answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  startWorker, newConnection, scim, call, admin, app, assertScimError, assertAdminError, createUser,
  patchOp, unknownConnectionId, USER_SCHEMA, PATCH_OP,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Errors');
});
after(async () => { await server?.stop(); });

const user = (extra = {}) => ({ schemas: [USER_SCHEMA], userName: `err.${randomBytes(4).toString('hex')}@example.com`, ...extra });

async function userCount(c = conn) {
  const res = await scim(c, 'GET', '/Users?count=0');
  assert.equal(res.status, 200, res.text);
  return res.json.totalResults;
}

test('malformed JSON is 400 invalidSyntax on POST, PUT and PATCH', async () => {
  const existing = await createUser(conn, 'malformed.target@example.com');
  const count = await userCount();
  for (const body of ['{"userName": "x"', '{userName: "x"}', "{'userName': 'x'}", '{"userName": "x",}', '\u0000\u0001', '{"a":1}{"b":2}']) {
    assertScimError(await scim(conn, 'POST', '/Users', body), 400, 'invalidSyntax', `POST ${JSON.stringify(body)}`);
    assertScimError(await scim(conn, 'PUT', `/Users/${existing.id}`, body), 400, 'invalidSyntax', `PUT ${JSON.stringify(body)}`);
    assertScimError(await scim(conn, 'PATCH', `/Users/${existing.id}`, body), 400, 'invalidSyntax', `PATCH ${JSON.stringify(body)}`);
  }
  // An empty body is no JSON either.
  assertScimError(await scim(conn, 'POST', '/Users', ''), 400, 'invalidSyntax');
  assert.equal(await userCount(), count);
});

test('a body that is not a JSON object is 400 invalidSyntax', async () => {
  const count = await userCount();
  for (const body of ['[]', '[{"userName":"x"}]', '"userName"', '42', 'null', 'true']) {
    assertScimError(await scim(conn, 'POST', '/Users', body), 400, 'invalidSyntax', `POST ${body}`);
  }
  assert.equal(await userCount(), count);
});

test('an unknown attribute is 400 invalidValue naming it', async () => {
  for (const [body, name] of [
    [user({ favoriteColor: 'blue' }), 'favoriteColor'],
    [user({ name: { givenName: 'A', shoeSize: '44' } }), 'shoeSize'],
    [user({ 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { badgeColor: 'red' } }), 'badgeColor'],
    [user({ emails: [{ value: 'a@example.com', flavour: 'x' }] }), 'flavour'],
  ]) {
    const res = await scim(conn, 'POST', '/Users', body);
    const err = assertScimError(res, 400, 'invalidValue', `POST ${JSON.stringify(body)}`);
    assert.ok(err.detail.includes(name), `detail does not name ${name}: ${err.detail}`);
  }
});

test('a value of the wrong type is 400 invalidValue', async () => {
  const count = await userCount();
  for (const [extra, name] of [
    [{ active: 'yes' }, 'active'],
    [{ active: 1 }, 'active'],
    [{ emails: 5 }, 'emails'],
    [{ emails: ['a@example.com'] }, 'emails'],
    [{ name: 'Barbara Jensen' }, 'name'],
    [{ displayName: 42 }, 'displayName'],
    [{ displayName: { first: 'a' } }, 'displayName'],
    [{ userName: 42 }, 'userName'],
    [{ userName: ['a'] }, 'userName'],
    [{ emails: [{ value: 'a@example.com', primary: 'sometimes' }] }, 'primary'],
    [{ schemas: 'urn:ietf:params:scim:schemas:core:2.0:User' }, 'schemas'],
  ]) {
    const res = await scim(conn, 'POST', '/Users', user(extra));
    const err = assertScimError(res, 400, 'invalidValue', `POST ${JSON.stringify(extra)}`);
    assert.ok(err.detail.includes(name), `detail does not name ${name}: ${err.detail}`);
  }
  assert.equal(await userCount(), count);
});

test('a missing or empty userName is 400 invalidValue', async () => {
  for (const body of [
    { schemas: [USER_SCHEMA], displayName: 'No Name' },
    { schemas: [USER_SCHEMA], userName: '' },
    { schemas: [USER_SCHEMA], userName: '   ' },
    { schemas: [USER_SCHEMA], userName: null },
    {},
  ]) {
    const err = assertScimError(await scim(conn, 'POST', '/Users', body), 400, 'invalidValue', `POST ${JSON.stringify(body)}`);
    assert.match(err.detail, /userName/);
  }
  const existing = await createUser(conn, 'keeps.name@example.com');
  assertScimError(await scim(conn, 'PUT', `/Users/${existing.id}`, { displayName: 'lost my name' }), 400, 'invalidValue');
});

test('wrong schemas on a User is 400', async () => {
  for (const schemas of [['urn:example:not:a:schema'], ['urn:ietf:params:scim:schemas:core:2.0:Group'], []]) {
    assertScimError(await scim(conn, 'POST', '/Users', { schemas, userName: 'schemas@example.com' }), 400);
  }
});

test('authentication failures: 401 with WWW-Authenticate: Bearer and no hint', async () => {
  const bearer = /^Bearer\b/i;
  const attempts = [
    ['no token', null, {}],
    ['wrong token', 'scim_thisIsNotTheRightToken', {}],
    ['empty bearer', null, { authorization: 'Bearer ' }],
    ['Basic scheme with the right token', null, { authorization: `Basic ${Buffer.from(`x:${conn.token}`).toString('base64')}` }],
    ['Basic scheme, raw token', null, { authorization: `Basic ${conn.token}` }],
    ['token without a scheme', null, { authorization: conn.token }],
    ['the admin token', server.adminToken, {}],
  ];
  const bodies = new Set();
  for (const [label, token, headers] of attempts) {
    for (const [method, path, body] of [['GET', '/Users'], ['POST', '/Users', user()], ['GET', '/ServiceProviderConfig']]) {
      const res = await call(`${conn.base}${path}`, method, token, body, headers);
      assertScimError(res, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', bearer, label);
      bodies.add(res.text);
    }
  }
  assert.equal(bodies.size, 1, `401 bodies differ: ${[...bodies].join(' | ')}`);
  // Lower-case scheme is still Bearer (RFC 7235 §2.1: the scheme is case-insensitive).
  const lower = await call(`${conn.base}/Users`, 'GET', null, undefined, { authorization: `bearer ${conn.token}` });
  assert.equal(lower.status, 200, lower.text);
});

test('unknown and malformed connection ids get the same 401 as a wrong token', async () => {
  const reference = await scim(conn, 'GET', '/Users', undefined, {}, 'scim_wrong');
  assertScimError(reference, 401);
  for (const id of [unknownConnectionId(), 'nope', 'con_XYZ', 'con_', `con_${'0'.repeat(19)}`, `con_${'a'.repeat(21)}`, 'con_%00', `${conn.id.toUpperCase()}`]) {
    for (const token of [conn.token, 'scim_wrong', null]) {
      const res = await call(`${server.url}/scim/v2/${id}/Users`, 'GET', token);
      assert.equal(res.status, 401, `${id}: ${res.status} ${res.text}`);
      assert.equal(res.text, reference.text, `${id}: body differs`);
      assert.equal(res.headers.get('www-authenticate'), reference.headers.get('www-authenticate'));
    }
  }
});

test('a body over 1 MiB is 413, with or without Content-Length', async () => {
  const big = JSON.stringify(user({ displayName: 'x'.repeat(1024 * 1024 + 10) }));
  const count = await userCount();
  assertScimError(await scim(conn, 'POST', '/Users', big), 413);
  const existing = await createUser(conn, 'big.target@example.com');
  assertScimError(await scim(conn, 'PUT', `/Users/${existing.id}`, big), 413);
  assertScimError(await scim(conn, 'PATCH', `/Users/${existing.id}`, JSON.stringify(patchOp({ op: 'replace', path: 'displayName', value: 'y'.repeat(1100 * 1024) }))), 413);

  // Chunked: no Content-Length, so the size is only known while reading.
  const bytes = new TextEncoder().encode(big);
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
      controller.close();
    },
  });
  assertScimError(await scim(conn, 'POST', '/Users', stream), 413);
  assert.equal(await userCount(), count + 1);

  // Just under the limit, the body is read and judged on its content.
  const fits = await scim(conn, 'POST', '/Users', user({ favoriteColor: 'z'.repeat(1000 * 1024) }));
  assertScimError(fits, 400, 'invalidValue');
  assert.equal(await userCount(), count + 1);
});

test('admin and app API bodies over 1 MiB are 413 and change nothing', async () => {
  const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) });
  const before = await admin(server, 'GET', '/connections');
  assertAdminError(await admin(server, 'POST', '/connections', big), 413, 'payload_too_large');
  assertAdminError(await admin(server, 'PATCH', `/connections/${conn.id}`, big), 413, 'payload_too_large');
  assertAdminError(await admin(server, 'POST', '/webhooks', big), 413, 'payload_too_large');
  assertAdminError(await app(server, 'POST', `/connections/${conn.id}/sessions`, big), 413, 'payload_too_large');
  const after = await admin(server, 'GET', '/connections');
  assert.deepEqual(after.json, before.json);
  // The server still answers normally afterwards.
  assert.equal((await scim(conn, 'GET', '/Users?count=0')).status, 200);
});

test('an unsupported Content-Type is 415; application/json is accepted', async () => {
  const body = JSON.stringify(user());
  for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    assertScimError(await scim(conn, 'POST', '/Users', body, { 'content-type': type }), 415);
  }
  const json = await scim(conn, 'POST', '/Users', body, { 'content-type': 'application/json; charset=utf-8' });
  assert.equal(json.status, 201, json.text);
  const scimJson = await scim(conn, 'POST', '/Users', JSON.stringify(user()), { 'content-type': 'application/scim+json; charset=utf-8' });
  assert.equal(scimJson.status, 201, scimJson.text);
});

test('an unknown endpoint is a 404 SCIM error', async () => {
  for (const path of ['/Nothing', '/Users/x/y', '/users2', '/ServiceProviderConfig/extra', '/Schemas/urn:nope']) {
    assertScimError(await scim(conn, 'GET', path), 404);
  }
});

test('Bulk does what ServiceProviderConfig says: 501 when unsupported, a BulkResponse when supported', async () => {
  const cfg = await scim(conn, 'GET', '/ServiceProviderConfig');
  assert.equal(cfg.status, 200, cfg.text);
  const body = user();
  const bulk = await scim(conn, 'POST', '/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'q1', data: body }],
  });
  if (cfg.json.bulk.supported === false) {
    assertScimError(bulk, 501);
    return;
  }
  assert.equal(cfg.json.bulk.supported, true);
  assert.equal(bulk.status, 200, bulk.text);
  assert.deepEqual(bulk.json.schemas, ['urn:ietf:params:scim:api:messages:2.0:BulkResponse']);
  assert.equal(bulk.json.Operations.length, 1);
  const [op] = bulk.json.Operations;
  assert.equal(op.bulkId, 'q1');
  assert.equal(op.method, 'POST');
  assert.equal(op.status, '201');
  const created = await scim(conn, 'GET', `/Users?filter=${encodeURIComponent(`userName eq "${body.userName}"`)}`);
  assert.equal(created.json.totalResults, 1);
  assert.equal(op.location, created.json.Resources[0].meta.location);
  assert.equal(op.version, created.json.Resources[0].meta.version);
});

test('PATCH errors: invalidPath, noTarget, mutability, bad op, bad message', async () => {
  const u = await createUser(conn, 'patch.errors@example.com', { displayName: 'Stable' });
  const path = `/Users/${u.id}`;
  const cases = [
    [patchOp({ op: 'replace', path: 'emails[type eq', value: 'x' }), 'invalidPath'],
    [patchOp({ op: 'replace', path: '..', value: 'x' }), 'invalidPath'],
    [patchOp({ op: 'remove' }), 'noTarget'],
    [patchOp({ op: 'replace', path: 'id', value: 'new-id' }), 'mutability'],
    [patchOp({ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' }), 'mutability'],
    [patchOp({ op: 'add', path: 'groups', value: [{ value: 'g1' }] }), 'mutability'],
    [patchOp({ op: 'add', path: 'favoriteColor', value: 'blue' }), 'invalidValue'],
    [patchOp({ op: 'replace', path: 'active', value: 'maybe' }), 'invalidValue'],
    [patchOp({ op: 'replace', value: 'not an object' }), 'invalidValue'],
    [patchOp({ op: 'replace', path: 'displayName' }), 'invalidValue'],
    [patchOp({ op: 'merge', path: 'displayName', value: 'x' }), 'invalidSyntax'],
    [patchOp(), 'invalidSyntax'],
    [{ schemas: [PATCH_OP] }, 'invalidSyntax'],
    [{ schemas: [PATCH_OP], Operations: {} }, 'invalidSyntax'],
    [{ schemas: ['urn:example:other'], Operations: [{ op: 'replace', path: 'title', value: 'x' }] }, 'invalidSyntax'],
    [patchOp('replace'), 'invalidSyntax'],
  ];
  for (const [body, scimType] of cases) {
    assertScimError(await scim(conn, 'PATCH', path, body), 400, scimType, `PATCH ${JSON.stringify(body)}`);
  }
  const after = await scim(conn, 'GET', path);
  assert.deepEqual(after.json, u, 'no failed PATCH changed the user');
});

test('an invalid filter is 400 invalidFilter with a position in the detail', async () => {
  for (const filter of ['userName eq', 'userName eq "a" and', '((((', 'userName xx "a"', 'userName eq "unterminated', 'emails[type eq "work"', 'userName eq "a")', '"a" eq userName', 'and', 'userName eq "a" or or userName eq "b"']) {
    const res = await scim(conn, 'GET', `/Users?filter=${encodeURIComponent(filter)}`);
    const err = assertScimError(res, 400, 'invalidFilter', `filter=${filter}`);
    assert.match(err.detail, /(position|column|offset|char(acter)?)\s*\d+/i, `${filter}: ${err.detail}`);
  }
  const search = await scim(conn, 'POST', '/Users/.search', { filter: 'userName eq' });
  assertScimError(search, 400, 'invalidFilter');
});

/** Garbage of many kinds, generated from a fixed seed so a failure can be replayed. */
function garbage() {
  let s = 0x5eed;
  const rnd = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff; };
  const bytes = (n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const deep = (n, open, close) => open.repeat(n) + close.repeat(n);
  const inputs = [];
  // Raw bytes and broken encodings.
  for (let i = 0; i < 10; i += 1) inputs.push(['POST', '/Users', bytes(1 + Math.floor(rnd() * 2000))]);
  inputs.push(['POST', '/Users', Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"userName":"bom@example.com"}')])]);
  inputs.push(['POST', '/Users', Uint8Array.from([0x7b, 0x22, 0x75, 0x73, 0x65, 0x72, 0x4e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])]);
  // Deep nesting.
  for (const n of [100, 1000, 10_000, 100_000]) {
    inputs.push(['POST', '/Users', deep(n, '[', ']')]);
    inputs.push(['POST', '/Users', `{"userName":"deep@example.com","name":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`]);
  }
  inputs.push(['PATCH', '/Users/ID', JSON.stringify(patchOp({ op: 'add', path: 'displayName', value: JSON.parse(deep(500, '[', ']')) }))]);
  // Huge strings and numbers.
  inputs.push(['POST', '/Users', JSON.stringify(user({ displayName: '\u{1F600}'.repeat(200_000) }))]);
  inputs.push(['POST', '/Users', JSON.stringify({ userName: 'u'.repeat(500_000) })]);
  inputs.push(['POST', '/Users', `{"userName":"num@example.com","active":${'9'.repeat(5000)}}`]);
  inputs.push(['POST', '/Users', '{"userName":"num@example.com","active":1e999999}']);
  inputs.push(['POST', '/Users', `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":1`).join(',')}}`]);
  // Wrong types in every attribute.
  const attrs = ['userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates', 'externalId', 'id', 'meta', 'schemas', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'];
  const wrong = [42, -1.5, true, [], [[]], {}, { value: {} }, 'string', [1, 2], [{ value: [] }], [{ primary: 'x' }], { '': 1 }];
  for (const attr of attrs) {
    for (let k = 0; k < 3; k += 1) {
      inputs.push(['POST', '/Users', JSON.stringify({ userName: `wt.${attr}.${k}@example.com`, [attr]: wrong[Math.floor(rnd() * wrong.length)] })]);
    }
  }
  // Bad filters and odd queries.
  const filters = ['userName eq', '((((', '))))', 'userName eq "a" and (', 'not', 'not not not', '[', 'emails[', 'emails[type eq "x"]]', 'userName eq "\u0000"', 'userName eq "\u{1F600}"', 'ünïcödé eq "ß"', 'userName co ""', 'a.b.c.d eq 1', 'userName eq 1e999999', `userName eq "${'a'.repeat(100_000)}"`, '('.repeat(5000) + 'userName pr' + ')'.repeat(5000), 'userName pr and '.repeat(2000) + 'userName pr', 'meta.created gt "not a date"', 'active gt true', 'emails[value eq "a"].type eq "b"', 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', 'userName eq null', 'userName eq True', 'id eq "\'; DROP TABLE user; --"'];
  for (const f of filters) {
    // Long filters go in a search body: URLs that long are refused before the worker sees them.
    if (f.length < 2000) inputs.push(['GET', `/Users?filter=${encodeURIComponent(f)}`]);
    inputs.push(['POST', '/Users/.search', JSON.stringify({ filter: f })]);
  }
  for (const body of [{ filter: 42 }, { count: 'ten' }, { startIndex: [] }, { attributes: 'userName' }, [], 'null']) {
    inputs.push(['POST', '/Users/.search', typeof body === 'string' ? body : JSON.stringify(body)]);
  }
  for (const qs of ['count=-1', 'count=99999999999999999999', 'startIndex=99999999999999999999', 'startIndex=-99999999999', 'sortBy=%00', 'attributes=%FF', 'excludedAttributes=' + 'a,'.repeat(1000), 'filter=%', 'filter']) {
    inputs.push(['GET', `/Users?${qs}`]);
  }
  // Odd ids and paths.
  for (const id of ['%00', '..%2F..%2Fadmin', 'x'.repeat(4000), "1' OR '1'='1", '\u{1F600}', '%FF%FE']) {
    inputs.push(['GET', `/Users/${id}`]);
    inputs.push(['DELETE', `/Users/${id}`]);
    inputs.push(['PATCH', `/Users/${id}`, JSON.stringify(patchOp({ op: 'replace', path: 'active', value: false }))]);
  }
  return inputs;
}

test('~180 garbage inputs never yield a 5xx, and the worker keeps answering', async () => {
  const target = await createUser(conn, 'garbage.target@example.com');
  const inputs = garbage();
  assert.ok(inputs.length >= 100, `${inputs.length} inputs`);
  const failures = [];
  for (const [method, rawPath, body] of inputs) {
    const path = rawPath.replace('/Users/ID', `/Users/${target.id}`);
    let res;
    try {
      res = await scim(conn, method, path, body);
    } catch (e) {
      failures.push(`${method} ${path.slice(0, 80)}: request failed: ${e.message}`);
      continue;
    }
    if (res.status >= 500) {
      failures.push(`${method} ${path.slice(0, 80)} [${String(body ?? '').slice(0, 60)}]: ${res.status} ${res.text.slice(0, 200)}`);
    } else if (res.status >= 400) {
      try {
        assertScimError(res, res.status);
      } catch (e) {
        failures.push(`${method} ${path.slice(0, 80)}: not a SCIM error: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  // Still alive and consistent.
  const cfg = await scim(conn, 'GET', '/ServiceProviderConfig');
  assert.equal(cfg.status, 200);
  const after = await scim(conn, 'GET', `/Users/${target.id}`);
  assert.equal(after.status, 200, after.text);
  const fresh = await scim(conn, 'POST', '/Users', user());
  assert.equal(fresh.status, 201, fresh.text);
});

// Hardening item 11: an `attributes` / `excludedAttributes` value with a multi-byte character at
// a schema URN's byte length (42, 43, 60) once panicked in the projection parser, killing the
// isolate and every request in flight. Every route that projects answers 400 invalidValue, and the
// connection keeps answering.
test('hardening 11: multi-byte attribute names are 400 invalidValue on every projecting route', async () => {
  const existing = await createUser(conn, 'projection.panic@example.com');
  const names = [];
  for (const n of [41, 42, 43, 59, 60]) for (const ch of ['é', '€', '𝄞']) names.push(`${'a'.repeat(n)}${ch}x`);
  for (const name of names) {
    for (const param of ['attributes', 'excludedAttributes']) {
      const q = `${param}=${encodeURIComponent(name)}`;
      const ctx = `${param} ${name.length}`;
      assertScimError(await scim(conn, 'GET', `/Users?${q}`), 400, 'invalidValue', `GET /Users ${ctx}`);
      assertScimError(await scim(conn, 'GET', `/Users/${existing.id}?${q}`), 400, 'invalidValue', `GET /Users/id ${ctx}`);
      assertScimError(await scim(conn, 'GET', `/Groups?${q}`), 400, 'invalidValue', `GET /Groups ${ctx}`);
      assertScimError(await scim(conn, 'PUT', `/Users/${existing.id}?${q}`, { schemas: [USER_SCHEMA], userName: existing.userName }), 400, 'invalidValue', `PUT ${ctx}`);
      assertScimError(await scim(conn, 'PATCH', `/Users/${existing.id}?${q}`, patchOp({ op: 'replace', path: 'displayName', value: 'P' })), 400, 'invalidValue', `PATCH ${ctx}`);
      assertScimError(await scim(conn, 'POST', `/Users?${q}`, user()), 400, 'invalidValue', `POST ${ctx}`);
      assertScimError(await scim(conn, 'POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], [param]: [name] }), 400, 'invalidValue', `/Users/.search ${ctx}`);
      const root = await scim(conn, 'POST', '/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], [param]: [name] });
      assert.ok(root.status === 200 || root.status === 400, `/.search ${ctx}: ${root.status} ${root.text}`);
    }
  }
  // Still answering, and nothing changed.
  const after = await scim(conn, 'GET', `/Users/${existing.id}`);
  assert.equal(after.status, 200, after.text);
  assert.equal(after.json.displayName, existing.displayName);
});

// Hardening item 1: the Durable Object's SQL takes integers as JS numbers; a startIndex past 2^53
// once answered 500. Any start past the end is an empty page on every list route.
test('hardening 1: a huge startIndex is an empty page, never a 5xx', async () => {
  await createUser(conn, 'start.index@example.com');
  const search = (startIndex) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], startIndex });
  for (const start of ['9223372036854775297', '9007199254740993', '99999999999999999999999']) {
    for (const path of [`/Users?startIndex=${start}`, `/Groups?startIndex=${start}`, `/Users?startIndex=${start}&count=99999999999999999999`]) {
      const res = await scim(conn, 'GET', path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.deepEqual(res.json.Resources ?? [], [], path);
      assert.equal(typeof res.json.totalResults, 'number', path);
    }
  }
  for (const path of ['/Users/.search', '/Groups/.search', '/.search']) {
    // 9223372036854775297 as a JSON number (past 2^53, as the review sent it).
    const res = await scim(conn, 'POST', path, '{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"startIndex":9223372036854775297}');
    assert.equal(res.status, 200, `${path}: ${res.text}`);
    assert.deepEqual(res.json.Resources ?? [], [], path);
    const big = await scim(conn, 'POST', path, search(1e300));
    assert.ok(big.status === 200 || big.status === 400, `${path} 1e300: ${big.status}`);
  }
});
