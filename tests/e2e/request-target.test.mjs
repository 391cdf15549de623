// The edge routes on the URL string the platform serialized (service::http::RequestUrl), without
// parsing it again: paths arrive normalized and percent-encoded exactly as WHATWG `new URL` gives
// them, and queries decode like application/x-www-form-urlencoded (WHATWG URL Standard §5.1).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startWorker, newConnection, scim, createUser } from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Request target e2e');
});
after(async () => { await server?.stop(); });

/** One request with the request target written byte for byte (fetch would normalize it first). */
function rawGet(target, headers = {}) {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks = [];
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(text.split(' ')[1]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      resolve({ status, json, text });
    });
    const lines = Object.entries({ host: `127.0.0.1:${port}`, connection: 'close', ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(Buffer.concat([Buffer.from('GET '), Buffer.from(target, 'utf8'), Buffer.from(` HTTP/1.1\r\n${lines}\r\n`)]));
  });
}

test('the routed path is the WHATWG-normalized, percent-encoded path', async () => {
  const targets = [
    '/nothing/a%2Fb', '/nothing/é日本😀', '/nothing/%C3%A9', '/nothing/a/../b', '/nothing/%2e%2e/x',
    '/nothing/./x', '/nothing\\x\\y', "/nothing/'", '/nothing/%zz%', '/nothing/a?b=1', '/nothing//double//',
    '/NOTHING/%7E~', '/nothing?q=%zz+%2B&&k&=v',
  ];
  for (const target of targets) {
    const res = await rawGet(target);
    const expected = new URL(target, 'http://h').pathname;
    assert.equal(res.status, 404, `${target}: ${res.text}`);
    assert.equal(res.json?.message, `Nothing at ${expected}.`, target);
  }
});

test('dot segments are resolved before routing: no way around a route\'s credentials', async () => {
  const target = '/scim/v2/con_x/../../../admin/v1/connections';
  assert.equal((await rawGet(target)).status, 401);
  const res = await rawGet(target, { authorization: `Bearer ${server.adminToken}` });
  assert.equal(res.status, 200, res.text);
  assert.ok(Array.isArray(res.json?.connections), res.text);
});

test('ids with %2F, spaces and unicode reach the connection still percent-encoded', async () => {
  for (const id of ['a%2Fb', 'a%20b', '%C3%A9%E6%97%A5', 'x%2F..%2F..%2Fadmin']) {
    const res = await scim(conn, 'GET', `/Users/${id}`);
    assert.equal(res.status, 404, `${id}: ${res.text}`);
    // A path the router does not know echoes what the connection's object saw.
    const deeper = await scim(conn, 'GET', `/Users/${id}/x`);
    assert.equal(deeper.status, 404, `${id}: ${deeper.text}`);
    assert.equal(deeper.json?.detail, `No SCIM endpoint at '/Users/${id}/x'.`);
  }
  // Unicode and spaces written raw are percent-encoded on the way, as by the URL parser.
  const raw = await scim(conn, 'GET', '/Users/é 日/x');
  assert.equal(raw.json?.detail, "No SCIM endpoint at '/Users/%C3%A9%20%E6%97%A5/x'.");
});

test('queries decode like x-www-form-urlencoded: + is a space, %2B a plus, && and bare keys are ignored', async () => {
  const userName = `q+${Date.now().toString(36)} é@example.com`;
  const user = await createUser(conn, userName);
  const encoded = userName.replace(/[^A-Za-z0-9@.]/g, (c) => (c === ' ' ? '+' : encodeURIComponent(c)));
  for (const query of [
    `filter=userName+eq+%22${encoded}%22&&count=5&unknown&=x`,
    `&filter=userName%20eq%20"${encoded.replace(/\+/g, '%20')}"&count=5&`,
  ]) {
    const res = await scim(conn, 'GET', `/Users?${query}`);
    assert.equal(res.status, 200, `${query}: ${res.text}`);
    assert.deepEqual(res.json.Resources.map((r) => r.id), [user.id], query);
    assert.equal(res.json.Resources[0].userName, userName);
  }
});
