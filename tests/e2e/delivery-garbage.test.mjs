// The routes added for webhooks, OIDC clients, dead letters, sessions, refresh tokens and
// introspection never answer 5xx to garbage: every 4xx is the admin/app JSON error shape, and
// what was stored before is still there afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, newConnection, admin, app, scim } from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Garbage');
});
after(async () => { await server?.stop(); });

/** Garbage of many kinds, from a fixed seed so that a failure can be replayed. */
function bodies() {
  let s = 0xfeed;
  const rnd = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s / 0x7fffffff; };
  const bytes = (n) => Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
  const out = [undefined, '', 'null', '[]', '"x"', '{', '{"a":', '1e999999', `${'['.repeat(10_000)}${']'.repeat(10_000)}`];
  for (let i = 0; i < 4; i += 1) out.push(bytes(1 + Math.floor(rnd() * 500)));
  const values = [null, 42, -1, true, '', ' ', 'x'.repeat(5000), [], [1], {}, { a: {} }, '\u0000', '\u{1F600}', 'javascript:alert(1)',
    'https://user:pw@example.com/x', 'http://example.com/x', 'https://example.com/#frag', 'https://[::1/', 'https://example.com:99999/'];
  const fields = ['url', 'event_types', 'connection_ids', 'description', 'enabled', 'client_id', 'backchannel_logout_uri',
    'backchannel_logout_session_required', 'ids', 'sid', 'user_id', 'refresh_token', 'token_hash', 'expires_at', 'unknown'];
  for (const f of fields) {
    for (let k = 0; k < 3; k += 1) out.push(JSON.stringify({ [f]: values[Math.floor(rnd() * values.length)] }));
  }
  return out;
}

test('garbage to the delivery, session and introspection routes never yields a 5xx', async () => {
  const hook = await admin(server, 'POST', '/webhooks', { url: 'https://hooks.example/keep' });
  assert.equal(hook.status, 201, hook.text);
  const client = await admin(server, 'POST', '/clients', { client_id: 'keep', backchannel_logout_uri: 'https://rp.example/logout' });
  assert.equal(client.status, 201, client.text);
  const user = await scim(conn, 'POST', '/Users', { userName: 'garbage.keep@example.com' });
  const session = await app(server, 'POST', `/connections/${conn.id}/sessions`, { sid: 'keep', user_id: user.json.id, client_id: 'keep' });
  assert.equal(session.status, 201, session.text);

  const adminRoutes = [
    ['POST', '/webhooks'], ['PATCH', `/webhooks/${hook.json.id}`], ['POST', `/webhooks/${hook.json.id}/dead-letters/replay`],
    ['POST', `/webhooks/${hook.json.id}/rotate-secret`], ['GET', '/webhooks?limit=abc&after=%FF'], ['GET', '/webhooks/%00'],
    ['POST', '/clients'], ['PATCH', '/clients/keep'], ['POST', '/clients/keep/dead-letters/replay'],
    ['GET', '/clients/keep/dead-letters?after=nope'], ['GET', '/events?after=nope&limit=-1'], ['DELETE', '/webhooks/wh_nope'],
    ['POST', '/internal/fanout'], ['POST', '/internal/attempts'],
  ];
  const appRoutes = [
    ['POST', '/sessions'], ['POST', '/refresh-tokens'], ['POST', '/introspect'], ['DELETE', '/sessions/%00'],
    ['DELETE', '/refresh-tokens/nope'], ['GET', '/users/%FF/sessions'],
  ];
  const failures = [];
  const check = (label, res) => {
    if (res.status >= 500) failures.push(`${label}: ${res.status} ${res.text.slice(0, 200)}`);
    else if (res.status >= 400 && !(res.json && typeof res.json.error === 'string' && typeof res.json.message === 'string')) {
      failures.push(`${label}: not a JSON error: ${res.status} ${res.text.slice(0, 200)}`);
    }
  };
  for (const body of bodies()) {
    const shown = String(body instanceof Uint8Array ? '<bytes>' : body).slice(0, 50);
    for (const [method, path] of adminRoutes) {
      const send = method === 'GET' || method === 'DELETE' ? undefined : body;
      check(`admin ${method} ${path} [${shown}]`, await admin(server, method, path, send));
    }
    for (const [method, path] of appRoutes) {
      const send = method === 'GET' || method === 'DELETE' ? undefined : body;
      check(`app ${method} ${path} [${shown}]`, await app(server, method, `/connections/${conn.id}${path}`, send));
    }
  }
  assert.deepEqual(failures, []);
  // The internal routes are not reachable from outside.
  const internal = await admin(server, 'POST', '/internal/targets', { webhooks: [hook.json.id] });
  assert.equal(internal.status, 404, internal.text);
  assert.ok(!internal.text.includes('whsec_'));
  // What was stored is intact.
  const still = await admin(server, 'GET', `/webhooks/${hook.json.id}`);
  assert.equal(still.status, 200);
  assert.equal(still.json.url, 'https://hooks.example/keep');
  assert.equal((await admin(server, 'GET', '/clients/keep')).status, 200);
  const live = await app(server, 'POST', `/connections/${conn.id}/introspect`, { sid: 'keep' });
  assert.equal(live.json.active, true, live.text);
});
