// Events reach webhook endpoints: signed per Standard Webhooks (verified with the independent
// `standardwebhooks` package), never lost when the queue send fails, the receiver is down or slow,
// retried then dead-lettered, replayable, and failing endpoints get disabled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { startWorker, newConnection, admin, scim, sleep } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';

let server;
let receivers = [];

before(async () => {
  server = await startWorker({
    vars: {
      // Fast retries: 1 s, 2 s, 2 s, 3 s, 5 s between attempts, then a dead letter (13 s).
      DELIVERY_RETRY_SCHEDULE: '1,2,2,3,5',
      WEBHOOK_DISABLE_AFTER: '2',
      OUTBOX_RETRY_SECONDS: '1',
      FAULT_INJECTION: 'on',
    },
  });
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

async function webhook(body) {
  const res = await admin(server, 'POST', '/webhooks', body);
  assert.equal(res.status, 201, res.text);
  assert.match(res.json.secret, /^whsec_/);
  return res.json;
}

/** Deliveries parsed: [{ id, type, connection_id, data, headers, raw }]. */
function deliveries(r, connectionId) {
  return r.received
    .filter((e) => e.method === 'POST')
    .map((e) => ({ ...JSON.parse(e.body), headers: e.headers, raw: e.body }))
    .filter((e) => !connectionId || e.connection_id === connectionId);
}

function createUser(conn, userName) {
  return scim(conn, 'POST', '/Users', { schemas: [USER], userName });
}

test('deliveries carry Standard Webhooks signatures that verify with an independent implementation', async () => {
  const r = await receiver();
  const conn = await newConnection(server, 'Signed');
  const hook = await webhook({ url: r.url('/hooks'), event_types: ['user.*'], connection_ids: [conn.id] });
  const created = await createUser(conn, 'signed@example.com');
  assert.equal(created.status, 201);
  const requestId = created.headers.get('x-request-id');
  assert.match(requestId, /^req_[0-9a-f]{24}$/);

  const [delivery] = await until(() => {
    const d = deliveries(r, conn.id).filter((e) => e.type === 'user.created');
    return d.length ? d : null;
  }, 'the user.created delivery');
  const verified = new Webhook(hook.secret).verify(delivery.raw, {
    'webhook-id': delivery.headers['webhook-id'],
    'webhook-timestamp': delivery.headers['webhook-timestamp'],
    'webhook-signature': delivery.headers['webhook-signature'],
  });
  assert.equal(verified.id, delivery.headers['webhook-id']);
  assert.equal(verified.type, 'user.created');
  assert.equal(verified.connection_id, conn.id);
  assert.equal(verified.request_id, requestId);
  assert.equal(verified.data.id, created.json.id);
  assert.equal(verified.data.resource.userName, 'signed@example.com');
  assert.match(verified.actor, /^token:/);
  assert.equal(delivery.headers['content-type'], 'application/json');

  // A tampered body, a wrong secret or a stale timestamp does not verify.
  const headers = {
    'webhook-id': delivery.headers['webhook-id'],
    'webhook-timestamp': delivery.headers['webhook-timestamp'],
    'webhook-signature': delivery.headers['webhook-signature'],
  };
  assert.throws(() => new Webhook(hook.secret).verify(delivery.raw.replace('signed@', 'evil@'), headers));
  const other = await webhook({ url: r.url('/other'), event_types: ['group.*'], connection_ids: [conn.id] });
  assert.throws(() => new Webhook(other.secret).verify(delivery.raw, headers));
  assert.throws(() => new Webhook(hook.secret).verify(delivery.raw, { ...headers, 'webhook-timestamp': '1600000000' }));

  // The same envelope is in the connection's event log.
  const log = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200`);
  const logged = log.json.events.find((e) => e.id === verified.id);
  assert.deepEqual(logged, verified);
});

test('endpoints receive only their connections and event types', async () => {
  const r = await receiver();
  const all = await receiver();
  const a = await newConnection(server, 'Filtered A');
  const b = await newConnection(server, 'Filtered B');
  await webhook({ url: r.url('/a-groups'), event_types: ['group.created'], connection_ids: [a.id] });
  await webhook({ url: all.url('/all'), event_types: ['*'] });
  await createUser(a, 'filtered@example.com');
  await scim(a, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'A team' });
  await scim(b, 'POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'B team' });
  // The catch-all endpoint saw everything, so the filtered one had its chance.
  await until(() => deliveries(all, b.id).some((e) => e.type === 'group.created')
    && deliveries(all, a.id).some((e) => e.type === 'group.created'), 'the catch-all deliveries');
  await sleep(500);
  const got = deliveries(r);
  assert.equal(got.length, 1, JSON.stringify(got.map((e) => [e.type, e.connection_id])));
  assert.equal(got[0].type, 'group.created');
  assert.equal(got[0].connection_id, a.id);
  assert.ok(deliveries(all, a.id).some((e) => e.type === 'user.created'));
});

test('1,000 changes produce exactly 1,000 distinct event ids at the receiver', async () => {
  const r = await receiver();
  const conn = await newConnection(server, 'Thousand');
  await webhook({ url: r.url('/thousand'), event_types: ['user.created'], connection_ids: [conn.id] });
  for (let batch = 0; batch < 10; batch++) {
    const Operations = Array.from({ length: 100 }, (_, i) => ({
      method: 'POST', path: '/Users', bulkId: `u${i}`,
      data: { schemas: [USER], userName: `bulk-${batch}-${i}@example.com` },
    }));
    const res = await scim(conn, 'POST', '/Bulk', { schemas: [BULK], Operations });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.Operations.every((o) => o.status === '201'));
  }
  const ids = await until(() => {
    const seen = new Set(deliveries(r, conn.id).map((e) => e.id));
    return seen.size >= 1000 ? seen : null;
  }, '1,000 distinct deliveries', 120_000);
  await sleep(1000);
  const final = new Set(deliveries(r, conn.id).map((e) => e.id));
  assert.equal(final.size, 1000);
  assert.equal(ids.size, 1000);
  // Exactly the ids of the log's user.created events.
  const logged = new Set();
  let after;
  do {
    const page = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200${after ? `&after=${after}` : ''}`);
    for (const e of page.json.events) if (e.type === 'user.created') logged.add(e.id);
    after = page.json.next_after;
  } while (after);
  assert.deepEqual([...final].sort(), [...logged].sort());
});

test('a receiver that is down, then slow, then back gets every event id', async () => {
  const r = await receiver({ mode: 'down', slowMs: 1500 });
  const conn = await newConnection(server, 'Flaky');
  await webhook({ url: r.url('/flaky'), event_types: ['user.*'], connection_ids: [conn.id] });
  const created = [];
  for (let i = 0; i < 10; i++) {
    const res = await createUser(conn, `flaky-${i}@example.com`);
    assert.equal(res.status, 201);
    created.push(res.json.id);
  }
  await sleep(1500);
  await r.setMode('slow');
  for (let i = 10; i < 15; i++) created.push((await createUser(conn, `flaky-${i}@example.com`)).json.id);
  await sleep(2000);
  await r.setMode('ok');
  const want = new Set();
  const log = await admin(server, 'GET', `/connections/${conn.id}/events?limit=200`);
  for (const e of log.json.events) if (e.type.startsWith('user.')) want.add(e.id);
  assert.equal(want.size, 15);
  await until(() => [...want].every((id) => deliveries(r, conn.id).some((e) => e.id === id)),
    'every event id after the outage', 60_000);
  const users = new Set(deliveries(r, conn.id).map((e) => e.data.id));
  for (const id of created) assert.ok(users.has(id), `no delivery for user ${id}`);
  assert.ok(r.received.some((e) => e.mode === 'slow'), 'some deliveries met the slow receiver');
});

test('a queue send that fails is sent again by the alarm', async () => {
  const r = await receiver();
  const conn = await newConnection(server, 'Queue down');
  await webhook({ url: r.url('/alarm'), event_types: ['user.created'], connection_ids: [conn.id] });
  const fault = await admin(server, 'POST', `/connections/${conn.id}/faults`, { queue_send_failures: 1 });
  assert.equal(fault.status, 200, fault.text);
  const res = await createUser(conn, 'alarm@example.com');
  assert.equal(res.status, 201);
  // No other write reaches this connection: only its alarm can send the event now.
  const delivered = await until(() => deliveries(r, conn.id).find((e) => e.data.id === res.json.id),
    'the event re-sent by the alarm', 30_000);
  assert.equal(delivered.type, 'user.created');
  const left = await admin(server, 'POST', `/connections/${conn.id}/faults`, { queue_send_failures: 0 });
  assert.equal(left.status, 200);
});

test('admin-plane events reach the endpoints that take every connection, signed like the rest', async () => {
  const ops = await receiver();
  const limited = await receiver();
  const doomed = await newConnection(server, 'Doomed');
  const opsHook = await webhook({ url: ops.url('/ops'), event_types: ['connection.deleted', 'webhook.*'] });
  await webhook({ url: limited.url('/limited'), event_types: ['*'], connection_ids: [doomed.id] });
  const deleted = await admin(server, 'DELETE', `/connections/${doomed.id}`);
  assert.equal(deleted.status, 204, deleted.text);
  const gone = await until(() => deliveries(ops).find((e) => e.type === 'connection.deleted' && e.data.connection_id === doomed.id),
    'connection.deleted at the ops endpoint');
  assert.equal(gone.data.name, 'Doomed');
  assert.equal(gone.actor, 'admin');
  assert.equal(gone.request_id, deleted.headers.get('x-request-id'));
  assert.equal('connection_id' in gone, false, 'admin-plane events belong to no connection');
  new Webhook(opsHook.secret).verify(gone.raw, gone.headers);
  // The other endpoint's registration is an admin-plane event too.
  await until(() => deliveries(ops).some((e) => e.type === 'webhook.created'), 'webhook.created at the ops endpoint');
  // An endpoint limited to some connections never gets admin-plane events.
  await sleep(500);
  // (It may still get the connection's own events, sent before the deletion.)
  assert.deepEqual(deliveries(limited).filter((e) => e.connection_id !== doomed.id).map((e) => e.type), []);
  // Both are in the registry's log.
  const log = await admin(server, 'GET', '/events?limit=200');
  assert.ok(log.json.events.some((e) => e.type === 'connection.deleted' && e.data.connection_id === doomed.id));
});

test('failed deliveries are retried, then dead-lettered, replayable, and the endpoint is disabled', async () => {
  const ops = await receiver();
  await webhook({ url: ops.url('/ops'), event_types: ['webhook.disabled'] });
  const r = await receiver({ mode: 'fail' });
  const conn = await newConnection(server, 'Dead letters');
  const hook = await webhook({ url: r.url('/dead'), event_types: ['user.created'], connection_ids: [conn.id] });
  const first = await createUser(conn, 'dead-1@example.com');
  const letters = await until(async () => {
    const res = await admin(server, 'GET', `/webhooks/${hook.id}/dead-letters`);
    assert.equal(res.status, 200, res.text);
    return res.json.dead_letters.length >= 1 ? res.json.dead_letters : null;
  }, 'a dead letter', 60_000);
  const attempts = r.received.filter((e) => JSON.parse(e.body).data.id === first.json.id);
  assert.equal(attempts.length, 6, 'one attempt and five retries');
  assert.equal(new Set(attempts.map((e) => e.headers['webhook-id'])).size, 1, 'one webhook-id across retries');
  assert.equal(letters[0].event_type, 'user.created');
  assert.equal(letters[0].connection_id, conn.id);
  assert.equal(letters[0].attempts, 6);
  assert.equal(letters[0].last_status, 500);

  let state = await admin(server, 'GET', `/webhooks/${hook.id}`);
  assert.equal(state.json.enabled, true);
  assert.ok(state.json.consecutive_failures >= 6);

  // A second dead letter in a row disables the endpoint (WEBHOOK_DISABLE_AFTER=2).
  await createUser(conn, 'dead-2@example.com');
  state = await until(async () => {
    const s = await admin(server, 'GET', `/webhooks/${hook.id}`);
    return s.json.enabled === false ? s : null;
  }, 'the endpoint to be disabled', 60_000);
  assert.ok(state.json.disabled_at);
  const events = await admin(server, 'GET', '/events?limit=200');
  assert.ok(events.json.events.some((e) => e.type === 'webhook.disabled' && e.data.webhook_id === hook.id),
    JSON.stringify(events.json.events.map((e) => e.type)));
  // The operators hear about it: the event reaches the endpoint subscribed to it.
  const told = await until(() => deliveries(ops).find((e) => e.type === 'webhook.disabled' && e.data.webhook_id === hook.id),
    'webhook.disabled at the ops endpoint');
  assert.equal(told.actor, 'system');

  // Disabled: new events are not attempted.
  const before = r.received.length;
  await createUser(conn, 'dead-3@example.com');
  await sleep(2000);
  assert.equal(r.received.length, before);

  // Fixed and re-enabled, the dead letters replay to the receiver, once.
  await r.setMode('ok');
  const enabled = await admin(server, 'PATCH', `/webhooks/${hook.id}`, { enabled: true });
  assert.equal(enabled.status, 200, enabled.text);
  const replay = await admin(server, 'POST', `/webhooks/${hook.id}/dead-letters/replay`, {});
  assert.equal(replay.status, 202, replay.text);
  assert.equal(replay.json.replayed, 2);
  assert.equal(replay.json.deliveries, undefined, 'the admin sees a count, not the payloads');
  await until(() => r.received.some((e) => e.mode === 'ok' && JSON.parse(e.body).data.id === first.json.id),
    'the replayed delivery');
  const again = await admin(server, 'POST', `/webhooks/${hook.id}/dead-letters/replay`, {});
  assert.equal(again.json.replayed, 0);
});

test('webhook registration rejects bad input with clear errors', async () => {
  for (const [body, pattern] of [
    [{ url: 'ftp://example.com/x' }, /http/i],
    [{ url: 'http://example.com/hook' }, /https/i],
    [{ url: 'https://user:pw@example.com/hook' }, /credential|userinfo|user/i],
    [{ url: 'https://example.com/hook', event_types: ['user.exploded'] }, /user\.exploded/],
    [{ url: 'https://example.com/hook', connection_ids: ['nope'] }, /nope/],
    [{}, /url/i],
  ]) {
    const res = await admin(server, 'POST', '/webhooks', body);
    assert.equal(res.status, 400, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
    assert.match(res.json.detail ?? res.text, pattern);
  }
  const list = await admin(server, 'GET', '/webhooks');
  assert.equal(list.status, 200);
  for (const w of list.json.webhooks) assert.equal(w.secret, undefined, 'secrets are never listed');
  const unauthorized = await admin(server, 'GET', '/webhooks', undefined, 'wrong');
  assert.equal(unauthorized.status, 401);
});
