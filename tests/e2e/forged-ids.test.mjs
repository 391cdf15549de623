// Hardening 7: a connection id this deployment did not make (well-formed `con_` + 20 hex digits,
// but no valid MAC under CONNECTION_ID_KEY) is answered by the Worker without naming a Durable
// Object: the answer is byte for byte what a connection that exists gives to a wrong credential
// (SCIM) or what a deleted connection gets (admin and app planes, which authenticate first), and
// no Connection object (its SQLite file under the state directory) is created.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startWorker, admin, call, newConnection, sleep, USER_SCHEMA } from './harness.mjs';

let server;
let live; // a connection that exists, with a token
let deleted; // a connection that existed
before(async () => {
  server = await startWorker();
  live = await newConnection(server, 'Live');
  deleted = await newConnection(server, 'Deleted');
  const gone = await admin(server, 'DELETE', `/connections/${deleted.id}`);
  assert.equal(gone.status, 204, gone.text);
});
after(async () => {
  await server?.stop();
});

/** A well-formed connection id that this deployment never made (its MAC is random). */
const forgedId = () => `con_${randomBytes(10).toString('hex')}`;

/**
 * The SQLite files of Connection objects in the worker's state directory (miniflare keeps one
 * `<object id>.sqlite` per object under `v3/do/<script>-Connection/`, next to its metadata.sqlite).
 */
function connectionObjectFiles() {
  const dir = join(server.persistTo, 'v3', 'do', 'scim-edge-Connection');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite').sort();
}

/** What a comparison looks at: status, body (with the connection id replaced) and headers. */
function shape(res, id) {
  return {
    status: res.status,
    body: res.text.split(id).join('<id>'),
    contentType: res.headers.get('content-type'),
    wwwAuthenticate: res.headers.get('www-authenticate'),
    cacheControl: res.headers.get('cache-control'),
  };
}

const SCIM_ROUTES = [
  ['GET', '/Users'],
  ['GET', '/Users?filter=userName%20eq%20%22a%22'],
  ['POST', '/Users', { schemas: [USER_SCHEMA], userName: 'mallory' }],
  ['GET', '/Users/2819c223-7f76-453a-919d-413861904646'],
  ['PUT', '/Users/x', { schemas: [USER_SCHEMA], userName: 'x' }],
  ['PATCH', '/Users/x', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [] }],
  ['DELETE', '/Users/x'],
  ['GET', '/Groups'],
  ['POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }],
  ['POST', '/.search', {}],
  ['GET', '/ServiceProviderConfig'],
  ['GET', '/ResourceTypes'],
  ['GET', '/Schemas'],
  ['GET', ''],
];

const APP_ROUTES = [
  ['GET', '/users'],
  ['GET', '/users?email=a@example.com'],
  ['GET', '/users/u1'],
  ['GET', '/users/u1/groups'],
  ['GET', '/groups'],
  ['GET', '/groups/g1'],
  ['POST', '/users/import', { users: [{ username: 'mallory' }] }],
];

const ADMIN_ROUTES = [
  ['GET', ''],
  ['PATCH', '', { name: 'Mallory' }],
  ['DELETE', ''],
  ['POST', '/tokens', {}],
  ['GET', '/tokens'],
  ['DELETE', '/tokens/tok_1'],
  ['POST', '/setup-links', {}],
  ['GET', '/events'],
  ['GET', '/mapping'],
  ['PUT', '/mapping', { rules: [{ scim: 'userName', app: 'username' }] }],
  ['DELETE', '/mapping'],
  ['POST', '/mapping/preview', { user: { userName: 'x' } }],
  ['GET', '/deprovisionings'],
  ['GET', '/deprovisionings/stats'],
  ['GET', '/deprovisionings/dpr_000000000000000000000000'],
  ['GET', '/requests'],
  ['GET', '/requests/summary'],
  ['GET', '/requests/req_000000000000000000000000'],
];

/** Every request a forged id can make, each with what it is compared to. */
function requests() {
  const out = [];
  for (const [method, path, body] of SCIM_ROUTES) {
    out.push({
      what: `SCIM ${method} ${path}`,
      send: (id) => call(`${server.url}/scim/v2/${id}${path}`, method, 'scim_not-the-token', body),
      reference: live.id,
    });
  }
  for (const [method, path, body] of APP_ROUTES) {
    out.push({
      what: `app ${method} ${path}`,
      send: (id) => call(`${server.url}/v1/connections/${id}${path}`, method, server.appToken, body,
        { 'content-type': 'application/json' }),
      reference: deleted.id,
    });
  }
  for (const [method, path, body] of ADMIN_ROUTES) {
    out.push({
      what: `admin ${method} ${path}`,
      send: (id) => admin(server, method, `/connections/${id}${path}`, body),
      reference: deleted.id,
    });
  }
  const secret = randomBytes(32).toString('base64url');
  const setup = (method, tail, body) => (id) => call(`${server.url}/setup/${id}${tail}`, method, null, body,
    { 'content-type': 'application/json' });
  out.push({ what: 'setup page GET', send: setup('GET', ''), reference: live.id });
  out.push({ what: 'setup details POST', send: setup('POST', '/details', { secret }), reference: live.id });
  out.push({ what: 'setup token POST', send: setup('POST', '/token', { secret }), reference: live.id });
  out.push({ what: 'setup token POST, no secret', send: setup('POST', '/token', {}), reference: live.id });
  out.push({ what: 'setup path-style GET', send: setup('GET', `/${secret}`), reference: live.id });
  out.push({ what: 'setup path-style POST', send: setup('POST', `/${secret}/token`), reference: live.id });
  return out;
}

test('hardening 7: a real connection creates one Connection object file (the measure works)', async () => {
  const before = connectionObjectFiles().length;
  await newConnection(server, 'Counted');
  await sleep(200);
  assert.equal(connectionObjectFiles().length, before + 1);
});

test('hardening 7: forged connection ids get the wrong-token / deleted-connection answers and create no object', async () => {
  const before = connectionObjectFiles();
  assert.ok(before.length >= 2, `the live and deleted connections' objects: ${before}`);
  let sent = 0;
  const answers = []; // [what, got, expected]: compared after the object count
  for (const request of requests()) {
    const expected = shape(await request.send(request.reference), request.reference);
    // Refusals, but for the setup page, which is the same static page for every connection.
    const page = request.what === 'setup page GET';
    assert.ok(page ? expected.status === 200 : expected.status >= 400 && expected.status < 500,
      `${request.what}: ${JSON.stringify(expected)}`);
    // A few forged ids per route: each would have been a new object.
    for (let i = 0; i < 3; i += 1) {
      const id = forgedId();
      answers.push([`${request.what} with ${id}`, shape(await request.send(id), id), expected]);
      sent += 1;
    }
  }
  // Per-connection discovery: a forged issuer is not found, like a path that names no connection.
  const discovery = (id) => call(`${server.url}/connections/${id}/.well-known/openid-configuration`, 'GET', null);
  assert.equal((await discovery(live.id)).status, 200);
  const nowhere = shape(await discovery('not-a-connection'), 'not-a-connection');
  for (let i = 0; i < 3; i += 1) {
    const id = forgedId();
    answers.push([`discovery with ${id}`, shape(await discovery(id), id), nowhere]);
    sent += 1;
  }
  // An object created late would still show: give the runtime a moment to flush.
  await sleep(500);
  const afterFiles = connectionObjectFiles();
  console.log(`hardening 7: ${sent} forged requests; Connection object files before ${before.length}, after ${afterFiles.length}`);
  assert.deepEqual(afterFiles, before, `${sent} forged requests created no Connection object`);
  for (const [what, got, expected] of answers) assert.deepEqual(got, expected, what);

  // The real connection still answers its own token.
  const users = await call(`${live.base}/Users`, 'GET', live.token);
  assert.equal(users.status, 200, users.text);
});

test('hardening 7: without CONNECTION_ID_KEY no connection can be created, and none answers', async () => {
  const keyless = await startWorker({ vars: { CONNECTION_ID_KEY: '' } });
  try {
    const created = await admin(keyless, 'POST', '/connections', { name: 'Acme' });
    assert.equal(created.status, 503, created.text);
    assert.equal(created.json.error, 'connection_id_key_missing');
    assert.match(created.json.message, /CONNECTION_ID_KEY/);
    assert.match(created.json.message, /openssl rand -hex 32/);
    const list = await admin(keyless, 'GET', '/connections');
    assert.deepEqual(list.json.connections, []);
    // Nothing verifies: a SCIM request gets the 401 and names no object.
    const res = await call(`${keyless.url}/scim/v2/${forgedId()}/Users`, 'GET', 'scim_x');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="scim"');
  } finally {
    await keyless.stop();
  }
});

test('hardening 7: a connection made under another key does not answer here', async () => {
  const other = await startWorker({ vars: { CONNECTION_ID_KEY: randomBytes(32).toString('hex') } });
  let foreign;
  try {
    foreign = await newConnection(other, 'Elsewhere');
  } finally {
    await other.stop();
  }
  const res = await call(`${server.url}/scim/v2/${foreign.id}/Users`, 'GET', foreign.token);
  assert.equal(res.status, 401);
  const mine = await admin(server, 'GET', `/connections/${foreign.id}`);
  assert.equal(mine.status, 404);
});
