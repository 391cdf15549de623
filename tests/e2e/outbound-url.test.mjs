// Hardening 2: webhook endpoints and back-channel logout URIs must reach a public https host.
// A worker without the development switch (ALLOW_LOOPBACK_TARGETS off, as deployed) refuses
// loopback, private, link-local and metadata hosts in every spelling; the harness's default worker
// (switch on, as `make dev`) still accepts loopback receivers, and nothing else non-public.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWorker, admin, assertAdminError } from './harness.mjs';

let strict;
let dev;

before(async () => {
  strict = await startWorker({ vars: { ALLOW_LOOPBACK_TARGETS: 'off' } });
  dev = await startWorker();
});

after(async () => {
  await strict?.stop();
  await dev?.stop();
});

/** [url, what the message says] */
const LOOPBACK = [
  ['http://127.0.0.1:9/hook', "host '127.0.0.1', a loopback address"],
  ['http://localhost:9/hook', "host 'localhost', a loopback address"],
  ['http://2130706433:9/hook', "host '2130706433' (127.0.0.1), a loopback address"],
  ['http://0x7f000001:9/hook', "host '0x7f000001' (127.0.0.1), a loopback address"],
  ['http://[::1]:9/hook', "host '[::1]', a loopback address"],
];
const NON_PUBLIC = [
  ['https://10.0.0.1/hook', 'a private address'],
  ['https://192.168.1.1/hook', 'a private address'],
  ['https://0xac100001/hook', 'a private address'],
  ['https://169.254.169.254/latest/meta-data', 'a link-local address'],
  ['https://[::ffff:169.254.169.254]/hook', 'a link-local address'],
  ['https://[fd00::1]/hook', 'a unique-local address'],
  ['https://0.0.0.0/hook', 'an unspecified address'],
  ['https://metadata.google.internal/computeMetadata/v1/', 'an internal name'],
  ['https://receiver/hook', 'a single-label name'],
];

const webhook = (server, url) => admin(server, 'POST', '/webhooks', { url });
const client = (server, id, uri) =>
  admin(server, 'POST', '/clients', { client_id: id, backchannel_logout_uri: uri });

function assertRefused(res, field, says, url) {
  const body = assertAdminError(res, 400, 'invalid_request', url);
  assert.ok(body.message.startsWith(`${field} has host `), `${url}: ${body.message}`);
  assert.ok(body.message.includes(says), `${url}: ${body.message}`);
  assert.match(body.message, /only public hosts are allowed/, url);
}

test('hardening 2: without ALLOW_LOOPBACK_TARGETS, webhooks and clients refuse loopback URLs', async () => {
  for (const [url, says] of LOOPBACK) {
    const w = await webhook(strict, url);
    assertRefused(w, 'url', says, url);
    assert.match(w.json.message, /ALLOW_LOOPBACK_TARGETS=on/);
    assertRefused(await client(strict, 'loop', url), 'backchannel_logout_uri', says, url);
  }
});

test('hardening 2: private, link-local, metadata and single-label hosts are refused, switch or not', async () => {
  for (const server of [strict, dev]) {
    for (const [url, says] of NON_PUBLIC) {
      assertRefused(await webhook(server, url), 'url', says, url);
      assertRefused(await client(server, 'private', url), 'backchannel_logout_uri', says, url);
    }
  }
});

test('hardening 2: an update to a refused URL is refused too, and the stored URL stays', async () => {
  const created = await webhook(strict, 'https://hooks.example.com/scim');
  assert.equal(created.status, 201, created.text);
  const patched = await admin(strict, 'PATCH', `/webhooks/${created.json.id}`, { url: 'https://10.1.2.3/x' });
  assertRefused(patched, 'url', 'a private address', 'PATCH webhook');
  const got = await admin(strict, 'GET', `/webhooks/${created.json.id}`);
  assert.equal(got.json.url, 'https://hooks.example.com/scim');

  const c = await client(strict, 'public', 'https://rp.example.com/logout');
  assert.equal(c.status, 201, c.text);
  const cp = await admin(strict, 'PATCH', '/clients/public', { backchannel_logout_uri: 'http://127.1:8080/logout' });
  assertRefused(cp, 'backchannel_logout_uri', 'a loopback address', 'PATCH client');
});

test('hardening 2: public https receivers are accepted without the switch', async () => {
  for (const [i, url] of ['https://hooks.example.com/scim', 'https://93.184.216.34/hook'].entries()) {
    const w = await webhook(strict, url);
    assert.equal(w.status, 201, `${url}: ${w.text}`);
    const c = await client(strict, `pub${i}`, url);
    assert.equal(c.status, 201, `${url}: ${c.text}`);
  }
});

test('hardening 2: the default harness worker (switch on, as make dev) accepts loopback receivers', async () => {
  for (const [i, [url]] of LOOPBACK.entries()) {
    const w = await webhook(dev, url);
    assert.equal(w.status, 201, `${url}: ${w.text}`);
    const c = await client(dev, `loop${i}`, url);
    assert.equal(c.status, 201, `${url}: ${c.text}`);
  }
  // Plain http still only to loopback.
  const w = await webhook(dev, 'http://hooks.example.com/scim');
  assertAdminError(w, 400, 'invalid_request');
  assert.match(w.json.message, /^url must use https; plain http is allowed only to a loopback host/);
});
