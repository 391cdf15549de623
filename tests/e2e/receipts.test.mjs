// Deprovisioning receipts on the real worker (pipeline issue, "deprovisioning receipts"): each
// deactivation or deletion gets a receipt listing what was revoked and each back-channel logout
// with the client's HTTP status and time, completed with the time to revoke; the receipt's JWS
// verifies with the independent `jose` library against the served JWKS, under the connection's
// own issuer. Nothing here sleeps as an assertion: every wait polls with a deadline.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startWorker, newConnection, admin, app, scim, assertAdminError } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ISSUER = 'https://scim-edge.test';
const KID = `k-receipts-${randomBytes(4).toString('hex')}`;
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const KEY = { ...privateKey.export({ format: 'jwk' }), kid: KID };

let server;
let rpOk;
let rpFail;
let rpSlow;
let jwks;
/** Connection A: client rc-web answers 200. B: rc-fail answers 500. C: rc-slow never in time. */
let A;
let B;
let C;

const issuerOf = (connectionId) => `${ISSUER}/connections/${connectionId}`;

before(async () => {
  server = await startWorker({
    vars: {
      LOGOUT_SIGNING_KEYS: JSON.stringify([KEY]),
      LOGOUT_ISSUER: ISSUER,
      // Three attempts a second apart, then a dead letter.
      DELIVERY_RETRY_SCHEDULE: '1,1',
    },
  });
  rpOk = await startReceiver();
  rpFail = await startReceiver({ mode: 'fail' });
  // Answers after the consumer's 10 s timeout: its logouts stay pending for a while.
  rpSlow = await startReceiver({ mode: 'slow', slowMs: 25_000 });
  A = await newConnection(server, 'Receipts A');
  B = await newConnection(server, 'Receipts B');
  C = await newConnection(server, 'Receipts C');
  for (const [client_id, r, conn] of [['rc-web', rpOk, A], ['rc-fail', rpFail, B], ['rc-slow', rpSlow, C]]) {
    const res = await admin(server, 'POST', '/clients', {
      client_id, backchannel_logout_uri: r.url('/bcl'),
      backchannel_logout_session_required: true, connection_ids: [conn.id],
    });
    assert.equal(res.status, 201, res.text);
  }
  jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
});

after(async () => {
  await rpOk?.stop();
  await rpFail?.stop();
  await rpSlow?.stop();
  await server?.stop();
});

/** A user of `conn` with a session of `clientId` and a refresh token bound to it. */
async function userWithSession(conn, clientId) {
  const userName = `r.${randomBytes(4).toString('hex')}@example.com`;
  const u = await scim(conn, 'POST', '/Users', { schemas: [USER], userName, active: true });
  assert.equal(u.status, 201, u.text);
  const sid = `sid-${randomBytes(6).toString('hex')}`;
  const s = await app(server, 'POST', `/connections/${conn.id}/sessions`, { sid, user_id: u.json.id, client_id: clientId });
  assert.equal(s.status, 201, s.text);
  const t = await app(server, 'POST', `/connections/${conn.id}/refresh-tokens`, {
    refresh_token: `rt-${randomBytes(16).toString('hex')}`, user_id: u.json.id, client_id: clientId, sid,
  });
  assert.equal(t.status, 201, t.text);
  return { user: u.json, sid, tokenId: t.json.id };
}

const deactivate = (conn, user) => scim(conn, 'PATCH', `/Users/${user.id}`,
  { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });

/** The receipt of `userId` in `conn`, once there is one whose `predicate` holds. */
async function receiptOf(conn, userId, what, predicate = () => true, timeoutMs = 30_000) {
  return until(async () => {
    const list = await admin(server, 'GET', `/connections/${conn.id}/deprovisionings?limit=200`);
    assert.equal(list.status, 200, list.text);
    const summary = list.json.deprovisionings.find((r) => r.user_id === userId);
    if (!summary) return undefined;
    const one = await admin(server, 'GET', `/connections/${conn.id}/deprovisionings/${summary.id}`);
    assert.equal(one.status, 200, one.text);
    return predicate(one.json) ? one.json : undefined;
  }, what, timeoutMs);
}

/** Verifies the receipt's JWS with jose against the served JWKS and returns its payload. */
async function verifiedClaims(receipt, conn) {
  assert.equal(typeof receipt.jws, 'string', JSON.stringify(receipt));
  assert.equal(receipt.jws_unavailable_reason, null);
  const { payload, protectedHeader } = await jwtVerify(receipt.jws, jwks, {
    issuer: issuerOf(conn.id), typ: 'deprovisioning-receipt+jwt', algorithms: ['ES256'],
  });
  assert.deepEqual(decodeProtectedHeader(receipt.jws), { alg: 'ES256', typ: 'deprovisioning-receipt+jwt', kid: KID });
  assert.equal(protectedHeader.kid, KID);
  assert.equal(typeof payload.iat, 'number');
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 120, 'iat is now');
  const { iss, iat, ...claims } = payload;
  const { jws, jws_unavailable_reason: reason, ...bare } = receipt;
  assert.deepEqual(claims, bare, 'the payload is the receipt');
  return payload;
}

const isoMs = (t) => Date.parse(t);

test('a deactivation gets a receipt: what was revoked, the logout with its 200 and time, signed', async () => {
  const { user, sid, tokenId } = await userWithSession(A, 'rc-web');
  const before = Date.now();
  const res = await deactivate(A, user);
  assert.equal(res.status, 200, res.text);
  // The receipt exists from the commit on (pending until the logout is delivered).
  const first = await receiptOf(A, user.id, 'the receipt');
  assert.match(first.id, /^dpr_[0-9a-f]{24}$/);
  // The logout arrives …
  await until(() => rpOk.received.some((e) => e.body.includes('logout_token=')), 'the back-channel logout');
  // … and the receipt completes.
  const receipt = await receiptOf(A, user.id, 'a completed receipt', (r) => r.status === 'completed');
  assert.equal(receipt.id, first.id);
  assert.equal(receipt.connection_id, A.id);
  assert.equal(receipt.user_id, user.id);
  assert.equal(receipt.subject, user.userName);
  assert.equal(receipt.reason, 'deactivated');
  assert.equal(receipt.outcome, 'all_delivered');
  assert.deepEqual(receipt.revoked.sessions, [{ sid, client_id: 'rc-web' }]);
  assert.deepEqual(receipt.revoked.refresh_tokens, [{ id: tokenId, client_id: 'rc-web', sid }]);
  assert.equal(receipt.logouts.length, 1);
  const [logout] = receipt.logouts;
  assert.equal(logout.client_id, 'rc-web');
  assert.equal(logout.sid, sid);
  assert.equal(logout.outcome, 'delivered');
  assert.equal(logout.http_status, 200);
  assert.equal(logout.attempts.length, 1);
  assert.deepEqual(logout.attempts[0], { attempt: 1, ok: true, http_status: 200, error: null, at: logout.at });
  // Times: started at the commit, the logout after it, completed at the logout.
  const started = isoMs(receipt.started_at);
  assert.ok(started >= before - 5000 && started <= Date.now(), receipt.started_at);
  assert.ok(isoMs(logout.at) >= started, `${logout.at} after ${receipt.started_at}`);
  assert.equal(receipt.completed_at, logout.at);
  assert.equal(receipt.time_to_revoke_ms, isoMs(receipt.completed_at) - started);
  assert.ok(receipt.time_to_revoke_ms >= 0 && receipt.time_to_revoke_ms < 60_000, String(receipt.time_to_revoke_ms));
  assert.deepEqual(receipt.counts, { sessions: 1, refresh_tokens: 1, logouts: 1, logouts_delivered: 1, logouts_dead_lettered: 0 });
  assert.equal(JSON.stringify(receipt).includes('rt-'), false, 'never a refresh token');
  assert.equal(JSON.stringify(receipt).includes('logout_token'), false, 'never a logout token');
  // Verifiable offline: jose against the JWKS, issuer = the connection's issuer.
  await verifiedClaims(receipt, A);
  // A different issuer (another connection's) is refused.
  await assert.rejects(jwtVerify(receipt.jws, jwks, { issuer: issuerOf(B.id) }));
  // The completion is an event too.
  const log = await admin(server, 'GET', `/connections/${A.id}/events?limit=200`);
  const done = log.json.events.filter((e) => e.type === 'user.deprovisioned' && e.data.receipt_id === receipt.id);
  assert.equal(done.length, 1);
  assert.deepEqual(done[0].data, {
    receipt_id: receipt.id, user_id: user.id, reason: 'deactivated', counts: receipt.counts,
    outcome: 'all_delivered', time_to_revoke_ms: receipt.time_to_revoke_ms,
  });
});

test('a client answering 500 shows each failed attempt, then the dead letter', async () => {
  const { user, sid } = await userWithSession(B, 'rc-fail');
  assert.equal((await deactivate(B, user)).status, 200);
  const receipt = await receiptOf(B, user.id, 'the receipt completed by a dead letter',
    (r) => r.status === 'completed', 60_000);
  assert.equal(receipt.outcome, 'some_failed');
  assert.equal(receipt.logouts.length, 1);
  const [logout] = receipt.logouts;
  assert.equal(logout.client_id, 'rc-fail');
  assert.equal(logout.sid, sid);
  assert.equal(logout.outcome, 'dead_lettered');
  assert.equal(logout.http_status, 500);
  assert.equal(logout.error, 'HTTP 500');
  assert.deepEqual(logout.attempts.map((a) => [a.attempt, a.ok, a.http_status, a.error]),
    [[1, false, 500, 'HTTP 500'], [2, false, 500, 'HTTP 500'], [3, false, 500, 'HTTP 500']]);
  const times = logout.attempts.map((a) => isoMs(a.at));
  assert.ok(times[0] <= times[1] && times[1] <= times[2], JSON.stringify(times));
  assert.equal(receipt.completed_at, logout.attempts[2].at);
  assert.deepEqual(receipt.counts, { sessions: 1, refresh_tokens: 1, logouts: 1, logouts_delivered: 0, logouts_dead_lettered: 1 });
  assert.ok(rpFail.received.length >= 3, 'the client was really asked three times');
  await verifiedClaims(receipt, B);
});

test('a deletion yields a receipt too', async () => {
  const { user, sid } = await userWithSession(A, 'rc-web');
  const del = await scim(A, 'DELETE', `/Users/${user.id}`);
  assert.equal(del.status, 204, del.text);
  const receipt = await receiptOf(A, user.id, 'the deletion receipt', (r) => r.status === 'completed');
  assert.equal(receipt.reason, 'deleted');
  assert.deepEqual(receipt.revoked.sessions, [{ sid, client_id: 'rc-web' }]);
  assert.equal(receipt.logouts[0].http_status, 200);
  const claims = await verifiedClaims(receipt, A);
  assert.equal(claims.reason, 'deleted');
});

test('a user without sessions completes at once with no logouts', async () => {
  const u = await scim(A, 'POST', '/Users', { schemas: [USER], userName: `nobody.${randomBytes(3).toString('hex')}@example.com` });
  assert.equal(u.status, 201, u.text);
  assert.equal((await deactivate(A, u.json)).status, 200);
  const receipt = await receiptOf(A, u.json.id, 'the empty receipt', (r) => r.status === 'completed');
  assert.equal(receipt.outcome, 'no_logouts');
  assert.deepEqual(receipt.logouts, []);
  assert.deepEqual(receipt.revoked, { sessions: [], refresh_tokens: [] });
  assert.ok(receipt.time_to_revoke_ms >= 0);
});

test('the stats endpoint gives p50 and p95 time to revoke', async () => {
  const res = await admin(server, 'GET', `/connections/${A.id}/deprovisionings/stats`);
  assert.equal(res.status, 200, res.text);
  assert.ok(res.json.count >= 3, res.text);
  assert.equal(typeof res.json.p50_ms, 'number');
  assert.equal(typeof res.json.p95_ms, 'number');
  assert.ok(res.json.p50_ms >= 0 && res.json.p50_ms <= res.json.p95_ms, res.text);
  assert.equal(res.json.window, 1000);
  const fresh = await newConnection(server, 'Receipts none');
  const none = await admin(server, 'GET', `/connections/${fresh.id}/deprovisionings/stats`);
  assert.deepEqual(none.json, { count: 0, p50_ms: null, p95_ms: null, window: 1000 });
  // Paging: newest first, one at a time.
  const page = await admin(server, 'GET', `/connections/${A.id}/deprovisionings?limit=1`);
  assert.equal(page.json.deprovisionings.length, 1);
  assert.equal(typeof page.json.next_after, 'string');
  const next = await admin(server, 'GET', `/connections/${A.id}/deprovisionings?limit=1&after=${page.json.next_after}`);
  assert.equal(next.json.deprovisionings.length, 1);
  assert.ok(next.json.deprovisionings[0].started_at <= page.json.deprovisionings[0].started_at);
  assertAdminError(await admin(server, 'GET', `/connections/${A.id}/deprovisionings?limit=0`), 400, 'invalid_request');
});

test("another connection's admin path cannot read this connection's receipt", async () => {
  const list = await admin(server, 'GET', `/connections/${A.id}/deprovisionings?limit=1`);
  const id = list.json.deprovisionings[0].id;
  assert.equal((await admin(server, 'GET', `/connections/${A.id}/deprovisionings/${id}`)).status, 200);
  assertAdminError(await admin(server, 'GET', `/connections/${B.id}/deprovisionings/${id}`), 404, 'not_found');
  assertAdminError(await admin(server, 'GET', `/connections/${A.id}/deprovisionings/dpr_000000000000000000000000`), 404, 'not_found');
  // Admin-only, read-only.
  assertAdminError(await admin(server, 'GET', `/connections/${A.id}/deprovisionings/${id}`, undefined, 'wrong'), 401, 'unauthorized');
  assertAdminError(await admin(server, 'DELETE', `/connections/${A.id}/deprovisionings/${id}`), 404, 'not_found');
});

/** One raw HTTP request, the path sent exactly as written (no client-side normalisation). */
function raw(method, path, body, headers = {}) {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname, port: url.port, method, path,
      headers: { 'content-type': 'application/json', ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

test("the connection object's internal report routes cannot be reached from outside", async () => {
  const { user, sid } = await userWithSession(C, 'rc-slow');
  assert.equal((await deactivate(C, user)).status, 200);
  // The logout is announced and its first attempt is under way (the client takes 25 s).
  const pending = await receiptOf(C, user.id, 'the announced logout', (r) => Array.isArray(r.logouts) && r.logouts.length === 1);
  assert.equal(pending.status, 'pending');
  // A forged report that would complete the receipt, aimed at the internal path in every way
  // the public routes could be bent towards it.
  const forged = JSON.stringify({
    at_ms: Date.now(),
    attempts: [{ event_id: pending.event_id, client_id: 'rc-slow', sid, sub: user.userName, attempt: 1,
      ok: true, http_status: 200, decision: { action: 'ack' } }],
  });
  const auth = { authorization: `Bearer ${server.adminToken}` };
  const appAuth = { authorization: `Bearer ${server.appToken}` };
  const attempts = [
    ['POST', '/internal/deprovisionings/attempts', auth],
    ['POST', `/admin/v1/connections/${C.id}/internal/deprovisionings/attempts`, auth],
    ['POST', `/v1/connections/${C.id}/internal/deprovisionings/attempts`, appAuth],
    ['POST', `/connections/${C.id}/internal/deprovisionings/attempts`, auth],
    ['POST', `/scim/v2/${C.id}/../../../internal/deprovisionings/attempts`, { authorization: `Bearer ${C.token}` }],
    ['POST', `/scim/v2/${C.id}/%2e%2e/%2e%2e/%2e%2e/internal/deprovisionings/attempts`, { authorization: `Bearer ${C.token}` }],
    ['POST', `/scim/v2/${C.id}/..%2f..%2f..%2finternal%2fdeprovisionings%2fattempts`, { authorization: `Bearer ${C.token}` }],
    ['POST', `/admin/v1/connections/${C.id}/deprovisionings/..%2F..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, auth],
    ['GET', `/admin/v1/connections/${C.id}/deprovisionings/..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, auth],
    ['POST', `/admin/v1/connections/${C.id}/mapping/..%2F..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, auth],
    ['POST', `/admin/v1/connections/${C.id}/tokens/..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, auth],
    ['POST', `/v1/connections/${C.id}/..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, appAuth],
    ['POST', `/setup/${C.id}/..%2F..%2Finternal%2Fdeprovisionings%2Fattempts`, {}],
  ];
  const statuses = [];
  for (const [method, path, headers] of attempts) {
    const res = await raw(method, path, method === 'GET' ? undefined : forged, headers);
    statuses.push(res.status);
    assert.ok([400, 401, 404, 405].includes(res.status), `${method} ${path}: ${res.status} ${res.text}`);
    assert.equal(res.text.includes('"completed"'), false, `${method} ${path} reached the report route: ${res.text}`);
  }
  // The same report through the object's stub is what completes a receipt (edge::receipt):
  // these requests did reach the Worker and were refused, not lost.
  assert.ok(statuses.includes(404), statuses.join(','));
  const after = await admin(server, 'GET', `/connections/${C.id}/deprovisionings/${pending.id}`);
  assert.equal(after.json.status, 'pending', 'no forged report was applied');
  assert.deepEqual(after.json.logouts[0].attempts, []);
});
