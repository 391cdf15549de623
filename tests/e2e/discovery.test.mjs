// RFC 7644 §4 / RFC 7643 §5–§7: ServiceProviderConfig, ResourceTypes and Schemas tell the truth
// about what this service provider does, and need a token like everything else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, createUser,
  USER_SCHEMA, ENTERPRISE, LIST_RESPONSE,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Discovery');
});
after(async () => { await server?.stop(); });

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const CHARACTERISTICS = ['name', 'type', 'multiValued', 'description', 'required', 'caseExact', 'mutability', 'returned', 'uniqueness'];
const TYPES = ['string', 'boolean', 'decimal', 'integer', 'dateTime', 'reference', 'complex', 'binary'];

async function getJson(path) {
  const res = await scim(conn, 'GET', path);
  assert.equal(res.status, 200, `${path}: ${res.text}`);
  assert.match(res.headers.get('content-type'), /^application\/scim\+json/);
  return res.json;
}

const attr = (schema, name) => schema.attributes.find((a) => a.name === name);

/** Every attribute and sub-attribute carries every RFC 7643 §7 characteristic, well-formed. */
function assertCharacteristics(attributes, where) {
  for (const a of attributes) {
    const at = `${where}.${a.name}`;
    for (const c of CHARACTERISTICS) assert.ok(c in a, `${at} lacks ${c}`);
    assert.ok(TYPES.includes(a.type), `${at}: type ${a.type}`);
    assert.equal(typeof a.multiValued, 'boolean', at);
    assert.equal(typeof a.required, 'boolean', at);
    assert.equal(typeof a.caseExact, 'boolean', at);
    assert.equal(typeof a.description, 'string', at);
    assert.ok(['readOnly', 'readWrite', 'immutable', 'writeOnly'].includes(a.mutability), `${at}: ${a.mutability}`);
    assert.ok(['always', 'never', 'default', 'request'].includes(a.returned), `${at}: ${a.returned}`);
    assert.ok(['none', 'server', 'global'].includes(a.uniqueness), `${at}: ${a.uniqueness}`);
    if (a.type === 'complex') {
      assert.ok(Array.isArray(a.subAttributes) && a.subAttributes.length > 0, `${at} has no subAttributes`);
      assertCharacteristics(a.subAttributes, at);
    }
    if (a.type === 'reference') assert.ok(Array.isArray(a.referenceTypes) && a.referenceTypes.length > 0, `${at} has no referenceTypes`);
  }
}

test('ServiceProviderConfig advertises patch, etag, filter (maxResults 200), bulk, bearer auth', async () => {
  const cfg = await getJson('/ServiceProviderConfig');
  assert.deepEqual(cfg.schemas, [SPC_SCHEMA]);
  assert.equal(cfg.patch.supported, true);
  assert.equal(cfg.etag.supported, true);
  assert.deepEqual(cfg.filter, { supported: true, maxResults: 200 });
  // RFC 7643 §5: all of these are REQUIRED, each with a boolean "supported".
  for (const feature of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag']) {
    assert.equal(typeof cfg[feature]?.supported, 'boolean', `${feature}.supported`);
  }
  assert.equal(typeof cfg.bulk.maxOperations, 'number');
  assert.equal(typeof cfg.bulk.maxPayloadSize, 'number');
  assert.equal(cfg.bulk.maxPayloadSize, 1024 * 1024, 'the advertised payload limit is the enforced one');
  assert.ok(Array.isArray(cfg.authenticationSchemes) && cfg.authenticationSchemes.length > 0);
  const bearer = cfg.authenticationSchemes.find((s) => s.type === 'oauthbearertoken');
  assert.ok(bearer, JSON.stringify(cfg.authenticationSchemes));
  assert.equal(typeof bearer.name, 'string');
  assert.equal(typeof bearer.description, 'string');
  assert.equal(cfg.meta.resourceType, 'ServiceProviderConfig');
  assert.equal(cfg.meta.location, `${conn.base}/ServiceProviderConfig`);
});

test('ServiceProviderConfig tells the truth about bulk and sort', async () => {
  const cfg = await getJson('/ServiceProviderConfig');
  const bulk = await scim(conn, 'POST', '/Bulk', {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'],
    Operations: [{ method: 'POST', path: '/Users', bulkId: 'b1', data: { schemas: [USER_SCHEMA], userName: 'bulk.truth@example.com' } }],
  });
  if (cfg.bulk.supported) {
    assert.equal(bulk.status, 200, bulk.text);
    assert.ok(cfg.bulk.maxOperations >= 1);
  } else {
    assertScimError(bulk, 501);
  }

  const c = await newConnection(server, 'Sorting');
  for (const name of ['carol', 'alice', 'bob']) await createUser(c, `${name}@example.com`);
  const sorted = await scim(c, 'GET', '/Users?sortBy=userName&sortOrder=descending');
  if (cfg.sort.supported) {
    assert.equal(sorted.status, 200, sorted.text);
    assert.deepEqual(sorted.json.Resources.map((u) => u.userName), ['carol@example.com', 'bob@example.com', 'alice@example.com']);
  } else {
    // RFC 7644 §3.4.2.3: a provider that does not support sorting ignores the request or refuses it.
    assert.ok(sorted.status === 200 || sorted.status === 400, sorted.text);
  }
});

test('ResourceTypes lists User at /Users with the enterprise extension', async () => {
  const list = await getJson('/ResourceTypes');
  assert.deepEqual(list.schemas, [LIST_RESPONSE]);
  assert.ok(Array.isArray(list.Resources));
  assert.equal(list.totalResults, list.Resources.length);
  assert.equal(list.itemsPerPage, list.Resources.length);
  const user = list.Resources.find((r) => r.id === 'User');
  assert.ok(user, JSON.stringify(list.Resources.map((r) => r.id)));
  assert.deepEqual(user.schemas, [RESOURCE_TYPE_SCHEMA]);
  assert.equal(user.name, 'User');
  assert.equal(user.endpoint, '/Users');
  assert.equal(user.schema, USER_SCHEMA);
  assert.deepEqual(user.schemaExtensions, [{ schema: ENTERPRISE, required: false }]);
  assert.equal(user.meta.resourceType, 'ResourceType');
  assert.equal(user.meta.location, `${conn.base}/ResourceTypes/User`);

  for (const rt of list.Resources) {
    assert.deepEqual(rt.schemas, [RESOURCE_TYPE_SCHEMA]);
    assert.equal(typeof rt.endpoint, 'string');
    // Every resource type listed is served at its endpoint.
    const res = await scim(conn, 'GET', `${rt.endpoint}?count=1`);
    assert.equal(res.status, 200, `${rt.endpoint}: ${res.text}`);
    assert.deepEqual(res.json.schemas, [LIST_RESPONSE]);
    // And its schemas are published.
    assert.equal((await scim(conn, 'GET', `/Schemas/${rt.schema}`)).status, 200, rt.schema);
  }

  assert.deepEqual(await getJson('/ResourceTypes/User'), user);
  assertScimError(await scim(conn, 'GET', '/ResourceTypes/Printer'), 404);
});

test('Schemas lists User and EnterpriseUser with RFC 7643 characteristics', async () => {
  const list = await getJson('/Schemas');
  assert.deepEqual(list.schemas, [LIST_RESPONSE]);
  assert.equal(list.totalResults, list.Resources.length);
  const ids = list.Resources.map((s) => s.id);
  assert.ok(ids.includes(USER_SCHEMA), ids.join());
  assert.ok(ids.includes(ENTERPRISE), ids.join());
  for (const s of list.Resources) {
    assert.deepEqual(s.schemas, [SCHEMA_SCHEMA]);
    assert.equal(typeof s.name, 'string');
    assert.ok(Array.isArray(s.attributes) && s.attributes.length > 0);
    assertCharacteristics(s.attributes, s.id);
    assert.equal(s.meta.resourceType, 'Schema');
    assert.equal(s.meta.location, `${conn.base}/Schemas/${s.id}`);
  }

  const user = list.Resources.find((s) => s.id === USER_SCHEMA);
  assert.equal(user.name, 'User');
  const userName = attr(user, 'userName');
  assert.deepEqual(
    { type: userName.type, multiValued: userName.multiValued, required: userName.required, caseExact: userName.caseExact, mutability: userName.mutability, returned: userName.returned, uniqueness: userName.uniqueness },
    { type: 'string', multiValued: false, required: true, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'server' },
  );
  const password = attr(user, 'password');
  assert.equal(password.mutability, 'writeOnly');
  assert.equal(password.returned, 'never');
  // Common attributes belong to no schema (RFC 7643 §3.1, §7).
  for (const common of ['id', 'externalId', 'meta', 'schemas']) assert.equal(attr(user, common), undefined, `${common} listed`);
  const emails = attr(user, 'emails');
  assert.equal(emails.type, 'complex');
  assert.equal(emails.multiValued, true);
  assert.deepEqual(emails.subAttributes.map((a) => a.name).sort(), ['display', 'primary', 'type', 'value'].sort());
  assert.equal(attr(user, 'active').type, 'boolean');
  const groups = attr(user, 'groups');
  assert.equal(groups.mutability, 'readOnly');
  assert.equal(groups.multiValued, true);
  const name = attr(user, 'name');
  assert.deepEqual(name.subAttributes.map((a) => a.name).sort(), ['familyName', 'formatted', 'givenName', 'honorificPrefix', 'honorificSuffix', 'middleName']);
  for (const expected of ['userName', 'name', 'displayName', 'nickName', 'profileUrl', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'active', 'password', 'emails', 'phoneNumbers', 'ims', 'photos', 'addresses', 'groups', 'entitlements', 'roles', 'x509Certificates']) {
    assert.ok(attr(user, expected), `User schema lacks ${expected}`);
  }

  const enterprise = list.Resources.find((s) => s.id === ENTERPRISE);
  assert.equal(enterprise.name, 'EnterpriseUser');
  assert.deepEqual(enterprise.attributes.map((a) => a.name).sort(), ['costCenter', 'department', 'division', 'employeeNumber', 'manager', 'organization']);
  const manager = attr(enterprise, 'manager');
  assert.equal(manager.type, 'complex');
  assert.deepEqual(manager.subAttributes.map((a) => a.name).sort(), ['$ref', 'displayName', 'value']);
  assert.equal(manager.subAttributes.find((a) => a.name === 'displayName').mutability, 'readOnly');
});

test('GET /Schemas/{urn} returns that schema; an unknown one is 404', async () => {
  const list = await getJson('/Schemas');
  for (const urn of [USER_SCHEMA, ENTERPRISE]) {
    const one = await getJson(`/Schemas/${urn}`);
    assert.deepEqual(one, list.Resources.find((s) => s.id === urn));
  }
  assertScimError(await scim(conn, 'GET', '/Schemas/urn:ietf:params:scim:schemas:core:2.0:Printer'), 404);
  assertScimError(await scim(conn, 'GET', '/Schemas/nonsense'), 404);
});

test('discovery endpoints require a valid token (401 without one)', async () => {
  for (const path of ['/ServiceProviderConfig', '/ResourceTypes', '/ResourceTypes/User', '/Schemas', `/Schemas/${USER_SCHEMA}`]) {
    for (const token of [null, 'scim_wrong']) {
      const res = await scim(conn, 'GET', path, undefined, {}, token);
      assertScimError(res, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  }
});
