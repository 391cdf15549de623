// POST /Bulk (RFC 7644 §3.7) end to end: bulkId references (forward, in paths and in PATCH
// values), cycles, failOnErrors, versions as If-Match, per-operation errors, the BulkResponse
// shape, scopes per operation, and the advertised limits (maxOperations 1,000, maxPayloadSize
// 1 MiB) enforced with 413.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, createUser, createGroup, patchOp,
  USER_SCHEMA, GROUP_SCHEMA, BULK_REQUEST, BULK_RESPONSE, ERROR_SCHEMA,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Bulk e2e');
});
after(async () => { await server?.stop(); });

let seq = 0;
const uniq = (stem) => `${stem}-${Date.now().toString(36)}-${(seq += 1)}`;
const uname = (stem = 'bulk') => `${uniq(stem)}@bulk.example`;
const q = (filter) => `?filter=${encodeURIComponent(filter)}`;
const idOf = (location) => location.split('/').pop();

/** POSTs a BulkRequest and asserts the 200 BulkResponse envelope; returns its Operations. */
async function bulk(Operations, extra = {}, c = conn) {
  const res = await scim(c, 'POST', '/Bulk', { schemas: [BULK_REQUEST], ...extra, Operations });
  assert.equal(res.status, 200, res.text.slice(0, 2000));
  assert.match(res.headers.get('content-type') ?? '', /^application\/scim\+json/);
  assert.deepEqual(res.json.schemas, [BULK_RESPONSE]);
  assert.ok(Array.isArray(res.json.Operations), res.text);
  return res.json.Operations;
}

/** Asserts a failed operation's entry: status string, and `response` a SCIM error with that status. */
function assertOpError(op, status, scimType) {
  const where = JSON.stringify(op);
  assert.equal(op.status, String(status), where);
  assert.ok(op.response && typeof op.response === 'object', `no response body: ${where}`);
  assert.deepEqual(op.response.schemas, [ERROR_SCHEMA], where);
  assert.equal(op.response.status, String(status), where);
  assert.equal(typeof op.response.detail, 'string', where);
  if (scimType !== undefined) assert.equal(op.response.scimType, scimType, where);
}

async function countUsers(filter, c = conn) {
  const res = await scim(c, 'GET', `/Users${q(filter)}&count=0`);
  assert.equal(res.status, 200, res.text);
  return res.json.totalResults;
}

test('RFC 7644 §3.7.3 BulkResponse shape: schemas, method, bulkId, status as a string, location and version on success', async () => {
  const userName = uname('shape');
  const ops = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName, displayName: 'Shape' } },
  ]);
  assert.equal(ops.length, 1);
  const [op] = ops;
  assert.equal(op.method, 'POST');
  assert.equal(op.bulkId, 'u1');
  assert.equal(op.status, '201');
  assert.equal(typeof op.location, 'string');
  assert.match(op.location, new RegExp(`^${conn.base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/Users/[^/]+$`));
  assert.equal(op.version, 'W/"1"');
  assert.equal(op.response, undefined, 'no response body on success unless asked');
  const got = await scim(conn, 'GET', `/Users/${idOf(op.location)}`);
  assert.equal(got.status, 200, got.text);
  assert.equal(got.json.userName, userName);
  assert.equal(got.json.meta.location, op.location);
  assert.equal(got.headers.get('etag'), op.version);
});

test('RFC 7644 §3.7.2 bulkId forward reference: a group whose member is "bulkId:u1" before the user operation → both 201, the group contains the user', async () => {
  const userName = uname('forward');
  const displayName = uniq('Forward Team');
  const ops = await bulk([
    { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP_SCHEMA], displayName, members: [{ type: 'User', value: 'bulkId:u1' }] } },
    { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER_SCHEMA], userName } },
  ]);
  assert.deepEqual(ops.map((o) => [o.method, o.bulkId, o.status]), [['POST', 'g1', '201'], ['POST', 'u1', '201']],
    'results are listed in request order');
  const userId = idOf(ops[1].location);
  assert.equal(ops[0].location.split('/').slice(-2, -1)[0], 'Groups');
  const group = await scim(conn, 'GET', `/Groups/${idOf(ops[0].location)}`);
  assert.equal(group.status, 200, group.text);
  assert.deepEqual(group.json.members, [{ value: userId, $ref: `${conn.base}/Users/${userId}`, type: 'User' }]);
  const user = (await scim(conn, 'GET', `/Users/${userId}`)).json;
  assert.deepEqual(user.groups.map((g) => [g.value, g.display]), [[group.json.id, displayName]]);
  assert.ok(!JSON.stringify(group.json).includes('bulkId:'), 'no bulkId left unresolved');
});

test('RFC 7644 §3.7.2 bulkId references in a path and in PATCH values: POST group, POST user, PATCH /Groups/bulkId:g add bulkId:u', async () => {
  const displayName = uniq('Path Ref');
  const ops = await bulk([
    { method: 'PATCH', path: '/Groups/bulkId:g', data: patchOp({ op: 'add', path: 'members', value: [{ value: 'bulkId:u' }] }) },
    { method: 'POST', path: '/Users', bulkId: 'u', data: { schemas: [USER_SCHEMA], userName: uname('pathref') } },
    { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP_SCHEMA], displayName } },
  ]);
  assert.deepEqual(ops.map((o) => o.status), ['200', '201', '201']);
  const groupId = idOf(ops[2].location);
  assert.equal(ops[0].location, `${conn.base}/Groups/${groupId}`, 'the PATCH location names the resolved group');
  assert.equal(ops[0].version, 'W/"2"');
  const group = (await scim(conn, 'GET', `/Groups/${groupId}`)).json;
  assert.deepEqual(group.members.map((m) => m.value), [idOf(ops[1].location)]);
});

test('RFC 7644 §3.7.1 circular bulkId references → 409 per operation and nothing created', async () => {
  const a = uniq('Cycle A');
  const b = uniq('Cycle B');
  const c = uniq('Cycle Self');
  const ops = await bulk([
    { method: 'POST', path: '/Groups', bulkId: 'a', data: { schemas: [GROUP_SCHEMA], displayName: a, members: [{ value: 'bulkId:b' }] } },
    { method: 'POST', path: '/Groups', bulkId: 'b', data: { schemas: [GROUP_SCHEMA], displayName: b, members: [{ value: 'bulkId:a' }] } },
    { method: 'POST', path: '/Groups', bulkId: 'self', data: { schemas: [GROUP_SCHEMA], displayName: c, members: [{ value: 'bulkId:self' }] } },
  ]);
  assert.equal(ops.length, 3);
  for (const [i, bulkId] of ['a', 'b', 'self'].entries()) {
    assert.equal(ops[i].bulkId, bulkId);
    assert.equal(ops[i].method, 'POST');
    assertOpError(ops[i], 409);
    assert.equal(ops[i].location, undefined, 'a failed POST has no location');
  }
  for (const name of [a, b, c]) {
    const res = await scim(conn, 'GET', `/Groups${q(`displayName eq "${name}"`)}`);
    assert.equal(res.json.totalResults, 0, `${name} was created`);
  }
});

test('RFC 7644 §3.7.2 a reference to a bulkId that failed or does not exist → 409 for that operation; independent ones still succeed', async () => {
  const taken = await createUser(conn, uname('taken'));
  const okName = uname('independent');
  const ops = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'dup', data: { schemas: [USER_SCHEMA], userName: taken.userName.toUpperCase() } },
    { method: 'POST', path: '/Groups', bulkId: 'needsDup', data: { schemas: [GROUP_SCHEMA], displayName: uniq('Needs dup'), members: [{ value: 'bulkId:dup' }] } },
    { method: 'POST', path: '/Groups', bulkId: 'needsGhost', data: { schemas: [GROUP_SCHEMA], displayName: uniq('Needs ghost'), members: [{ value: 'bulkId:ghost' }] } },
    { method: 'POST', path: '/Users', bulkId: 'fine', data: { schemas: [USER_SCHEMA], userName: okName } },
  ]);
  assert.deepEqual(ops.map((o) => o.bulkId), ['dup', 'needsDup', 'needsGhost', 'fine']);
  assertOpError(ops[0], 409, 'uniqueness');
  assertOpError(ops[1], 409);
  assertOpError(ops[2], 409);
  assert.equal(ops[3].status, '201');
  assert.equal(await countUsers(`userName eq "${okName}"`), 1);
});

test('RFC 7644 §3.7.3 failOnErrors 1 stops after the first error; earlier successes stay, later operations are not run', async () => {
  const before = uname('fail-before');
  const after = uname('fail-after');
  const taken = await createUser(conn, uname('fail-taken'));
  const ops = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'ok1', data: { schemas: [USER_SCHEMA], userName: before } },
    { method: 'POST', path: '/Users', bulkId: 'bad', data: { schemas: [USER_SCHEMA], userName: taken.userName } },
    { method: 'POST', path: '/Users', bulkId: 'never', data: { schemas: [USER_SCHEMA], userName: after } },
    { method: 'DELETE', path: `/Users/${taken.id}` },
  ], { failOnErrors: 1 });
  assert.deepEqual(ops.map((o) => [o.bulkId, o.status]), [['ok1', '201'], ['bad', '409']]);
  assertOpError(ops[1], 409, 'uniqueness');
  assert.equal(await countUsers(`userName eq "${before}"`), 1, 'the earlier success stays');
  assert.equal(await countUsers(`userName eq "${after}"`), 0, 'later operations are not run');
  assert.equal((await scim(conn, 'GET', `/Users/${taken.id}`)).status, 200);

  // failOnErrors 2 tolerates one error.
  const more = uname('fail-two');
  const ops2 = await bulk([
    { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000000' },
    { method: 'POST', path: '/Users', bulkId: 'ok2', data: { schemas: [USER_SCHEMA], userName: more } },
    { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000001' },
    { method: 'POST', path: '/Users', bulkId: 'after2', data: { schemas: [USER_SCHEMA], userName: uname('fail-never') } },
  ], { failOnErrors: 2 });
  assert.deepEqual(ops2.map((o) => o.status), ['404', '201', '404']);
  assertOpError(ops2[0], 404);

  // Without failOnErrors every operation runs.
  const ops3 = await bulk([
    { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000002' },
    { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000003' },
    { method: 'POST', path: '/Users', bulkId: 'last', data: { schemas: [USER_SCHEMA], userName: uname('fail-none') } },
  ]);
  assert.deepEqual(ops3.map((o) => o.status), ['404', '404', '201']);
});

test('RFC 7644 §3.7 PUT, PATCH and DELETE operations: 200/200/204 with location and version', async () => {
  const u = await createUser(conn, uname('ops'), { displayName: 'Ops' });
  const path = `/Users/${u.id}`;
  const ops = await bulk([
    { method: 'PUT', path, data: { schemas: [USER_SCHEMA], userName: u.userName, displayName: 'Put' } },
    { method: 'PATCH', path, data: patchOp({ op: 'replace', path: 'title', value: 'Patched' }) },
  ]);
  assert.deepEqual(ops.map((o) => [o.method, o.status, o.location, o.version]), [
    ['PUT', '200', `${conn.base}${path}`, 'W/"2"'],
    ['PATCH', '200', `${conn.base}${path}`, 'W/"3"'],
  ]);
  const got = (await scim(conn, 'GET', path)).json;
  assert.equal(got.displayName, 'Put');
  assert.equal(got.title, 'Patched');
  const del = await bulk([{ method: 'DELETE', path }]);
  assert.deepEqual(del.map((o) => [o.method, o.status, o.location]), [['DELETE', '204', `${conn.base}${path}`]]);
  assertScimError(await scim(conn, 'GET', path), 404);
});

test('RFC 7644 §3.7 "version" on PUT/PATCH/DELETE acts as If-Match: stale → 412 in that operation (with location), current → applied', async () => {
  const u = await createUser(conn, uname('versioned'), { displayName: 'V1' });
  const path = `/Users/${u.id}`;
  const location = `${conn.base}${path}`;
  // Move the user to version 2 first.
  const v2 = await scim(conn, 'PATCH', path, patchOp({ op: 'replace', path: 'displayName', value: 'V2' }));
  assert.equal(v2.headers.get('etag'), 'W/"2"');

  const stale = await bulk([
    { method: 'PUT', path, version: 'W/"1"', data: { schemas: [USER_SCHEMA], userName: u.userName, displayName: 'stale put' } },
    { method: 'PATCH', path, version: 'W/"1"', data: patchOp({ op: 'replace', path: 'displayName', value: 'stale patch' }) },
    { method: 'DELETE', path, version: 'W/"1"' },
  ]);
  assert.deepEqual(stale.map((o) => o.method), ['PUT', 'PATCH', 'DELETE']);
  for (const op of stale) {
    assertOpError(op, 412);
    // RFC 7644 §3.7.3: location is REQUIRED in every operation response except a failed POST
    // (the RFC's own 412 example carries it).
    assert.equal(op.location, location, `location of a failed ${op.method}: ${JSON.stringify(op)}`);
  }
  const still = (await scim(conn, 'GET', path)).json;
  assert.equal(still.displayName, 'V2');
  assert.equal(still.meta.version, 'W/"2"');

  const current = await bulk([
    { method: 'PATCH', path, version: 'W/"2"', data: patchOp({ op: 'replace', path: 'displayName', value: 'V3' }) },
    { method: 'PUT', path, version: 'W/"3"', data: { schemas: [USER_SCHEMA], userName: u.userName, displayName: 'V4' } },
    { method: 'DELETE', path, version: 'W/"4"' },
  ]);
  assert.deepEqual(current.map((o) => o.status), ['200', '200', '204']);
  assert.deepEqual(current.slice(0, 2).map((o) => o.version), ['W/"3"', 'W/"4"']);
  assertScimError(await scim(conn, 'GET', path), 404);
});

test('RFC 7644 §3.7 per-operation errors carry a SCIM error "response": invalid data, unknown resource, unknown endpoint', async () => {
  const ops = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'noName', data: { schemas: [USER_SCHEMA], displayName: 'No userName' } },
    { method: 'PATCH', path: '/Users/00000000-0000-4000-8000-0000000000ff', data: patchOp({ op: 'replace', path: 'title', value: 'x' }) },
    { method: 'POST', path: '/Users', bulkId: 'badValue', data: { schemas: [USER_SCHEMA], userName: uname('bad'), active: 'perhaps' } },
    { method: 'POST', path: '/Widgets', bulkId: 'widget', data: { name: 'x' } },
  ]);
  assertOpError(ops[0], 400, 'invalidValue');
  assert.equal(ops[0].bulkId, 'noName');
  assert.equal(ops[0].location, undefined);
  assertOpError(ops[1], 404);
  assert.equal(ops[1].location, `${conn.base}/Users/00000000-0000-4000-8000-0000000000ff`);
  assertOpError(ops[2], 400, 'invalidValue');
  assertOpError(ops[3], 404);
});

test('Bulk honours token scopes per operation: a users-only token gets 403 for /Groups operations', async () => {
  const limited = await newConnection(server, 'Bulk users only', { scopes: ['read:users', 'write:users'] });
  const ops = await bulk([
    { method: 'POST', path: '/Users', bulkId: 'u', data: { schemas: [USER_SCHEMA], userName: uname('scoped') } },
    { method: 'POST', path: '/Groups', bulkId: 'g', data: { schemas: [GROUP_SCHEMA], displayName: 'Forbidden', members: [{ value: 'bulkId:u' }] } },
  ], {}, limited);
  assert.equal(ops[0].status, '201');
  assertOpError(ops[1], 403);
  const groups = await scim(conn, 'GET', `/Groups${q('displayName eq "Forbidden"')}`);
  assert.equal(groups.json.totalResults, 0);
});

test('Bulk operations stay inside their connection: paths naming another connection\'s resources are 404', async () => {
  const other = await newConnection(server, 'Bulk other');
  const foreign = await createUser(other, uname('foreign'));
  const foreignGroup = await createGroup(other, uniq('Foreign'));
  const ops = await bulk([
    { method: 'DELETE', path: `/Users/${foreign.id}` },
    { method: 'PATCH', path: `/Groups/${foreignGroup.id}`, data: patchOp({ op: 'replace', path: 'displayName', value: 'hijacked' }) },
  ]);
  assertOpError(ops[0], 404);
  assertOpError(ops[1], 404);
  assert.equal((await scim(other, 'GET', `/Users/${foreign.id}`)).status, 200);
  assert.equal((await scim(other, 'GET', `/Groups/${foreignGroup.id}`)).json.displayName, foreignGroup.displayName);
});

test('RFC 7644 §3.7.4 exactly 1,000 operations are accepted', async () => {
  const c = await newConnection(server, 'Bulk 1000');
  const Operations = Array.from({ length: 1000 }, (_, i) => ({
    method: 'POST', path: '/Users', bulkId: `m${i}`, data: { schemas: [USER_SCHEMA], userName: `max${i}@bulk1000.example` },
  }));
  const ops = await bulk(Operations, {}, c);
  assert.equal(ops.length, 1000);
  assert.ok(ops.every((o) => o.status === '201'), 'every operation 201');
  assert.equal(await countUsers('userName ew "@bulk1000.example"', c), 1000);
});

test('RFC 7644 §3.7.4 more than 1,000 operations → 413 SCIM error, and none of them runs', async () => {
  const c = await newConnection(server, 'Bulk 1001');
  const Operations = Array.from({ length: 1001 }, (_, i) => ({
    method: 'POST', path: '/Users', bulkId: `x${i}`, data: { schemas: [USER_SCHEMA], userName: `over${i}@bulk1001.example` },
  }));
  const res = await scim(c, 'POST', '/Bulk', { schemas: [BULK_REQUEST], Operations });
  assertScimError(res, 413);
  assert.match(res.json.detail, /1000|1,000/);
  assert.equal(await countUsers('userName ew "@bulk1001.example"', c), 0);
});

test('RFC 7644 §3.7.4 a body over maxPayloadSize (1 MiB) → 413 SCIM error, with or without Content-Length', async () => {
  const c = await newConnection(server, 'Bulk big');
  const big = {
    schemas: [BULK_REQUEST],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'x', data: { schemas: [USER_SCHEMA], userName: 'big@bulkbig.example', displayName: 'y'.repeat(1_100_000) } }],
  };
  const res = await scim(c, 'POST', '/Bulk', big);
  assertScimError(res, 413);
  assert.match(res.json.detail, /1048576|1 MiB|1,048,576/);

  // The same bytes streamed without a Content-Length.
  const bytes = new TextEncoder().encode(JSON.stringify(big));
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 65536) controller.enqueue(bytes.subarray(i, i + 65536));
      controller.close();
    },
  });
  assertScimError(await scim(c, 'POST', '/Bulk', stream), 413, undefined, 'chunked');
  assert.equal(await countUsers('userName eq "big@bulkbig.example"', c), 0);

  // Just under the limit is fine (in values of at most 4,096 characters each: hardening 8).
  const emails = Array.from({ length: 240 }, (_, i) => ({ value: `${'y'.repeat(4000)}${i}@bulkbig.example` }));
  const under = {
    schemas: [BULK_REQUEST],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'x', data: { schemas: [USER_SCHEMA], userName: 'under@bulkbig.example', emails } }],
  };
  assert.ok(JSON.stringify(under).length < 1048576);
  const ok = await bulk(under.Operations, {}, c);
  assert.equal(ok[0].status, '201', JSON.stringify(ok[0]).slice(0, 500));
});

test('RFC 7644 §3.7 malformed Bulk requests: invalid JSON → 400 invalidSyntax, no Operations → 400', async () => {
  assertScimError(await scim(conn, 'POST', '/Bulk', '{"schemas": ['), 400, 'invalidSyntax');
  const res = await scim(conn, 'POST', '/Bulk', { schemas: [BULK_REQUEST] });
  assertScimError(res, 400);
  const badMethod = await scim(conn, 'POST', '/Bulk', { schemas: [BULK_REQUEST], Operations: [{ method: 'GET', path: '/Users' }] });
  assert.ok([200, 400].includes(badMethod.status), badMethod.text);
  if (badMethod.status === 200) assertOpError(badMethod.json.Operations[0], 400);
  else assertScimError(badMethod, 400);
});

test('RFC 7644 §5 ServiceProviderConfig advertises bulk supported, maxOperations 1000, maxPayloadSize 1048576', async () => {
  const res = await scim(conn, 'GET', '/ServiceProviderConfig');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.bulk, { supported: true, maxOperations: 1000, maxPayloadSize: 1048576 });
});
