// Tenancy: a connection's token opens that connection only, its users are invisible elsewhere,
// token scopes are enforced, and token lifetimes are what the admin asked for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, admin, newConnection, scim, assertScimError, assertAdminError, createUser, patchOp,
  USER_SCHEMA, SEARCH_REQUEST,
} from './harness.mjs';

let server;
let a;
let b;
let bUser;
before(async () => {
  server = await startWorker();
  a = await newConnection(server, 'Tenant A');
  b = await newConnection(server, 'Tenant B');
  bUser = await createUser(b, 'only.in.b@example.com', {
    externalId: 'b-ext-1', displayName: 'B Person', emails: [{ value: 'only.in.b@example.com', type: 'work' }],
  });
  await createUser(a, 'only.in.a@example.com', { externalId: 'a-ext-1' });
});
after(async () => { await server?.stop(); });

async function bUserUnchanged() {
  const res = await scim(b, 'GET', `/Users/${bUser.id}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, bUser);
}

test("A's token on B's URL is 401 for every method and endpoint", async () => {
  const aTokenOnB = { base: b.base, token: a.token };
  const requests = [
    ['GET', '/Users'],
    ['GET', `/Users/${bUser.id}`],
    ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'intruder@example.com' }],
    ['PUT', `/Users/${bUser.id}`, { schemas: [USER_SCHEMA], userName: bUser.userName, displayName: 'Hijacked' }],
    ['PATCH', `/Users/${bUser.id}`, patchOp({ op: 'replace', path: 'active', value: false })],
    ['DELETE', `/Users/${bUser.id}`],
    ['POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'userName pr' }],
    ['POST', '/.search', { schemas: [SEARCH_REQUEST] }],
    ['GET', '/ServiceProviderConfig'],
    ['GET', '/Schemas'],
    ['GET', '/ResourceTypes'],
    ['POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [{ method: 'DELETE', path: `/Users/${bUser.id}` }] }],
  ];
  const reference = await scim(b, 'GET', '/Users', undefined, {}, 'scim_not_a_token');
  for (const [method, path, body] of requests) {
    const res = await scim(aTokenOnB, method, path, body);
    assertScimError(res, 401);
    assert.equal(res.text, reference.text, `${method} ${path}: differs from a wrong token`);
  }
  await bUserUnchanged();
  const list = await scim(b, 'GET', '/Users');
  assert.equal(list.json.totalResults, 1, 'nothing was created in B');
});

test("B's user id through A's URL is 404 for GET/PUT/PATCH/DELETE, and B's user is unchanged", async () => {
  const path = `/Users/${bUser.id}`;
  assertScimError(await scim(a, 'GET', path), 404);
  assertScimError(await scim(a, 'GET', path, undefined, { 'if-none-match': bUser.meta.version }), 404);
  assertScimError(await scim(a, 'PUT', path, { schemas: [USER_SCHEMA], userName: 'stolen@example.com' }), 404);
  assertScimError(await scim(a, 'PATCH', path, patchOp({ op: 'replace', path: 'displayName', value: 'Stolen' })), 404);
  assertScimError(await scim(a, 'DELETE', path), 404);
  assertScimError(await scim(a, 'DELETE', path, undefined, { 'if-match': '*' }), 404);
  await bUserUnchanged();
});

test("A's list and searches never contain B's users", async () => {
  const all = await scim(a, 'GET', '/Users');
  assert.equal(all.status, 200, all.text);
  assert.ok(all.json.Resources.every((u) => u.id !== bUser.id));
  assert.ok(!all.text.includes(bUser.id));
  assert.ok(!all.text.includes('only.in.b'));
  for (const filter of [
    `userName eq "${bUser.userName}"`,
    `id eq "${bUser.id}"`,
    'externalId eq "b-ext-1"',
    'userName co "only.in.b"',
    'emails[value co "only.in.b"]',
    'userName pr',
  ]) {
    const res = await scim(a, 'GET', `/Users?filter=${encodeURIComponent(filter)}`);
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    assert.ok(!res.text.includes(bUser.id), `${filter} leaks B's user`);
    const search = await scim(a, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter });
    assert.equal(search.status, 200, search.text);
    assert.ok(!search.text.includes(bUser.id), `${filter} (.search) leaks B's user`);
  }
  const count = await scim(a, 'GET', '/Users?filter=userName%20pr');
  assert.deepEqual(count.json.Resources.map((u) => u.userName), ['only.in.a@example.com']);
});

test('the same userName and externalId can exist in two connections', async () => {
  const ua = await createUser(a, 'Same.Person@example.com', { externalId: 'shared-ext' });
  const ub = await createUser(b, 'same.person@example.com', { externalId: 'shared-ext' });
  assert.notEqual(ua.id, ub.id);
  // Deleting one leaves the other.
  assert.equal((await scim(a, 'DELETE', `/Users/${ua.id}`)).status, 204);
  const still = await scim(b, 'GET', `/Users/${ub.id}`);
  assert.equal(still.status, 200);
  assert.deepEqual(still.json, ub);
  assert.equal((await scim(b, 'DELETE', `/Users/${ub.id}`)).status, 204);
});

test('a read:users token reads (200) and cannot write (403), and nothing changes', async () => {
  const issued = await admin(server, 'POST', `/connections/${b.id}/tokens`, { scopes: ['read:users'] });
  assert.equal(issued.status, 201, issued.text);
  assert.deepEqual(issued.json.scopes, ['read:users']);
  const reader = { base: b.base, token: issued.json.token, id: issued.json.id };

  const list = await scim(reader, 'GET', '/Users');
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.Resources.some((u) => u.id === bUser.id));
  const one = await scim(reader, 'GET', `/Users/${bUser.id}`);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json, bUser);
  assert.equal((await scim(reader, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'userName pr' })).status, 200);
  assert.equal((await scim(reader, 'GET', '/ServiceProviderConfig')).status, 200);

  const writes = [
    ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'reader.wrote.this@example.com' }],
    ['PUT', `/Users/${bUser.id}`, { schemas: [USER_SCHEMA], userName: bUser.userName, displayName: 'Reader was here' }],
    ['PATCH', `/Users/${bUser.id}`, patchOp({ op: 'replace', path: 'active', value: false })],
    ['DELETE', `/Users/${bUser.id}`],
  ];
  for (const [method, path, body] of writes) {
    assertScimError(await scim(reader, method, path, body), 403);
  }
  // Nor through Bulk.
  const bulk = await scim(reader, 'POST', '/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'DELETE', path: `/Users/${bUser.id}` }, { method: 'POST', path: '/Users', bulkId: 'r', data: { userName: 'bulk.reader@example.com' } }],
  });
  assert.ok([200, 403, 501].includes(bulk.status), `${bulk.status} ${bulk.text}`);
  if (bulk.status === 200) {
    for (const op of bulk.json.Operations) assert.equal(op.status, '403', JSON.stringify(op));
  }
  await bUserUnchanged();
  const after = await scim(b, 'GET', '/Users?filter=userName%20sw%20%22reader%22');
  assert.equal(after.json.totalResults, 0);
  const bulkMade = await scim(b, 'GET', '/Users?filter=userName%20sw%20%22bulk.reader%22');
  assert.equal(bulkMade.json.totalResults, 0);
  // At most two live tokens per connection: make room for the next test's token.
  assert.equal((await admin(server, 'DELETE', `/connections/${b.id}/tokens/${reader.id}`)).status, 204);
});

test('a write:users token cannot read users (403)', async () => {
  const issued = await admin(server, 'POST', `/connections/${b.id}/tokens`, { scopes: ['write:users'] });
  assert.equal(issued.status, 201, issued.text);
  const writer = { base: b.base, token: issued.json.token };
  assertScimError(await scim(writer, 'GET', '/Users'), 403);
  assertScimError(await scim(writer, 'GET', `/Users/${bUser.id}`), 403);
  assertScimError(await scim(writer, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST] }), 403);
});

test('token lifetime: expires_in below 15 minutes is 400; expires_at = created_at + expires_in', async () => {
  for (const expires_in of [899, 60, 0, -60, 1, 10.5, '3600', 'never']) {
    assertAdminError(await admin(server, 'POST', `/connections/${a.id}/tokens`, { expires_in }), 400, 'invalid_request');
  }
  for (const expires_in of [900, 3600, 90 * 24 * 3600]) {
    const res = await admin(server, 'POST', `/connections/${a.id}/tokens`, { expires_in });
    assert.equal(res.status, 201, res.text);
    const { created_at: created, expires_at: expires } = res.json;
    assert.equal(Date.parse(expires) - Date.parse(created), expires_in * 1000, `${created} + ${expires_in}s != ${expires}`);
    // Not yet expired: it works.
    const r = await scim({ base: a.base, token: res.json.token }, 'GET', '/Users');
    assert.equal(r.status, 200, r.text);
    const listed = await admin(server, 'GET', `/connections/${a.id}/tokens`);
    assert.equal(listed.json.tokens.find((t) => t.id === res.json.id).expires_at, expires);
    // Revoke it again: a connection holds at most two live tokens.
    assert.equal((await admin(server, 'DELETE', `/connections/${a.id}/tokens/${res.json.id}`)).status, 204);
  }
});

test('rotation: two live tokens work side by side, a third is refused until one is revoked', async () => {
  const c = await newConnection(server, 'Rotation');
  const second = await admin(server, 'POST', `/connections/${c.id}/tokens`, {});
  assert.equal(second.status, 201, second.text);
  for (const token of [c.token, second.json.token]) {
    assert.equal((await scim({ base: c.base, token }, 'GET', '/Users')).status, 200);
  }
  const third = await admin(server, 'POST', `/connections/${c.id}/tokens`, {});
  assertAdminError(third, 409, 'conflict');
  assert.match(third.json.message, /2 active tokens/);
  assert.equal((await admin(server, 'DELETE', `/connections/${c.id}/tokens/${c.tokenId}`)).status, 204);
  assert.equal((await scim({ base: c.base, token: c.token }, 'GET', '/Users')).status, 401);
  assert.equal((await scim({ base: c.base, token: second.json.token }, 'GET', '/Users')).status, 200);
  assert.equal((await admin(server, 'POST', `/connections/${c.id}/tokens`, {})).status, 201);
});

test('rate limit: excess requests get 429 with Retry-After, and the limit is a setting', async () => {
  const c = await newConnection(server, 'Limited');
  const set = await admin(server, 'PATCH', `/connections/${c.id}`, { settings: { rate_limit: 5 } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json.settings.rate_limit, 5);
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: 40 }, () => scim(c, 'GET', '/ServiceProviderConfig')),
  );
  const seconds = (Date.now() - started) / 1000;
  const limited = results.filter((r) => r.status === 429);
  const passed = results.filter((r) => r.status === 200).length;
  assert.equal(passed + limited.length, 40);
  // A burst of twice the rate (10), plus 5/s refilled while the requests ran.
  assert.ok(passed >= 10, `the burst must pass, got ${passed}`);
  assert.ok(passed <= 10 + Math.ceil(5 * seconds) + 1, `${passed} passed in ${seconds}s over a 5/s limit`);
  for (const r of limited) {
    assertScimError(r, 429);
    assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  }
  // Another connection is not affected.
  const other = await newConnection(server, 'Unlimited');
  assert.equal((await scim(other, 'GET', '/ServiceProviderConfig')).status, 200);
});
