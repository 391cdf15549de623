// Benchmark of the event pipeline, after the SCIM response: how fast events reach a webhook
// receiver, and how soon a deactivation's back-channel logout reaches the app's client, idle and
// while other connections flood the bulk lane. Everything runs on this machine: the built worker
// in workerd (through `wrangler dev`, as the end-to-end tests start it, with its queues and their
// consumer in the same process) and real HTTP receivers on 127.0.0.1.
//
//   make bench          (runs benches/bench.mjs, then this)
//   node benches/pipeline.mjs
//
// Environment:
//   BENCH_PIPELINE_CONNECTIONS  connections writing at once             (default 10)
//   BENCH_PIPELINE_USERS        users created per connection, by /Bulk  (default 1000)
//   BENCH_LOGOUTS               deactivations timed, idle and flooded   (default 5)
//   BENCH_FLOOD                 events of the flood on other connections (default 10000)
//   BENCH_PIPELINE_DEADLINE_S   ceiling on each wait, in seconds        (default 600)
//   BENCH_PIPELINE_OUT          Markdown report path (default docs/benchmarks-pipeline.md; "-": none)
//
// The defaults are the pipeline issue's sizes (about a minute on 2 cores). Timing is measured
// here and reported, never asserted.

import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startWorker, newConnection, admin, app, scim, bulkCreateUsers, sleep } from '../tests/e2e/harness.mjs';
import { startReceiver } from '../tests/e2e/receiver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function intEnv(name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be an integer >= 1, got ${raw}`);
  return n;
}

const CONNECTIONS = intEnv('BENCH_PIPELINE_CONNECTIONS', 10);
const USERS = intEnv('BENCH_PIPELINE_USERS', 1000);
const LOGOUTS = intEnv('BENCH_LOGOUTS', 5);
const FLOOD = intEnv('BENCH_FLOOD', 10000);
const DEADLINE_MS = intEnv('BENCH_PIPELINE_DEADLINE_S', 600) * 1000;
const OUT = process.env.BENCH_PIPELINE_OUT ?? join(ROOT, 'docs', 'benchmarks-pipeline.md');
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Polls `predicate` every 20 ms (running `refresh` first when given) until it holds; throws
 * after the deadline. */
async function waitFor(predicate, what, refresh) {
  const end = performance.now() + DEADLINE_MS;
  for (;;) {
    if (refresh) await refresh();
    if (predicate()) return;
    if (performance.now() > end) throw new Error(`pipeline bench: timed out waiting for ${what}`);
    await sleep(20);
  }
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const ms = (v) => v.toFixed(0);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKeys = JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid: 'bench' }]);
const server = await startWorker({ vars: { LOGOUT_SIGNING_KEYS: signingKeys } });
const hooks = await startReceiver();
const rp = await startReceiver();
const started = new Date();
const rows = [];

try {
  // 1. Throughput: CONNECTIONS × USERS user.created events, written through /Bulk at once.
  const writers = [];
  for (let i = 0; i < CONNECTIONS; i += 1) writers.push(await newConnection(server, `Writer ${i}`));
  const hook = await admin(server, 'POST', '/webhooks', {
    url: hooks.url('/events'), event_types: ['user.created'], connection_ids: writers.map((c) => c.id),
  });
  if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${hook.text}`);
  const total = CONNECTIONS * USERS;
  const t0 = performance.now();
  await Promise.all(writers.map((c, i) => bulkCreateUsers(c, USERS, `w${i}-`, 'pipeline.example')));
  const lastWrite = performance.now();
  await waitFor(() => hooks.received.length >= total, `${total} webhook deliveries`);
  const lastDelivery = performance.now();
  const ids = new Set(hooks.received.map((e) => e.headers['webhook-id']));
  rows.push({
    scenario: `${total.toLocaleString('en')} user.created (${CONNECTIONS} connections × ${USERS}) to one webhook`,
    figures: `${(total / ((lastDelivery - t0) / 1000)).toFixed(0)} events/s delivered; writes took `
      + `${ms(lastWrite - t0)} ms; last delivery ${ms(lastDelivery - lastWrite)} ms after the last write; `
      + `${ids.size.toLocaleString('en')} distinct event ids`,
  });

  // 2. Time to back-channel logout: from the deactivation's response to the client's receipt.
  const tenant = await newConnection(server, 'Tenant with sessions');
  const client = await admin(server, 'POST', '/clients', {
    client_id: 'bench-rp', backchannel_logout_uri: rp.url('/bcl'),
    backchannel_logout_session_required: true, connection_ids: [tenant.id],
  });
  if (client.status !== 201) throw new Error(`client: ${client.status} ${client.text}`);
  let n = 0;
  async function timeLogout() {
    n += 1;
    const user = await scim(tenant, 'POST', '/Users', { schemas: [USER], userName: `logout${n}@bench.example` });
    const sid = `bench-sid-${n}`;
    const s = await app(server, 'POST', `/connections/${tenant.id}/sessions`, { sid, user_id: user.json.id, client_id: 'bench-rp' });
    if (s.status !== 201) throw new Error(`session: ${s.status} ${s.text}`);
    const before = rp.received.length;
    const off = await scim(tenant, 'PATCH', `/Users/${user.json.id}`,
      { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] });
    if (off.status !== 200) throw new Error(`deactivate: ${off.status} ${off.text}`);
    const answered = performance.now();
    await waitFor(() => rp.received.length > before, `the logout of ${sid}`);
    return performance.now() - answered;
  }
  const summary = (samples) => {
    const sorted = [...samples].sort((a, b) => a - b);
    return `p50 ${ms(quantile(sorted, 0.5))} ms, max ${ms(sorted[sorted.length - 1])} ms over ${sorted.length}`;
  };
  const idle = [];
  for (let i = 0; i < LOGOUTS; i += 1) idle.push(await timeLogout());
  rows.push({ scenario: 'time to back-channel logout, idle', figures: summary(idle) });

  // 3. The same while FLOOD events of other connections wait on the bulk lane.
  const flooders = [];
  const perFlooder = Math.ceil(FLOOD / 4);
  for (let i = 0; i < 4; i += 1) flooders.push(await newConnection(server, `Flood ${i}`));
  const everything = await admin(server, 'POST', '/webhooks', { url: hooks.url('/flood'), connection_ids: flooders.map((c) => c.id) });
  if (everything.status !== 201) throw new Error(`flood webhook: ${everything.status} ${everything.text}`);
  // A light connection with an endpoint of its own: its deliveries during the flood.
  const light = await newConnection(server, 'Light');
  const lightHooks = await startReceiver();
  const lightHook = await admin(server, 'POST', '/webhooks', { url: lightHooks.url('/light'), event_types: ['user.created'], connection_ids: [light.id] });
  if (lightHook.status !== 201) throw new Error(`light webhook: ${lightHook.status} ${lightHook.text}`);
  const floodStart = hooks.received.length;
  await Promise.all(flooders.map((c, i) => bulkCreateUsers(c, perFlooder, `f${i}-`, 'flood.example')));
  const flooded = [];
  const lightLatency = [];
  for (let i = 0; i < LOGOUTS; i += 1) {
    flooded.push(await timeLogout());
    const before = lightHooks.received.length;
    const created = await scim(light, 'POST', '/Users', { schemas: [USER], userName: `light${i}@bench.example` });
    if (created.status !== 201) throw new Error(`light user: ${created.status} ${created.text}`);
    const answered = performance.now();
    await waitFor(() => lightHooks.received.length > before, `the light connection's delivery ${i}`);
    lightLatency.push(performance.now() - answered);
  }
  const behind = perFlooder * 4 - (hooks.received.length - floodStart);
  await lightHooks.stop();
  rows.push({
    scenario: `time to back-channel logout, ${(perFlooder * 4).toLocaleString('en')} other events just written`,
    figures: `${summary(flooded)}; ${behind.toLocaleString('en')} flood deliveries still pending after the last logout`,
  });
  rows.push({
    scenario: `another connection's webhook delivery during that flood (fairness: the flood waits in BACKFILL)`,
    figures: `${summary(lightLatency)} from the write's response to the receiver`,
  });

  // 4. What the receipts say: the admin API's time to revoke of the tenant's deprovisionings.
  let stats;
  await waitFor(() => stats?.count >= 2 * LOGOUTS, 'the receipts to complete', async () => {
    stats = (await admin(server, 'GET', `/connections/${tenant.id}/deprovisionings/stats`)).json;
  });
  rows.push({
    scenario: 'deprovisioning receipts of those deactivations (`GET …/deprovisionings/stats`)',
    figures: `time to revoke p50 ${stats.p50_ms} ms, p95 ${stats.p95_ms} ms over ${stats.count}`,
  });
} finally {
  await hooks.stop();
  await rp.stop();
  await server.stop();
}

const report = [
  '# Pipeline benchmark',
  '',
  'Produced by `benches/pipeline.mjs` (part of `make bench`): the built worker in workerd through',
  '`wrangler dev`, its `EVENTS`, `BACKFILL` and `LOGOUTS` queues and their consumer in the same process, sharing',
  "the machine's cores with the load and with real HTTP receivers on 127.0.0.1. On Cloudflare the",
  'consumer runs in its own isolates; these are figures for this machine, not for the edge.',
  '',
  `Run: ${started.toISOString()} on ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores.`,
  '',
  'Command:',
  '',
  '```sh',
  `BENCH_PIPELINE_CONNECTIONS=${CONNECTIONS} BENCH_PIPELINE_USERS=${USERS} BENCH_LOGOUTS=${LOGOUTS} BENCH_FLOOD=${FLOOD} node benches/pipeline.mjs`,
  '```',
  '',
  '| scenario | figures |',
  '| --- | --- |',
  ...rows.map((r) => `| ${r.scenario} | ${r.figures} |`),
  '',
].join('\n');
console.log(report);
if (OUT !== '-') writeFileSync(OUT, report);
