// Deactivation bites whatever else is happening (pipeline issue, "revocation first"): logout
// deliveries and `user.sessions_revoked` travel on a queue of their own, so a backlog of other
// tenants' events cannot hold them up. No timing is asserted (speed is `make bench`'s job): the
// test checks the order of arrival against a backlog that, on one shared queue, the logout would
// have had to wait behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startWorker, newConnection, admin, app, scim, bulkCreateUsers } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
/** One P-256 private JWK, as LOGOUT_SIGNING_KEYS holds them. */
const signingKeys = () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid: 'test-key' }]);
};
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const FLOOD = 400;

let server;
let slowHook;
let rp;

before(async () => {
  server = await startWorker({ vars: { LOGOUT_SIGNING_KEYS: signingKeys() } });
  // Every event of every connection goes to an endpoint that takes 2 s to answer: the bulk
  // lane's backlog drains at a few deliveries a second.
  slowHook = await startReceiver({ mode: 'slow', slowMs: 2000 });
  rp = await startReceiver();
});

after(async () => {
  await slowHook?.stop();
  await rp?.stop();
  await server?.stop();
});

test("a flood of another tenant's events does not hold up a back-channel logout", async () => {
  const hook = await admin(server, 'POST', '/webhooks', { url: slowHook.url('/all') });
  assert.equal(hook.status, 201, hook.text);
  const tenant = await newConnection(server, 'Tenant with a session');
  const flooding = await newConnection(server, 'Initial sync');
  const client = await admin(server, 'POST', '/clients', {
    client_id: 'rp-lane', backchannel_logout_uri: rp.url('/bcl'),
    backchannel_logout_session_required: true, connection_ids: [tenant.id],
  });
  assert.equal(client.status, 201, client.text);
  const user = await scim(tenant, 'POST', '/Users', { schemas: [USER], userName: 'lane.user@example.com' });
  assert.equal(user.status, 201, user.text);
  const session = await app(server, 'POST', `/connections/${tenant.id}/sessions`, {
    sid: 'sid-lane-1', user_id: user.json.id, client_id: 'rp-lane',
  });
  assert.equal(session.status, 201, session.text);

  // Another tenant's initial sync: FLOOD user.created events, each a webhook delivery.
  await bulkCreateUsers(flooding, FLOOD, 'flood', 'sync.example');
  const off = await scim(tenant, 'PATCH', `/Users/${user.json.id}`, {
    schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }],
  });
  assert.equal(off.status, 200, off.text);

  await until(() => rp.received.some((e) => e.body.startsWith('logout_token=')), 'the back-channel logout', 60_000);
  const delivered = slowHook.received.filter((e) => {
    try { return JSON.parse(e.body).connection_id === flooding.id; } catch { return false; }
  }).length;
  assert.ok(delivered < FLOOD / 2,
    `the logout arrived after ${delivered} of ${FLOOD} earlier events were delivered: it waited behind the backlog`);
});
