// Per-tenant fairness: one connection's large sync (here to a slow endpoint) does not hold up
// another connection's webhook deliveries. The heavy connection's deliveries past its fair share
// wait in the BACKFILL queue; the light connection's first attempt keeps the EVENTS queue, so it
// arrives while most of the heavy backlog is still waiting — and nothing of the backlog is lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, newConnection, admin, bulkCreateUsers, createUser } from './harness.mjs';
import { startReceiver, until } from './receiver.mjs';

const HEAVY = 2000;

let server;
const receivers = [];

before(async () => {
  server = await startWorker();
});

after(async () => {
  for (const r of receivers) await r.stop();
  await server?.stop();
});

function createdIds(receiver) {
  return receiver.received
    .map((e) => JSON.parse(e.body))
    .filter((e) => e.type === 'user.created')
    .map((e) => e.data.id);
}

test("one connection's large sync does not delay another connection's deliveries", async (t) => {
  // The heavy tenant's endpoint takes 50 ms per delivery: its backlog drains slowly.
  const slow = await startReceiver({ mode: 'slow', slowMs: 50 });
  const fast = await startReceiver();
  receivers.push(slow, fast);
  const heavy = await newConnection(server, 'Heavy sync');
  const light = await newConnection(server, 'Light');
  for (const [receiver, conn] of [[slow, heavy], [fast, light]]) {
    const res = await admin(server, 'POST', '/webhooks', {
      url: receiver.url('/hooks'), event_types: ['user.created'], connection_ids: [conn.id],
    });
    assert.equal(res.status, 201, res.text);
  }

  const heavyIds = await bulkCreateUsers(heavy, HEAVY, 'sync', 'heavy.example');
  const user = await createUser(light, 'light@light.example');
  await until(() => createdIds(fast).includes(user.id), "the light connection's delivery", 60_000);
  const heavyDoneThen = new Set(createdIds(slow)).size;
  t.diagnostic(`the light delivery arrived after ${heavyDoneThen} of ${HEAVY} heavy deliveries`);
  // Behind a first-in-first-out queue it would come after (nearly) all of them.
  assert.ok(
    heavyDoneThen < HEAVY * 0.8,
    `the light delivery arrived after ${heavyDoneThen} of ${HEAVY} heavy deliveries`,
  );

  await until(() => new Set(createdIds(slow)).size >= HEAVY, 'every heavy delivery', 240_000);
  assert.deepEqual(new Set(createdIds(slow)), new Set(heavyIds), 'the backlog is delivered whole');
});
