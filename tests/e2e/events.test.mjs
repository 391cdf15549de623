// The event log through the worker: SCIM changes and admin changes, in order, with their actor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, admin, newConnection, scim, createUser, patchOp } from './harness.mjs';

let server;
before(async () => { server = await startWorker(); });
after(async () => { await server?.stop(); });

test('SCIM and admin changes appear in the event log with their actor; reads and no-ops do not', async () => {
  const c = await newConnection(server, 'Events');
  const u = await createUser(c, 'ev@events.example');
  await scim(c, 'GET', `/Users/${u.id}`);
  assert.equal((await scim(c, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }))).status, 200);
  assert.equal((await scim(c, 'PATCH', `/Users/${u.id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }))).status, 200);
  assert.equal((await scim(c, 'DELETE', `/Users/${u.id}`)).status, 204);
  const page1 = await admin(server, 'GET', `/connections/${c.id}/events?limit=3`);
  assert.equal(page1.status, 200, page1.text);
  const page2 = await admin(server, 'GET', `/connections/${c.id}/events?after=${page1.json.next_after}`);
  const logged = [...page1.json.events, ...page2.json.events];
  // Deprovisioning receipts complete after the fan-out, so their `user.deprovisioned` (actor
  // system) may land anywhere after the change (tests/e2e/receipts.test.mjs checks them).
  assert.ok(logged.filter((e) => e.actor === 'system').every((e) => e.type === 'user.deprovisioned'));
  const events = logged.filter((e) => e.actor !== 'system');
  // (newConnection lifts the rate limit: that is the connection.updated.)
  assert.deepEqual(events.map((e) => e.type), ['connection.created', 'connection.updated', 'token.created', 'user.created', 'user.deactivated', 'user.sessions_revoked', 'user.deleted', 'user.sessions_revoked']);
  assert.deepEqual(events.map((e) => e.actor), ['admin', 'admin', 'admin', ...Array(5).fill(`token:${c.tokenId}`)]);
  assert.deepEqual(events[5].data, { user_id: u.id, subject: 'ev@events.example', reason: 'deactivated', sessions: [], refresh_tokens: [] });
  assert.equal(events[7].data.reason, 'deleted');
  assert.equal(events[1].data.settings.rate_limit, 10000);
  assert.equal(events[4].data.profile.blocked, true);
  assert.equal(page2.json.next_after, null);
  assert.equal(page1.json.retention_days, 30);
});
