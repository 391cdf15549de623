// The cross-tenant matrix (hardening issue): for every SCIM, app and admin route that takes an id,
// connection A's credentials and URLs are tried on connection B's ids — directly, in filters, in
// member references, in Bulk paths — and the answer must be the one a random, never-used id gets
// (so nothing tells A that B's id exists), and B must be unchanged afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startWorker, newConnection, scim, app, admin, createUser, createGroup, patchOp,
  USER_SCHEMA, GROUP_SCHEMA, SEARCH_REQUEST, BULK_REQUEST,
} from './harness.mjs';

let server;
let a;
let b;
let aGroup;
let bUser;
let bGroup;
let bToken;

before(async () => {
  server = await startWorker();
  a = await newConnection(server, 'Matrix A');
  b = await newConnection(server, 'Matrix B');
  bUser = await createUser(b, 'victim@b.example', { externalId: 'b-ext', displayName: 'B Victim' });
  bGroup = await createGroup(b, 'B Admins', [bUser.id]);
  await createUser(a, 'someone@a.example');
  aGroup = await createGroup(a, 'A Team');
  const tokens = await admin(server, 'GET', `/connections/${b.id}/tokens`);
  bToken = tokens.json.tokens[0].id;
  const s = await app(server, 'POST', `/connections/${b.id}/sessions`, { sid: 'b-sid-1', user_id: bUser.id, client_id: 'web' });
  assert.equal(s.status, 201, s.text);
});
after(async () => { await server?.stop(); });

/** An answer with the probed id (and per-call ids, times and versions) taken out. */
function shape(res, id) {
  const text = (res.text ?? '').split(id).join('<ID>')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<UUID>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>')
    .replace(/W\/\\?"[^"\\]*\\?"/g, '<ETAG>')
    .replace(/req_[0-9a-f]+/g, '<REQ>');
  return { status: res.status, text };
}

/** Probes with B's id and with a random one must answer alike. */
async function alike(what, probe, bId, randomId) {
  const withB = shape(await probe(bId), bId);
  const withRandom = shape(await probe(randomId), randomId);
  assert.ok(withB.status < 500, `${what}: ${withB.status} ${withB.text}`);
  assert.deepEqual(withB, withRandom, `${what}: B's id answers differently from a random id`);
}

async function bUnchanged() {
  const user = await scim(b, 'GET', `/Users/${bUser.id}`);
  assert.equal(user.status, 200, user.text);
  assert.equal(user.json.meta.version, bUser.meta.version, "B's user changed");
  assert.equal(user.json.active, bUser.active);
  const group = await scim(b, 'GET', `/Groups/${bGroup.id}`);
  assert.equal(group.status, 200, group.text);
  assert.deepEqual(group.json.members?.map((m) => m.value), [bUser.id], "B's group membership changed");
  assert.equal(group.json.displayName, 'B Admins');
}

test("SCIM routes: B's user and group ids through A's URL answer like a random id", async () => {
  const user = (method, body) => (id) => scim(a, method, `/Users/${id}`, body);
  const group = (method, body) => (id) => scim(a, method, `/Groups/${id}`, body);
  const probes = [
    ['GET user', user('GET'), bUser.id],
    ['PUT user', user('PUT', { schemas: [USER_SCHEMA], userName: 'victim@b.example' }), bUser.id],
    ['PATCH user', user('PATCH', patchOp({ op: 'replace', path: 'active', value: false })), bUser.id],
    ['DELETE user', user('DELETE'), bUser.id],
    ['GET group', group('GET'), bGroup.id],
    ['PUT group', group('PUT', { schemas: [GROUP_SCHEMA], displayName: 'Taken over' }), bGroup.id],
    ['PATCH group', group('PATCH', patchOp({ op: 'remove', path: 'members' })), bGroup.id],
    ['DELETE group', group('DELETE'), bGroup.id],
    ['filter id', (id) => scim(a, 'GET', `/Users?filter=${encodeURIComponent(`id eq "${id}"`)}`), bUser.id],
    ['filter group member', (id) => scim(a, 'GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${id}"`)}`), bUser.id],
    ['filter user groups', (id) => scim(a, 'GET', `/Users?filter=${encodeURIComponent(`groups.value eq "${id}"`)}`), bGroup.id],
    ['.search', (id) => scim(a, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: `id eq "${id}"` }), bUser.id],
    ['member add', (id) => scim(a, 'PATCH', `/Groups/${aGroup.id}`, patchOp({ op: 'add', path: 'members', value: [{ value: id }] })), bUser.id],
    ['member remove', (id) => scim(a, 'PATCH', `/Groups/${aGroup.id}`, patchOp({ op: 'remove', path: `members[value eq "${id}"]` })), bUser.id],
    ['group of B user', (id) => scim(a, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: `G ${randomUUID()}`, members: [{ value: id }] }), bUser.id],
  ];
  for (const [what, probe, bId] of probes) await alike(what, probe, bId, randomUUID());
  await bUnchanged();
});

test("Bulk: B's ids in A's Bulk paths answer like a random id", async () => {
  const bulk = (method, resource, data) => (id) => scim(a, 'POST', '/Bulk', {
    schemas: [BULK_REQUEST], Operations: [{ method, path: `/${resource}/${id}`, ...(data ? { data } : {}) }],
  });
  const probes = [
    ['bulk PUT user', bulk('PUT', 'Users', { schemas: [USER_SCHEMA], userName: 'victim@b.example' }), bUser.id],
    ['bulk PATCH user', bulk('PATCH', 'Users', patchOp({ op: 'replace', path: 'active', value: false })), bUser.id],
    ['bulk DELETE user', bulk('DELETE', 'Users'), bUser.id],
    ['bulk DELETE group', bulk('DELETE', 'Groups'), bGroup.id],
    ['bulk member add', (id) => scim(a, 'POST', '/Bulk', {
      schemas: [BULK_REQUEST],
      Operations: [{ method: 'PATCH', path: `/Groups/${aGroup.id}`, data: patchOp({ op: 'add', path: 'members', value: [{ value: id }] }) }],
    }), bUser.id],
  ];
  for (const [what, probe, bId] of probes) await alike(what, probe, bId, randomUUID());
  await bUnchanged();
});

test("app API: B's ids through A's connection answer like a random id", async () => {
  const route = (method, path, body) => (id) => app(server, method, `/connections/${a.id}${path.replace('{id}', id)}`, body);
  const probes = [
    ['app user', route('GET', '/users/{id}'), bUser.id],
    ['app user groups', route('GET', '/users/{id}/groups'), bUser.id],
    ['app user sessions', route('GET', '/users/{id}/sessions'), bUser.id],
    ['app group', route('GET', '/groups/{id}'), bGroup.id],
    ['app session for B user', (id) => app(server, 'POST', `/connections/${a.id}/sessions`, { sid: `s-${randomUUID()}`, user_id: id, client_id: 'web' }), bUser.id],
    ['app logout B session', route('DELETE', '/sessions/{id}'), 'b-sid-1'],
  ];
  for (const [what, probe, bId] of probes) await alike(what, probe, bId, what.includes('session') && bId === 'b-sid-1' ? `sid-${randomUUID()}` : randomUUID());
  // Introspection of B's session through A says nothing.
  const intro = await app(server, 'POST', `/connections/${a.id}/introspect`, { sid: 'b-sid-1' });
  assert.deepEqual(intro.json, { active: false });
  const still = await app(server, 'POST', `/connections/${b.id}/introspect`, { sid: 'b-sid-1' });
  assert.equal(still.json.active, true, "B's session is still live");
  await bUnchanged();
});

test("admin routes under A: B's token id answers like a random id, and B's token still works", async () => {
  await alike('revoke B token through A', (id) => admin(server, 'DELETE', `/connections/${a.id}/tokens/${id}`), bToken, `tok_${randomUUID().replace(/-/g, '').slice(0, 16)}`);
  const ok = await scim(b, 'GET', '/Users?count=1');
  assert.equal(ok.status, 200, "B's token was revoked through A");
  await bUnchanged();
});
