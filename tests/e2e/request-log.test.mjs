// The SCIM request log on the real worker: every request that reaches a connection's object is
// in that connection's log (/admin/v1/connections/{id}/requests), with the request id the
// client got, secrets removed, explained in words with the IdP dialect it relied on; another
// connection's log is never visible; masking on request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, admin, assertScimError, assertAdminError, patchOp, USER_SCHEMA,
  unknownConnectionId,
} from './harness.mjs';

let server;
let a;
let b;
before(async () => {
  server = await startWorker();
  a = await newConnection(server, 'Log A');
  b = await newConnection(server, 'Log B');
});
after(async () => { await server?.stop(); });

const requests = (conn, rest = '') => admin(server, 'GET', `/connections/${conn.id}/requests${rest}`);
const OKTA_UA = { 'user-agent': 'Okta SCIM Client 1.0.0' };
const ENTRA_UA = { 'user-agent': 'Microsoft.Identity.AadSync/1.0' };

/** The log entry of a SCIM response, by the X-Request-Id the client got. */
async function entryOf(conn, res) {
  const id = res.headers.get('x-request-id');
  assert.match(id ?? '', /^req_[0-9a-f]{24}$/);
  const entry = await requests(conn, `/${id}`);
  assert.equal(entry.status, 200, entry.text);
  assert.equal(entry.json.request_id, id);
  return entry.json;
}

test('a bad filter appears with status 400, invalidFilter and the request id the client got', async () => {
  const res = await scim(a, 'GET', `/Users?filter=${encodeURIComponent('userName eq')}`, undefined, ENTRA_UA);
  const error = assertScimError(res, 400, 'invalidFilter');
  const entry = await entryOf(a, res);
  assert.equal(entry.status, 400);
  assert.equal(entry.scim_type, 'invalidFilter');
  assert.equal(entry.detail, error.detail);
  assert.equal(entry.method, 'GET');
  assert.equal(entry.path, '/Users');
  assert.equal(entry.query, 'filter=userName eq');
  assert.equal(entry.user_agent, ENTRA_UA['user-agent']);
  assert.equal(entry.actor, `token:${a.tokenId}`);
  assert.equal(entry.explanation, `list users failed (400 invalidFilter): ${error.detail}`);
  assert.deepEqual(entry.response_body, error);
  // Found by status, and recorded as scim.request.failed (without bodies by default).
  const failures = await requests(a, '?status=4xx');
  assert.ok(failures.json.requests.some((e) => e.request_id === entry.request_id));
  const events = await admin(server, 'GET', `/connections/${a.id}/events?limit=200`);
  const failed = events.json.events.find((e) => e.type === 'scim.request.failed' && e.request_id === entry.request_id);
  assert.ok(failed, 'scim.request.failed recorded');
  assert.equal(failed.actor, `token:${a.tokenId}`);
  assert.deepEqual(
    failed.data,
    { request_id: entry.request_id, method: 'GET', path: '/Users', query: 'filter=userName eq', status: 400, scim_type: 'invalidFilter', detail: error.detail },
  );
});

test('a POST with a password is logged without it', async () => {
  const res = await scim(a, 'POST', '/Users', {
    schemas: [USER_SCHEMA], userName: 'okta.pw@example.com', password: '1mz050nq', groups: [], active: true,
  }, OKTA_UA);
  assert.equal(res.status, 201, res.text);
  const entry = await entryOf(a, res);
  assert.equal(entry.request_body.password, '[removed]');
  assert.equal(entry.request_body.userName, 'okta.pw@example.com');
  assert.ok(!JSON.stringify(entry).includes('1mz050nq'), 'the password is nowhere in the entry');
  assert.equal(entry.response_body.id, res.json.id);
  assert.equal(entry.resource_type, 'User');
  assert.equal(entry.resource_id, res.json.id);
  assert.equal(entry.status, 201);
  assert.equal(entry.explanation, 'created user okta.pw@example.com (password sent (not logged))');
  assert.deepEqual(entry.dialect_features.map((f) => f.code), ['password_sent']);
  // Nor in the list.
  const page = await requests(a, '?method=POST');
  assert.ok(!page.text.includes('1mz050nq'));
});

test('an Okta pathless deactivation and an Entra string-boolean PATCH are explained as such', async () => {
  const created = await scim(a, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'bjensen@example.com' });
  const id = created.json.id;
  const okta = await scim(a, 'PATCH', `/Users/${id}`, patchOp({ op: 'replace', value: { active: false } }), OKTA_UA);
  assert.equal(okta.status, 200, okta.text);
  const oktaEntry = await entryOf(a, okta);
  assert.equal(oktaEntry.explanation, 'deactivated user bjensen@example.com (Okta pathless replace of active)');
  assert.deepEqual(oktaEntry.dialect_features, [{ code: 'okta_pathless_replace', description: 'Okta pathless replace of active' }]);
  const entraOn = await scim(a, 'PATCH', `/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'True' }), ENTRA_UA);
  assert.equal((await entryOf(a, entraOn)).explanation, 'reactivated user bjensen@example.com (capitalised ops, string booleans)');
  const entraOff = await scim(a, 'PATCH', `/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }), ENTRA_UA);
  assert.equal(entraOff.json.active, false);
  const entry = await entryOf(a, entraOff);
  assert.equal(entry.explanation, 'deactivated user bjensen@example.com (capitalised ops, string booleans)');
  assert.deepEqual(entry.dialect_features.map((f) => f.code), ['capitalised_op', 'string_boolean']);
  // The same again changes nothing.
  const again = await scim(a, 'PATCH', `/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }), ENTRA_UA);
  assert.equal((await entryOf(a, again)).explanation, 'no change (capitalised ops, string booleans)');
  // The summary: which dialect features this IdP uses, and its error rate.
  const summary = await requests(a, '/summary');
  assert.equal(summary.status, 200, summary.text);
  const uses = Object.fromEntries(summary.json.dialect_features.map((f) => [f.code, f.count]));
  assert.equal(uses.okta_pathless_replace, 1);
  assert.equal(uses.capitalised_op, 3);
  assert.equal(uses.string_boolean, 3);
  assert.ok(summary.json.errors >= 1);
  assert.equal(summary.json.error_rate, Math.round((summary.json.errors / summary.json.requests) * 10000) / 10000);
  assert.equal(summary.json.by_status['400'], summary.json.errors);
});

test('paging: newest first with a cursor and filters; retention limits are reported', async () => {
  const c = await newConnection(server, 'Log paging');
  const ids = [];
  const user = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'page@example.com' });
  ids.push(user.headers.get('x-request-id'));
  for (let i = 0; i < 4; i += 1) {
    const res = await scim(c, 'GET', `/Users/${user.json.id}`);
    ids.push(res.headers.get('x-request-id'));
  }
  const del = await scim(c, 'DELETE', `/Users/${user.json.id}`);
  ids.push(del.headers.get('x-request-id'));
  const seen = [];
  let after = '';
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await requests(c, `?limit=4${after && `&after=${after}`}`);
    assert.equal(page.status, 200, page.text);
    assert.ok(page.json.requests.length <= 4);
    assert.deepEqual(page.json.retention, { max_entries: 10000, max_age_days: 14 });
    seen.push(...page.json.requests.map((e) => e.request_id));
    if (!page.json.next_after) break;
    after = page.json.next_after;
  }
  assert.deepEqual(seen, [...ids].reverse(), 'every request once, newest first');
  const reads = await requests(c, `?method=get&resource_id=${user.json.id}&status=200`);
  assert.deepEqual(reads.json.requests.map((e) => e.request_id), ids.slice(1, 5).reverse());
  assert.equal(reads.json.requests[0].explanation, 'read user page@example.com');
  const deleted = await requests(c, '?method=DELETE');
  assert.equal(deleted.json.requests[0].explanation, 'deleted user page@example.com');
  assertAdminError(await requests(c, '?status=abc'), 400, 'invalid_request');
  assertAdminError(await requests(c, '?method=TRACE'), 400, 'invalid_request');
  assertAdminError(await requests(c, '?limit=0'), 400, 'invalid_request');
  assertAdminError(await requests(c, '?after=req_000000000000000000000000'), 400, 'invalid_request');
});

test("another connection's log is never visible", async () => {
  const res = await scim(a, 'GET', '/Users');
  const aId = res.headers.get('x-request-id');
  assert.equal((await requests(a, `/${aId}`)).status, 200);
  // A's request id through B's log: 404, as for any unknown id.
  assertAdminError(await requests(b, `/${aId}`), 404, 'not_found');
  const bList = await requests(b, '?limit=200');
  assert.equal(bList.status, 200);
  assert.ok(!bList.json.requests.some((e) => e.request_id === aId));
  // A's token on B's URL lands in B's log as a 401 without bodies, never in A's.
  const wrong = await scim({ ...b, token: a.token }, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'x@example.com' });
  assert.equal(wrong.status, 401);
  const inB = await requests(b, `/${wrong.headers.get('x-request-id')}`);
  assert.equal(inB.json.status, 401);
  assert.equal(inB.json.actor, null);
  assert.equal(inB.json.request_body, null);
  assert.equal(inB.json.response_body, null);
  assertAdminError(await requests(a, `/${wrong.headers.get('x-request-id')}`), 404, 'not_found');
  // A connection that does not exist has no log; a forged id is refused before any object.
  assertAdminError(await requests({ id: unknownConnectionId() }), 404, 'not_found');
  const forged = await scim({ base: `${server.url}/scim/v2/con_nope`, token: a.token }, 'GET', '/Users');
  assert.equal(forged.status, 401);
  assertAdminError(await requests({ id: 'con_nope' }), 404, 'not_found');
});

test('masking: names and emails replaced by stable per-connection hashes', async () => {
  const m = await newConnection(server, 'Log masked');
  const set = await admin(server, 'PATCH', `/connections/${m.id}`, { settings: { request_log: { mask_pii: true } } });
  assert.equal(set.status, 200, set.text);
  assert.deepEqual(set.json.settings.request_log, { mask_pii: true, failed_event_bodies: false });
  assertAdminError(
    await admin(server, 'PATCH', `/connections/${m.id}`, { settings: { request_log: { mask_pii: 'yes' } } }),
    400, 'invalid_request',
  );
  const body = {
    schemas: [USER_SCHEMA], userName: 'jane.doe@example.com', externalId: '00u-1234',
    name: { givenName: 'Jane', familyName: 'Doe' }, emails: [{ value: 'jane.doe@example.com', type: 'work', primary: true }],
  };
  const created = await scim(m, 'POST', '/Users', body);
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.userName, 'jane.doe@example.com', 'the SCIM answer itself is not masked');
  const entry = await entryOf(m, created);
  const masked = entry.request_body.userName;
  assert.match(masked, /^masked:[0-9a-f]{16}$/);
  assert.equal(entry.request_body.emails[0].value, masked, 'the same value masks the same way');
  assert.equal(entry.response_body.userName, masked);
  assert.equal(entry.request_body.externalId, '00u-1234');
  assert.equal(entry.explanation, `created user ${masked}`);
  const found = await scim(m, 'GET', `/Users?filter=${encodeURIComponent('userName eq "Jane.Doe@example.com"')}`);
  const listed = await entryOf(m, found);
  assert.equal(listed.explanation, `listed users (filter userName eq "${masked}", 1 result)`);
  for (const e of [entry, listed]) {
    const text = JSON.stringify(e);
    for (const plain of ['jane', 'Jane', 'Doe']) assert.ok(!text.includes(plain), `${plain} in ${text}`);
  }
  // Another connection masks the same user differently (its own salt).
  await admin(server, 'PATCH', `/connections/${b.id}`, { settings: { request_log: { mask_pii: true } } });
  const other = await entryOf(b, await scim(b, 'POST', '/Users', body));
  assert.match(other.request_body.userName, /^masked:[0-9a-f]{16}$/);
  assert.notEqual(other.request_body.userName, masked);
});
