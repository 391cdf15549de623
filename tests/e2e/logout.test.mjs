// Deactivation that bites: deactivating or deleting a user, in any IdP dialect, revokes their
// sessions and refresh tokens at once and sends OIDC Back-Channel Logout tokens to the app's
// clients; the tokens verify with the independent `jose` library against the served JWKS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { startWorker, newConnection, admin, app, scim } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ISSUER = 'https://scim-edge.test';
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

function newKey(kid) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

// The first key signs; the second is the previous one, still published during a rotation.
const current = newKey(`k-current-${randomBytes(4).toString('hex')}`);
const previous = newKey(`k-previous-${randomBytes(4).toString('hex')}`);

let server;
let conn;
let rpSid;
let rpSub;
let jwks;

before(async () => {
  server = await startWorker({
    vars: {
      LOGOUT_SIGNING_KEYS: JSON.stringify([current, previous]),
      LOGOUT_ISSUER: ISSUER,
      DELIVERY_RETRY_SCHEDULE: '1,1,2',
    },
  });
  conn = await newConnection(server, 'Logout');
  rpSid = await startReceiver();
  rpSub = await startReceiver();
  for (const [client_id, r, required] of [['rp-sid', rpSid, true], ['rp-sub', rpSub, false]]) {
    const res = await admin(server, 'POST', '/clients', {
      client_id, backchannel_logout_uri: r.url('/backchannel-logout'), backchannel_logout_session_required: required,
    });
    assert.equal(res.status, 201, res.text);
  }
  jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
});

after(async () => {
  await rpSid?.stop();
  await rpSub?.stop();
  await server?.stop();
});

test('the JWKS publishes the current and the previous key, public parts only', async () => {
  const res = await fetch(`${server.url}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('cache-control') ?? '', /max-age/);
  const body = await res.json();
  assert.deepEqual(body.keys.map((k) => k.kid), [current.kid, previous.kid]);
  for (const [k, source] of [[body.keys[0], current], [body.keys[1], previous]]) {
    assert.equal(k.kty, 'EC');
    assert.equal(k.crv, 'P-256');
    assert.equal(k.alg, 'ES256');
    assert.equal(k.use, 'sig');
    assert.equal(k.x, source.x);
    assert.equal(k.y, source.y);
    assert.equal(k.d, undefined, 'never the private key');
  }
});

async function newUser(userName) {
  const res = await scim(conn, 'POST', '/Users', { schemas: [USER], userName, active: true });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function registerSession(user, sid, clientId = 'rp-sid') {
  const s = await app(server, 'POST', `/connections/${conn.id}/sessions`, { sid, user_id: user.id, client_id: clientId });
  assert.equal(s.status, 201, s.text);
  const refresh = `rt-${randomBytes(16).toString('hex')}`;
  const t = await app(server, 'POST', `/connections/${conn.id}/refresh-tokens`, {
    refresh_token: refresh, user_id: user.id, client_id: clientId, sid,
  });
  assert.equal(t.status, 201, t.text);
  assert.equal(JSON.stringify(t.json).includes(refresh), false, 'the refresh token is never echoed');
  return refresh;
}

async function introspect(body) {
  const res = await app(server, 'POST', `/connections/${conn.id}/introspect`, body);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

/** The issuer of a connection's logout tokens: one per connection (tenant-safe iss + sub). */
const issuerOf = (connectionId) => `${ISSUER}/connections/${connectionId}`;

/** The logout tokens a receiver got from `connectionId`'s issuer, verified with jose against
 * the served JWKS; tokens of other issuers are left out. */
async function logoutTokens(r, audience, connectionId = conn.id) {
  const out = [];
  for (const e of r.received) {
    assert.equal(e.headers['content-type'], 'application/x-www-form-urlencoded');
    const token = new URLSearchParams(e.body).get('logout_token');
    assert.ok(token, 'a logout_token form field');
    if (decodeJwt(token).iss !== issuerOf(connectionId)) continue;
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: issuerOf(connectionId), audience, typ: 'logout+jwt', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.kid, current.kid, 'signed with the current key');
    assert.equal(decodeProtectedHeader(token).alg, 'ES256');
    assert.deepEqual(payload.events, { [LOGOUT_EVENT]: {} });
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.jti.length >= 16);
    assert.equal(typeof payload.iat, 'number');
    assert.ok(payload.exp > payload.iat);
    assert.equal(payload.nonce, undefined, 'logout tokens carry no nonce');
    assert.ok(payload.sub || payload.sid);
    out.push(payload);
  }
  return out;
}

const dialects = [
  ['Okta pathless PATCH', (u) => scim(conn, 'PATCH', `/Users/${u.id}`,
    { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] })],
  ['Entra PATCH with "False"', (u) => scim(conn, 'PATCH', `/Users/${u.id}`,
    { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] })],
  ['PUT active false', (u) => scim(conn, 'PUT', `/Users/${u.id}`, { schemas: [USER], userName: u.userName, active: false })],
  ['DELETE', (u) => scim(conn, 'DELETE', `/Users/${u.id}`)],
];

for (const [name, deactivate] of dialects) {
  test(`${name} revokes sessions and refresh tokens and sends back-channel logout`, async () => {
    const user = await newUser(`${name.replace(/\W+/g, '-').toLowerCase()}@example.com`);
    const sid = `sid-${randomBytes(8).toString('hex')}`;
    const refresh = await registerSession(user, sid);
    assert.equal((await introspect({ sid })).active, true);
    assert.equal((await introspect({ refresh_token: refresh })).active, true);

    const res = await deactivate(user);
    assert.ok([200, 204].includes(res.status), `${res.status} ${res.text}`);
    // Inactive from the instant the change is answered.
    assert.deepEqual(await introspect({ sid }), { active: false });
    assert.deepEqual(await introspect({ refresh_token: refresh }), { active: false });

    const withSid = await until(async () => {
      const tokens = await logoutTokens(rpSid, 'rp-sid');
      return tokens.find((p) => p.sid === sid);
    }, `a logout token for ${sid}`);
    assert.equal(withSid.sub, user.userName, 'sub is the user identifier the app knows');
    // The client that does not require sid gets a sub-only token.
    const subOnly = await until(async () => {
      const tokens = await logoutTokens(rpSub, 'rp-sub');
      return tokens.find((p) => p.sub === user.userName);
    }, 'a sub-only logout token');
    assert.equal(subOnly.sid, undefined);

    const log = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200`);
    const revoked = log.json.events.filter((e) => e.type === 'user.sessions_revoked' && e.data.user_id === user.id);
    assert.equal(revoked.length, 1);
    assert.deepEqual(revoked[0].data.sessions, [{ sid, client_id: 'rp-sid' }]);
    assert.equal(revoked[0].data.refresh_tokens.length, 1);
  });
}

test('reactivation does not revive sessions or refresh tokens', async () => {
  const user = await newUser('comeback@example.com');
  const sid = `sid-${randomBytes(8).toString('hex')}`;
  const refresh = await registerSession(user, sid);
  await dialects[0][1](user);
  const back = await scim(conn, 'PATCH', `/Users/${user.id}`,
    { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: true } }] });
  assert.equal(back.status, 200, back.text);
  assert.equal(back.json.active, true);
  assert.deepEqual(await introspect({ sid }), { active: false });
  assert.deepEqual(await introspect({ refresh_token: refresh }), { active: false });
  // A new session after reactivation is live.
  const fresh = `sid-${randomBytes(8).toString('hex')}`;
  await registerSession(user, fresh);
  assert.equal((await introspect({ sid: fresh })).active, true);
});

test('each connection is its own issuer, with discovery pointing at the one JWKS', async () => {
  const res = await fetch(`${server.url}/connections/${conn.id}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.issuer, issuerOf(conn.id));
  assert.equal(doc.jwks_uri, `${ISSUER}/.well-known/jwks.json`);
  assert.equal(doc.backchannel_logout_supported, true);
  assert.equal(doc.backchannel_logout_session_supported, true);
  const bad = await fetch(`${server.url}/connections/not-a-connection/.well-known/openid-configuration`);
  assert.equal(bad.status, 404);
});

// Pipeline issue, "tenant-safe logout tokens": two customers' IdPs both provision
// ceo@example.com; deactivating W2's must produce no token that matches W1's user by iss + sub.
test("a deactivation in one connection cannot produce a token matching another connection's user", async () => {
  const w2 = await newConnection(server, 'Logout W2');
  const name = `ceo.${randomBytes(4).toString('hex')}@example.com`;
  const w1User = await newUser(name);
  const w2User = await scim(w2, 'POST', '/Users', { schemas: [USER], userName: name, active: true });
  assert.equal(w2User.status, 201, w2User.text);
  const off = await scim(w2, 'PATCH', `/Users/${w2User.json.id}`,
    { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });
  assert.equal(off.status, 200, off.text);
  // rp-sub takes every connection's logouts and needs no sid: it gets a sub-only token for W2.
  const w2Token = await until(async () => {
    const tokens = await logoutTokens(rpSub, 'rp-sub', w2.id);
    return tokens.find((p) => p.sub === name);
  }, "W2's sub-only logout token");
  assert.equal(w2Token.iss, issuerOf(w2.id));
  assert.notEqual(w2Token.iss, issuerOf(conn.id));
  // No token names W1's user (its issuer and its sub) though W1 changed nothing.
  const w1Tokens = await logoutTokens(rpSub, 'rp-sub', conn.id);
  assert.equal(w1Tokens.some((p) => p.sub === w1User.userName), false);
  const fromW2 = rpSub.received
    .map((e) => decodeJwt(new URLSearchParams(e.body).get('logout_token')))
    .filter((p) => p.sub === name);
  assert.ok(fromW2.length >= 1);
  assert.ok(fromW2.every((p) => p.iss === issuerOf(w2.id)), 'every token for that name came from W2');
});
