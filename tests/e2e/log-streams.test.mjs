// Log streams: every SCIM operation reaches log systems in the formats they ingest, batched, with
// each system's credential, retried and dead-lettered like webhooks. The receivers here parse
// each format the way its system does and answer as it does: a Datadog Logs intake (JSON array,
// DD-API-KEY, 202), a Splunk HTTP Event Collector (concatenated JSON event objects,
// `Authorization: Splunk <token>`, `{"text":"Success","code":0}`), an NDJSON collector, and a
// Standard Webhooks receiver that opted into batches (verified with the `standardwebhooks`
// package).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { startWorker, newConnection, admin, bulkCreateUsers, freePort } from './harness.mjs';
import { until } from './receiver.mjs';

let server;
const servers = [];

before(async () => {
  // Fast retries: 1 s, 1 s, then a dead letter.
  server = await startWorker({ vars: { DELIVERY_RETRY_SCHEDULE: '1,1', WEBHOOK_DISABLE_AFTER: '0' } });
});

after(async () => {
  for (const s of servers) await new Promise((resolve) => { s.closeAllConnections?.(); s.close(resolve); });
  await server?.stop();
});

/**
 * Splits a Splunk HEC body into its JSON objects the way HEC reads it: one object after another,
 * optionally separated by whitespace. Throws on anything else.
 */
function splunkObjects(text) {
  const out = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth += 1;
    } else if (c === '}') {
      depth -= 1;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    } else if (depth === 0 && !/\s/.test(c)) {
      throw new Error(`unexpected ${JSON.stringify(c)} between HEC events at ${i}`);
    }
  }
  if (depth !== 0 || inString) throw new Error('truncated HEC body');
  return out;
}

/**
 * A log system's intake on a loopback port. `parse(req, body)` returns the envelopes a POST
 * carried, or throws `{status, answer}` to refuse it the way the system would. `accepted` holds
 * every accepted POST's envelopes; `refused` every refused POST.
 */
async function intake(name, parse, okStatus, okBody) {
  const port = await freePort();
  const accepted = [];
  const refused = [];
  const s = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      const events = parse(req, body);
      accepted.push({ events, headers: req.headers, body, path: req.url });
      res.writeHead(okStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify(okBody));
    } catch (e) {
      refused.push({ status: e.status ?? 400, headers: req.headers, body, reason: e.message ?? e.answer });
      res.writeHead(e.status ?? 400, { 'content-type': 'application/json' });
      res.end(JSON.stringify(e.answer ?? { error: String(e.message ?? e) }));
    }
  });
  s.keepAliveTimeout = 1;
  await new Promise((resolve) => s.listen(port, '127.0.0.1', resolve));
  servers.push(s);
  return {
    name,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    accepted,
    refused,
    /** Every envelope accepted, by event id. */
    ids: () => new Set(accepted.flatMap((p) => p.events.map((e) => e.id))),
  };
}

function refuse(status, answer) {
  const e = new Error(JSON.stringify(answer));
  e.status = status;
  e.answer = answer;
  return e;
}

function datadog(key) {
  return intake('datadog', (req, body) => {
    if (req.url !== '/api/v2/logs') throw refuse(404, { errors: ['not found'] });
    if (req.headers['dd-api-key'] !== key) throw refuse(403, { errors: ['Forbidden'] });
    assert.equal(req.headers['content-type'], 'application/json');
    const items = JSON.parse(body);
    assert.ok(Array.isArray(items) && items.length >= 1 && items.length <= 1000, 'a JSON array of 1 to 1000 logs');
    return items.map((item) => {
      assert.equal(item.ddsource, 'scim-edge');
      assert.equal(item.service, 'scim-edge');
      assert.equal(typeof item.message, 'string');
      assert.equal(item.timestamp, item.event.occurred_at);
      assert.ok(item.ddtags.split(',').includes(`event_type:${item.event.type}`), item.ddtags);
      assert.ok(item.ddtags.split(',').includes(`connection_id:${item.event.connection_id}`), item.ddtags);
      return item.event;
    });
  }, 202, {});
}

function splunk(token) {
  return intake('splunk', (req, body) => {
    if (req.url !== '/services/collector/event') throw refuse(404, { text: 'The requested URL was not found on this server.', code: 404 });
    if (req.headers.authorization !== `Splunk ${token}`) throw refuse(401, { text: 'Invalid authorization', code: 3 });
    const objects = splunkObjects(body);
    assert.ok(objects.length >= 1);
    return objects.map((o) => {
      assert.equal(o.source, 'scim-edge');
      assert.equal(o.sourcetype, '_json');
      assert.equal(typeof o.time, 'number');
      assert.equal(o.time, Date.parse(o.event.occurred_at) / 1000, 'time is the event time in epoch seconds');
      return o.event;
    });
  }, 200, { text: 'Success', code: 0 });
}

function ndjson(authorization) {
  return intake('ndjson', (req, body) => {
    if (req.headers.authorization !== authorization) throw refuse(401, { error: 'unauthorized' });
    assert.equal(req.headers['content-type'], 'application/x-ndjson');
    assert.ok(body.endsWith('\n'), 'every line ends with a newline');
    return body.slice(0, -1).split('\n').map((line) => JSON.parse(line));
  }, 200, { ok: true });
}

/** A Standard Webhooks receiver for batches; `key.secret` is set once the endpoint exists. */
function batchedWebhook(key) {
  return intake('webhook', (req, body) => {
    const verified = new Webhook(key.secret).verify(body, {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    });
    assert.ok(Array.isArray(verified.events), 'a batched Standard Webhooks body is {"events": [...]}');
    return verified.events;
  }, 204, {});
}

async function endpoint(body) {
  const res = await admin(server, 'POST', '/webhooks', body);
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.credential, undefined, 'the credential is never shown');
  return res.json;
}

test('every SCIM change reaches Datadog, Splunk HEC, NDJSON and a batched webhook in their own formats', async () => {
  const conn = await newConnection(server, 'Streamed');
  const dd = await datadog('dd-key-0123456789');
  const hec = await splunk('0c1e2f3a-hec-token');
  const nd = await ndjson('Bearer nd-token');
  const filter = { event_types: ['user.created'], connection_ids: [conn.id] };
  await endpoint({ url: dd.url('/api/v2/logs'), format: 'datadog', credential: 'dd-key-0123456789', ...filter });
  await endpoint({ url: hec.url('/services/collector/event'), format: 'splunk_hec', credential: '0c1e2f3a-hec-token', ...filter });
  await endpoint({ url: nd.url('/ingest'), format: 'ndjson', credential: 'Bearer nd-token', ...filter });
  const key = {};
  const wh = await batchedWebhook(key);
  const hook = await endpoint({ url: wh.url('/hooks'), batch_size: 25, ...filter });
  assert.equal(hook.batch_size, 25);
  key.secret = hook.secret;

  const ids = await bulkCreateUsers(conn, 60, 'stream', 'logs.example');
  for (const sink of [dd, hec, nd, wh]) {
    await until(() => sink.ids().size >= 60, `60 user.created events at ${sink.name}`, 60_000);
    assert.deepEqual(sink.refused, [], `${sink.name} refused nothing`);
    const events = sink.accepted.flatMap((p) => p.events);
    assert.ok(events.every((e) => e.type === 'user.created' && e.connection_id === conn.id), sink.name);
    assert.deepEqual(new Set(events.map((e) => e.data.id)), new Set(ids), `${sink.name} got every user`);
    // Batched: fewer POSTs than events (60 events in one Bulk fan out together).
    assert.ok(sink.accepted.length < 60, `${sink.name}: ${sink.accepted.length} POSTs for 60 events`);
    assert.ok(Math.max(...sink.accepted.map((p) => p.events.length)) > 1, `${sink.name} got a batch`);
    for (const p of sink.accepted) {
      assert.match(p.headers['webhook-id'], /^(batch_[0-9a-f]{24})$/, 'a batch has its own webhook-id');
      assert.equal(p.headers['user-agent'], 'scim-edge');
    }
  }
  assert.ok(wh.accepted.every((p) => p.events.length <= 25), 'batch_size bounds a POST');
});

test('a log stream with a wrong credential is retried, dead-lettered with the status, and replays once fixed', async () => {
  const conn = await newConnection(server, 'Wrong key');
  const dd = await datadog('the-right-key');
  const stream = await endpoint({
    url: dd.url('/api/v2/logs'), format: 'datadog', credential: 'a-wrong-key',
    event_types: ['user.created'], connection_ids: [conn.id],
  });
  assert.equal(stream.credential_set, true);
  const [userId] = await bulkCreateUsers(conn, 1, 'dd', 'logs.example');
  const letters = await until(async () => {
    const res = await admin(server, 'GET', `/webhooks/${stream.id}/dead-letters`);
    assert.equal(res.status, 200, res.text);
    return res.json.dead_letters.length >= 1 ? res.json.dead_letters : null;
  }, 'a dead letter', 60_000);
  assert.equal(letters[0].attempts, 3, 'one attempt and two retries');
  assert.equal(letters[0].last_status, 403);
  assert.equal(dd.refused.length, 3);
  assert.ok(dd.refused.every((r) => r.status === 403 && r.headers['dd-api-key'] === 'a-wrong-key'));
  const shown = await admin(server, 'GET', `/webhooks/${stream.id}`);
  assert.match(shown.json.last_error, /^HTTP 403/);
  assert.ok(!JSON.stringify(shown.json).includes('a-wrong-key'), 'the credential never shows');

  const fixed = await admin(server, 'PATCH', `/webhooks/${stream.id}`, { credential: 'the-right-key' });
  assert.equal(fixed.status, 200, fixed.text);
  const replay = await admin(server, 'POST', `/webhooks/${stream.id}/dead-letters/replay`, {});
  assert.equal(replay.status, 202, replay.text);
  assert.equal(replay.json.replayed, 1);
  await until(() => dd.accepted.some((p) => p.events.some((e) => e.data.id === userId)), 'the replayed log');
});

test('log stream settings are checked', async () => {
  for (const [body, pattern] of [
    [{ url: 'http://127.0.0.1:9/x', format: 'datadog' }, /needs a credential/],
    [{ url: 'http://127.0.0.1:9/x', format: 'splunk_hec', credential: 'a\nb' }, /visible ASCII/],
    [{ url: 'http://127.0.0.1:9/x', format: 'gelf' }, /format must be one of/],
    [{ url: 'http://127.0.0.1:9/x', batch_size: 1000 }, /batch_size/],
  ]) {
    const res = await admin(server, 'POST', '/webhooks', body);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.error, 'invalid_request');
    assert.match(res.json.message, pattern);
  }
});
