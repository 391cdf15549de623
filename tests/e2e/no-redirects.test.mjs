// Deliveries never follow redirects (pipeline issue: "a webhook that answers 307 sends the signed
// payload to an address the URL validator would refuse"): a 3xx from a webhook endpoint or a
// client's back-channel logout URI is a failed attempt recorded with its status, and the address
// it points to receives nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startWorker, newConnection, admin, app, scim } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
/** One P-256 private JWK, as LOGOUT_SIGNING_KEYS holds them. */
const signingKeys = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key' }]);
};
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let server;
const receivers = [];

before(async () => {
  // Retries 1 s apart: the second attempt proves the first was judged a failure, not lost.
  server = await startWorker({ vars: { DELIVERY_RETRY_SCHEDULE: '1,1,1,1,1', LOGOUT_SIGNING_KEYS: signingKeys() } });
});

after(async () => {
  for (const r of receivers) await r.stop();
  await server?.stop();
});

async function receiver(options) {
  const r = await startReceiver(options);
  receivers.push(r);
  return r;
}

test('a webhook endpoint that answers 307 gets a failed attempt; the redirect target receives nothing', async () => {
  const elsewhere = await receiver();
  const redirecting = await receiver({ mode: 'redirect', redirectTo: elsewhere.url('/stolen') });
  const conn = await newConnection(server, 'Redirected webhook');
  const created = await admin(server, 'POST', '/webhooks', {
    url: redirecting.url('/hook'), event_types: ['user.created'], connection_ids: [conn.id],
  });
  assert.equal(created.status, 201, created.text);
  const res = await scim(conn, 'POST', '/Users', { schemas: [USER], userName: 'redirect.me@example.com' });
  assert.equal(res.status, 201, res.text);
  // Two attempts reached the redirecting endpoint: the first was judged and retried.
  await until(() => redirecting.received.filter((e) => e.method === 'POST').length >= 2, 'a retried delivery');
  const health = await until(async () => {
    const h = await admin(server, 'GET', `/webhooks/${created.json.id}`);
    return h.json?.last_error ? h.json : null;
  }, 'the failure recorded on the endpoint');
  assert.match(health.last_error, /^HTTP 307: redirects are not followed/);
  assert.equal(health.last_success_at ?? null, null);
  assert.deepEqual(elsewhere.received, [], 'the redirect target received nothing');
});

test('a back-channel logout URI that answers 307 gets a failed attempt; the redirect target receives nothing', async () => {
  const elsewhere = await receiver();
  const redirecting = await receiver({ mode: 'redirect', redirectTo: elsewhere.url('/stolen') });
  const conn = await newConnection(server, 'Redirected logout');
  const client = await admin(server, 'POST', '/clients', {
    client_id: 'rp-redirect', backchannel_logout_uri: redirecting.url('/bcl'),
    backchannel_logout_session_required: true, connection_ids: [conn.id],
  });
  assert.equal(client.status, 201, client.text);
  const user = await scim(conn, 'POST', '/Users', { schemas: [USER], userName: 'bcl.redirect@example.com' });
  assert.equal(user.status, 201, user.text);
  const session = await app(server, 'POST', `/connections/${conn.id}/sessions`, {
    sid: 'sid-redirect-1', user_id: user.json.id, client_id: 'rp-redirect',
  });
  assert.equal(session.status, 201, session.text);
  const off = await scim(conn, 'PATCH', `/Users/${user.json.id}`, {
    schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  assert.equal(off.status, 200, off.text);
  await until(() => redirecting.received.filter((e) => e.method === 'POST').length >= 2, 'a retried logout');
  const health = await until(async () => {
    const h = await admin(server, 'GET', '/clients/rp-redirect');
    return h.json?.last_error ? h.json : null;
  }, 'the failure recorded on the client');
  assert.match(health.last_error, /^HTTP 307: redirects are not followed/);
  assert.match(redirecting.received[0].body, /^logout_token=/);
  assert.deepEqual(elsewhere.received, [], 'the redirect target received nothing');
});
