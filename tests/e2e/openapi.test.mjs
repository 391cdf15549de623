// The OpenAPI 3.1 document served at /admin/v1/openapi.json, checked against real responses:
// every call below must be described by the document (path, method, status), and its body must
// validate against the described schema (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Ajv2020 from 'ajv/dist/2020.js';
import { startWorker, admin, app, newConnection, scim, call, USER_SCHEMA } from './harness.mjs';

let server;
let doc;
let ajv;
before(async () => {
  server = await startWorker();
  const res = await call(`${server.url}/admin/v1/openapi.json`, 'GET');
  assert.equal(res.status, 200, 'the document is served without authentication');
  doc = res.json;
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(doc, 'openapi');
});
after(async () => { await server?.stop(); });

const pointer = (...parts) => parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
const checked = new Set();

/** Asserts that `res` (from `method` on the concrete `path`) matches the document. */
function conforms(method, path, res) {
  const bare = path.split('?')[0];
  // Literal segments win over parameters (`/users/import` before `/users/{user_id}`).
  const params = (t) => (t.match(/\{/g) ?? []).length;
  const template = Object.keys(doc.paths)
    .filter((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare))
    .sort((a, b) => params(a) - params(b))[0];
  assert.ok(template, `${method} ${bare} is not in the OpenAPI document`);
  const operation = doc.paths[template][method.toLowerCase()];
  assert.ok(operation, `${method} ${template} is not in the OpenAPI document`);
  const response = operation.responses[String(res.status)];
  assert.ok(response, `${method} ${template} does not describe status ${res.status}: ${res.text}`);
  checked.add(`${method} ${template} ${res.status}`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) {
    assert.equal(res.text, '', `${method} ${template} ${res.status} has no body in the document`);
    return;
  }
  const ref = `openapi#/${pointer('paths', template, method.toLowerCase(), 'responses', res.status, 'content', 'application/json', 'schema')}`;
  const validate = ajv.getSchema(ref);
  assert.ok(validate(res.json), `${method} ${template} ${res.status}: ${ajv.errorsText(validate.errors)}\n${res.text}`);
}

test('the document is OpenAPI 3.1 with bearer security for both APIs', () => {
  assert.equal(doc.openapi, '3.1.0');
  assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['adminToken', 'appToken']);
});

test('admin API responses match the document', async () => {
  const A = async (method, path, body, token) => {
    const res = await admin(server, method, path, body, token);
    conforms(method, `/admin/v1${path}`, res);
    return res;
  };
  const created = await A('POST', '/connections', { name: 'OpenAPI Co' });
  const id = created.json.id;
  await A('POST', '/connections', { nope: 1 });
  await A('GET', '/connections', undefined, 'wrong');
  await A('GET', '/connections?limit=1');
  await A('GET', `/connections/${id}`);
  await A('GET', '/connections/con_00000000000000000000');
  await A('PATCH', `/connections/${id}`, { settings: { idp: 'okta', rate_limit: 100 } });
  await A('PATCH', `/connections/${id}`, { settings: { idp: 'nope' } });
  const token = await A('POST', `/connections/${id}/tokens`, { scopes: ['read:users', 'write:users'] });
  await A('POST', `/connections/${id}/tokens`, {});
  await A('POST', `/connections/${id}/tokens`, {});
  await A('GET', `/connections/${id}/tokens`);
  await A('DELETE', `/connections/${id}/tokens/${token.json.id}`);
  await A('GET', `/connections/${id}/mapping`);
  await A('PUT', `/connections/${id}/mapping`, { rules: [{ scim: 'userName', app: 'username' }] });
  await A('PUT', `/connections/${id}/mapping`, { rules: [{ scim: 'nope', app: 'username' }] });
  await A('POST', `/connections/${id}/mapping/preview`, { user: { id: 'x', userName: 'u' } });
  await A('DELETE', `/connections/${id}/mapping`);
  await A('POST', `/connections/${id}/setup-links`, {});
  const events = await A('GET', `/connections/${id}/events?limit=2`);
  await A('GET', `/connections/${id}/events?after=${events.json.next_after}`);
  await A('GET', `/connections/${id}/events?after=evt_nope`);
  await A('PATCH', `/connections/${id}`, { settings: { request_log: { mask_pii: true, failed_event_bodies: true } } });
  const scimToken = await A('POST', `/connections/${id}/tokens`, {});
  const logged = await scim(
    { base: created.json.scim_base_url, token: scimToken.json.token },
    'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'logged@openapi.example', password: 'pw' },
  );
  await scim({ base: created.json.scim_base_url, token: scimToken.json.token }, 'GET', '/Users?filter=bad');
  await A('GET', `/connections/${id}/requests?limit=1`);
  await A('GET', `/connections/${id}/requests?status=4xx&method=GET`);
  await A('GET', `/connections/${id}/requests?status=abc`);
  await A('GET', `/connections/${id}/requests/summary`);
  await A('GET', `/connections/${id}/requests/${logged.headers.get('x-request-id')}`);
  await A('GET', `/connections/${id}/requests/req_nope`);
  const doomed = await A('POST', '/connections', { name: 'Doomed' });
  await A('DELETE', `/connections/${doomed.json.id}`);
});

test('webhook, client, dead-letter and registry event routes match the document', async () => {
  const A = async (method, path, body, token) => {
    const res = await admin(server, method, path, body, token);
    conforms(method, `/admin/v1${path}`, res);
    return res;
  };
  const hook = await A('POST', '/webhooks', { url: 'https://hooks.example/scim', event_types: ['user.*'] });
  await A('POST', '/webhooks', { url: 'http://hooks.example/scim' });
  await A('GET', '/webhooks?limit=1');
  await A('GET', `/webhooks/${hook.json.id}`);
  await A('GET', '/webhooks/wh_000000000000000000000000');
  await A('PATCH', `/webhooks/${hook.json.id}`, { description: 'audit log', event_types: ['*'] });
  await A('PATCH', `/webhooks/${hook.json.id}`, { event_types: ['user.exploded'] });
  await A('POST', `/webhooks/${hook.json.id}/rotate-secret`);
  await A('GET', `/webhooks/${hook.json.id}/dead-letters`);
  await A('POST', `/webhooks/${hook.json.id}/dead-letters/replay`, {});
  await A('POST', `/webhooks/${hook.json.id}/dead-letters/replay`, { ids: ['dl_nope'] });
  const client = await A('POST', '/clients', { client_id: 'oa-client', backchannel_logout_uri: 'https://rp.example/logout' });
  await A('POST', '/clients', { client_id: 'oa-client', backchannel_logout_uri: 'https://rp.example/logout' });
  await A('GET', '/clients');
  await A('GET', `/clients/${client.json.client_id}`);
  await A('GET', '/clients/nope');
  await A('PATCH', `/clients/${client.json.client_id}`, { backchannel_logout_session_required: true });
  await A('GET', `/clients/${client.json.client_id}/dead-letters`);
  await A('POST', `/clients/${client.json.client_id}/dead-letters/replay`, {});
  await A('GET', '/events?limit=2');
  await A('DELETE', `/clients/${client.json.client_id}`);
  await A('DELETE', `/webhooks/${hook.json.id}`);
});

test('app API responses match the document', async () => {
  const c = await newConnection(server, 'OpenAPI App');
  const u = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'o@openapi.example', emails: [{ value: 'o@openapi.example', primary: true }] });
  const g = await scim(c, 'POST', '/Groups', { displayName: 'OA', members: [{ value: u.json.id }] });
  const P = async (method, path, body, token) => {
    const res = await app(server, method, path, body, token);
    conforms(method, `/v1${path}`, res);
    return res;
  };
  await P('GET', `/connections/${c.id}/users?limit=10`);
  await P('GET', `/connections/${c.id}/users?limit=0`);
  await P('GET', `/connections/${c.id}/users`, undefined, 'wrong');
  await P('GET', `/connections/${c.id}/users/${u.json.id}`);
  await P('GET', `/connections/${c.id}/users/nope`);
  await P('GET', `/connections/${c.id}/users/${u.json.id}/groups`);
  await P('GET', `/connections/${c.id}/groups`);
  await P('GET', `/connections/${c.id}/groups/${g.json.id}`);
  await P('POST', `/connections/${c.id}/users/import`, { users: [{ username: 'imp@openapi.example' }, {}] });
  await P('POST', `/connections/${c.id}/users/import`, { users: 'nope' });
  // Sessions, refresh tokens and introspection.
  const uid = u.json.id;
  await P('POST', `/connections/${c.id}/sessions`, { sid: 'oa-1', user_id: uid, client_id: 'web', expires_at: '2999-01-01T00:00:00Z' });
  await P('POST', `/connections/${c.id}/sessions`, { sid: 'oa-1', user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/sessions`, { sid: 'has space', user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/sessions`, { sid: 'oa-2', user_id: 'nobody', client_id: 'web' });
  const rt = await P('POST', `/connections/${c.id}/refresh-tokens`, { refresh_token: 'oa-secret', user_id: uid, client_id: 'web', sid: 'oa-1' });
  await P('POST', `/connections/${c.id}/refresh-tokens`, { token_hash: 'a'.repeat(64), user_id: uid, client_id: 'cli' });
  await P('POST', `/connections/${c.id}/refresh-tokens`, { refresh_token: 'oa-secret', user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/refresh-tokens`, { user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/refresh-tokens`, { refresh_token: 'x', user_id: 'nobody', client_id: 'web' });
  await P('POST', `/connections/${c.id}/introspect`, { sid: 'oa-1' });
  await P('POST', `/connections/${c.id}/introspect`, { refresh_token: 'oa-secret' });
  await P('POST', `/connections/${c.id}/introspect`, { token_hash: 'b'.repeat(64) });
  await P('POST', `/connections/${c.id}/introspect`, { sid: 'oa-1', refresh_token: 'oa-secret' });
  await P('POST', `/connections/${c.id}/introspect`, { sid: 'oa-1' }, 'wrong');
  await P('GET', `/connections/${c.id}/users/${uid}/sessions`);
  await P('GET', `/connections/${c.id}/users/nobody/sessions`);
  await P('DELETE', `/connections/${c.id}/refresh-tokens/${rt.json.id}`);
  await P('DELETE', `/connections/${c.id}/refresh-tokens/rt_nope`);
  await P('DELETE', `/connections/${c.id}/sessions/oa-1`);
  await P('DELETE', `/connections/${c.id}/sessions/nope`);
  await P('DELETE', `/connections/${c.id}/sessions/nope`, undefined, 'wrong');
  await P('GET', `/connections/${c.id}/users/${uid}/sessions`, undefined, 'wrong');
  await P('POST', `/connections/${c.id}/sessions`, {}, 'wrong');
  await P('POST', `/connections/${c.id}/refresh-tokens`, {}, 'wrong');
  await P('DELETE', `/connections/${c.id}/refresh-tokens/x`, undefined, 'wrong');
  await P('POST', `/connections/${c.id}/introspect`, { sid: 'gone' }, undefined);
  await P('POST', `/connections/con_00000000000000000000/introspect`, { sid: 'x' });
  // A deactivated user: 409 on registration, inactive on introspection.
  await scim(c, 'PATCH', `/Users/${uid}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  await P('POST', `/connections/${c.id}/sessions`, { sid: 'oa-3', user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/refresh-tokens`, { refresh_token: 'late', user_id: uid, client_id: 'web' });
  await P('POST', `/connections/${c.id}/introspect`, { token_hash: 'a'.repeat(64) });
});

test('deprovisioning receipt routes match the document', async () => {
  const c = await newConnection(server, 'OpenAPI Receipts');
  const A = async (method, path, body, token) => {
    const res = await admin(server, method, path, body, token);
    conforms(method, `/admin/v1${path}`, res);
    return res;
  };
  await A('GET', `/connections/${c.id}/deprovisionings/stats`);
  const u = await scim(c, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: 'dpr@openapi.example' });
  const s = await app(server, 'POST', `/connections/${c.id}/sessions`, { sid: 'dpr-1', user_id: u.json.id, client_id: 'web' });
  assert.equal(s.status, 201, s.text);
  await scim(c, 'DELETE', `/Users/${u.json.id}`);
  const list = await A('GET', `/connections/${c.id}/deprovisionings?limit=1`);
  assert.equal(list.json.deprovisionings.length, 1);
  const id = list.json.deprovisionings[0].id;
  // Without LOGOUT_SIGNING_KEYS: jws null and the reason.
  const one = await A('GET', `/connections/${c.id}/deprovisionings/${id}`);
  assert.equal(one.json.jws, null);
  await A('GET', `/connections/${c.id}/deprovisionings/dpr_000000000000000000000000`);
  await A('GET', `/connections/${c.id}/deprovisionings?limit=0`);
  await A('GET', `/connections/${c.id}/deprovisionings`, undefined, 'wrong');
  await A('GET', `/connections/${c.id}/deprovisionings/stats`, undefined, 'wrong');
  await A('GET', `/connections/${c.id}/deprovisionings/${id}`, undefined, 'wrong');
  await A('GET', '/connections/con_00000000000000000000/deprovisionings');
  await A('GET', '/connections/con_00000000000000000000/deprovisionings/stats');
  await A('GET', `/connections/${c.id}/deprovisionings/stats`);
});

test('every operation in the document was exercised', () => {
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) {
      if (template === '/admin/v1/openapi.json') continue;
      const seen = [...checked].some((c) => c.startsWith(`${method.toUpperCase()} ${template} `));
      assert.ok(seen, `${method.toUpperCase()} ${template} is documented but no test called it`);
    }
  }
});
