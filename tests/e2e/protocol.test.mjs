// RFC 7644 protocol details across Users and Groups, end to end: ETags and conditional requests
// (§3.14), sorting and paging (§3.4.2.3, §3.4.2.4), projection (§3.9), root search over every
// resource type (§3.4.3), 405 with Allow, and filters (§3.4.2.2) including errors with a position.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorker, newConnection, scim, assertScimError, createUser, createGroup, bulkCreateUsers, patchOp, sleep,
  USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE, LIST_RESPONSE, SEARCH_REQUEST,
} from './harness.mjs';

let server;
let conn;
before(async () => {
  server = await startWorker();
  conn = await newConnection(server, 'Protocol e2e');
});
after(async () => { await server?.stop(); });

let seq = 0;
const uniq = (stem) => `${stem}-${Date.now().toString(36)}-${(seq += 1)}`;
const uname = (stem = 'p') => `${uniq(stem)}@protocol.example`;
const enc = encodeURIComponent;
const q = (filter) => `filter=${enc(filter)}`;

async function getOk(c, path, headers) {
  const res = await scim(c, 'GET', path, undefined, headers);
  assert.equal(res.status, 200, `GET ${path}: ${res.text}`);
  return res;
}

// ---------------------------------------------------------------------------------------------
// ETags (RFC 7644 §3.14)

test('RFC 7644 §3.14 the ETag header equals meta.version on every User response (POST, GET, PUT, PATCH)', async () => {
  const created = await scim(conn, 'POST', '/Users', { schemas: [USER_SCHEMA], userName: uname('etag') });
  assert.equal(created.status, 201, created.text);
  const seen = [created];
  const id = created.json.id;
  seen.push(await getOk(conn, `/Users/${id}`));
  seen.push(await scim(conn, 'PUT', `/Users/${id}`, { schemas: [USER_SCHEMA], userName: created.json.userName, title: 'PUT' }));
  seen.push(await scim(conn, 'PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'PATCH' })));
  seen.push(await getOk(conn, `/Users/${id}`));
  assert.deepEqual(seen.map((r) => r.status), [201, 200, 200, 200, 200]);
  assert.deepEqual(seen.map((r) => r.headers.get('etag')), ['W/"1"', 'W/"1"', 'W/"2"', 'W/"3"', 'W/"3"']);
  for (const r of seen) assert.equal(r.headers.get('etag'), r.json.meta.version, r.text);
});

test('RFC 7644 §3.14 the ETag header equals meta.version on every Group response (POST, GET, PUT, PATCH)', async () => {
  const u = await createUser(conn, uname('gm'));
  const created = await scim(conn, 'POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: uniq('Etag group') });
  assert.equal(created.status, 201, created.text);
  const { id, displayName } = created.json;
  const seen = [created];
  seen.push(await getOk(conn, `/Groups/${id}`));
  seen.push(await scim(conn, 'PUT', `/Groups/${id}`, { schemas: [GROUP_SCHEMA], displayName, members: [{ value: u.id }] }));
  seen.push(await scim(conn, 'PATCH', `/Groups/${id}`, patchOp({ op: 'remove', path: 'members' })));
  seen.push(await getOk(conn, `/Groups/${id}?excludedAttributes=members`));
  assert.deepEqual(seen.map((r) => r.status), [201, 200, 200, 200, 200]);
  assert.deepEqual(seen.map((r) => r.headers.get('etag')), ['W/"1"', 'W/"1"', 'W/"2"', 'W/"3"', 'W/"3"']);
  for (const r of seen) assert.equal(r.headers.get('etag'), r.json.meta.version, r.text);
  const spc = (await getOk(conn, '/ServiceProviderConfig')).json;
  assert.equal(spc.etag.supported, true);
});

for (const kind of ['Users', 'Groups']) {
  test(`RFC 7644 §3.14 If-Match on /${kind}: stale → 412 on PUT/PATCH/DELETE and nothing changed; current, * and a list containing it → success`, async () => {
    const create = async () => (kind === 'Users'
      ? createUser(conn, uname('im'), { displayName: 'Original' })
      : createGroup(conn, uniq('IfMatch')));
    const putBody = (r, extra) => (kind === 'Users'
      ? { schemas: [USER_SCHEMA], userName: r.userName, displayName: extra }
      : { schemas: [GROUP_SCHEMA], displayName: `${r.displayName} ${extra}` });
    const patchBody = (r, extra) => patchOp({ op: 'replace', path: 'displayName', value: kind === 'Users' ? extra : `${r.displayName} ${extra}` });

    const r = await create();
    const path = `/${kind}/${r.id}`;
    const v2 = await scim(conn, 'PATCH', path, patchBody(r, 'v2'));
    assert.equal(v2.status, 200, v2.text);
    assert.equal(v2.headers.get('etag'), 'W/"2"');
    const before = (await getOk(conn, path)).json;

    for (const stale of ['W/"1"', 'W/"3"', '"bogus"']) {
      const h = { 'if-match': stale };
      assertScimError(await scim(conn, 'PUT', path, putBody(r, 'stale put'), h), 412, undefined, `PUT If-Match ${stale}`);
      assertScimError(await scim(conn, 'PATCH', path, patchBody(r, 'stale patch'), h), 412, undefined, `PATCH If-Match ${stale}`);
      assertScimError(await scim(conn, 'DELETE', path, undefined, h), 412, undefined, `DELETE If-Match ${stale}`);
    }
    assert.deepEqual((await getOk(conn, path)).json, before, 'nothing changed');

    const put = await scim(conn, 'PUT', path, putBody(r, 'v3'), { 'if-match': 'W/"2"' });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.headers.get('etag'), 'W/"3"');
    const patch = await scim(conn, 'PATCH', path, patchBody(r, 'v4'), { 'if-match': 'W/"9", W/"3"' });
    assert.equal(patch.status, 200, patch.text);
    assert.equal(patch.headers.get('etag'), 'W/"4"');
    const star = await scim(conn, 'PATCH', path, patchBody(r, 'v5'), { 'if-match': '*' });
    assert.equal(star.status, 200, star.text);
    assert.equal(star.headers.get('etag'), 'W/"5"');
    const del = await scim(conn, 'DELETE', path, undefined, { 'if-match': 'W/"5"' });
    assert.equal(del.status, 204, del.text);
    assertScimError(await scim(conn, 'GET', path), 404);
  });

  test(`RFC 7644 §3.14 / RFC 7232 §3.2 If-None-Match on GET /${kind}/{id}: current → 304 with no body and the ETag; stale → 200`, async () => {
    const r = kind === 'Users' ? await createUser(conn, uname('inm')) : await createGroup(conn, uniq('INM'));
    const path = `/${kind}/${r.id}`;
    for (const tag of ['W/"1"', 'W/"0", W/"1"', '*']) {
      const res = await scim(conn, 'GET', path, undefined, { 'if-none-match': tag });
      assert.equal(res.status, 304, `If-None-Match ${tag}: ${res.text}`);
      assert.equal(res.text, '', `a 304 has no body (If-None-Match ${tag})`);
      assert.equal(res.headers.get('etag'), 'W/"1"');
    }
    const stale = await scim(conn, 'GET', path, undefined, { 'if-none-match': 'W/"0"' });
    assert.equal(stale.status, 200, stale.text);
    assert.deepEqual(stale.json, r);
    // After a change the old tag no longer matches.
    const change = kind === 'Users'
      ? patchOp({ op: 'replace', path: 'title', value: 'changed' })
      : patchOp({ op: 'replace', path: 'displayName', value: `${r.displayName} changed` });
    assert.equal((await scim(conn, 'PATCH', path, change)).status, 200);
    const after = await scim(conn, 'GET', path, undefined, { 'if-none-match': 'W/"1"' });
    assert.equal(after.status, 200, after.text);
    assert.equal(after.headers.get('etag'), 'W/"2"');
  });
}

test('RFC 7232 §2.3.2 If-None-Match uses the weak comparison: "1" matches W/"1" → 304', async () => {
  const u = await createUser(conn, uname('weak'));
  const res = await scim(conn, 'GET', `/Users/${u.id}`, undefined, { 'if-none-match': '"1"' });
  assert.equal(res.status, 304, `If-None-Match "1" against ETag W/"1": ${res.status} ${res.text.slice(0, 200)}`);
  assert.equal(res.text, '');
});

test('RFC 7644 §3.5.2 a PATCH that changes nothing keeps meta.version and meta.lastModified (Users and Groups)', async () => {
  const u = await createUser(conn, uname('noop'), {
    displayName: 'Same', active: true, emails: [{ value: 'same@protocol.example', type: 'work' }],
  });
  await sleep(20);
  const noops = [
    [{ op: 'replace', path: 'displayName', value: 'Same' }],
    [{ op: 'replace', value: { displayName: 'Same', active: true } }],
    [{ op: 'Replace', path: 'active', value: 'True' }],
    [{ op: 'add', path: 'emails', value: [{ value: 'same@protocol.example', type: 'work' }] }],
    [{ op: 'remove', path: 'title' }],
  ];
  for (const ops of noops) {
    const res = await scim(conn, 'PATCH', `/Users/${u.id}`, patchOp(...ops));
    assert.equal(res.status, 200, `${JSON.stringify(ops)}: ${res.text}`);
    assert.equal(res.json.meta.version, 'W/"1"', JSON.stringify(ops));
    assert.equal(res.headers.get('etag'), 'W/"1"', JSON.stringify(ops));
    assert.equal(res.json.meta.lastModified, u.meta.lastModified, JSON.stringify(ops));
  }
  assert.deepEqual((await getOk(conn, `/Users/${u.id}`)).json, u);

  const member = await createUser(conn, uname('noop-member'));
  const g = await createGroup(conn, uniq('Noop'), [member.id]);
  await sleep(20);
  const groupNoops = [
    [{ op: 'replace', path: 'displayName', value: g.displayName }],
    [{ op: 'add', path: 'members', value: [{ value: member.id }] }],
    [{ op: 'remove', path: 'members[value eq "00000000-0000-4000-8000-000000000000"]' }],
    [{ op: 'replace', path: 'members', value: [{ value: member.id }] }],
  ];
  for (const ops of groupNoops) {
    const res = await scim(conn, 'PATCH', `/Groups/${g.id}`, patchOp(...ops));
    assert.equal(res.status, 200, `${JSON.stringify(ops)}: ${res.text}`);
    assert.equal(res.json.meta.version, 'W/"1"', JSON.stringify(ops));
    assert.equal(res.json.meta.lastModified, g.meta.lastModified, JSON.stringify(ops));
  }
  assert.deepEqual((await getOk(conn, `/Groups/${g.id}`)).json, g);
});

// ---------------------------------------------------------------------------------------------
// Sorting and paging (RFC 7644 §3.4.2.3, §3.4.2.4)

let sorting;
const SORT_USERS = [
  ['alice@s.example', { name: { familyName: 'adams' }, emails: [{ value: 'm@s.example', primary: true }] }],
  ['Bob@s.example', { name: { familyName: 'Baker' }, emails: [{ value: 'z@s.example' }, { value: 'b@s.example', primary: true }] }],
  ['carol@s.example', { name: { familyName: 'carter' }, emails: [{ value: 'a2@s.example' }, { value: 'y@s.example' }] }],
  ['dave@s.example', {}],
  ['Eve@s.example', { name: { familyName: 'Evans' } }],
  ['frank@s.example', { emails: [{ value: 'c@s.example', primary: true }] }],
];
async function sortingConn() {
  if (!sorting) {
    sorting = await newConnection(server, 'Sorting');
    for (const [userName, extra] of SORT_USERS) await createUser(sorting, userName, extra);
  }
  return sorting;
}
const short = (r) => r.json.Resources.map((u) => u.userName.split('@')[0]);

test('RFC 7644 §3.4.2.3 sortBy=userName ascending and descending, case-insensitively (userName is not caseExact)', async () => {
  const c = await sortingConn();
  const asc = ['alice', 'Bob', 'carol', 'dave', 'Eve', 'frank'];
  assert.deepEqual(short(await getOk(c, '/Users?sortBy=userName')), asc);
  assert.deepEqual(short(await getOk(c, '/Users?sortBy=userName&sortOrder=ascending')), asc);
  assert.deepEqual(short(await getOk(c, '/Users?sortBy=userName&sortOrder=descending')), [...asc].reverse());
  assert.deepEqual(short(await getOk(c, `/Users?sortBy=${enc(`${USER_SCHEMA}:userName`)}&sortOrder=descending`)), [...asc].reverse(),
    'a URN-qualified sortBy');
  assert.deepEqual(short(await getOk(c, '/Users?sortby=USERNAME&sortorder=descending')), [...asc].reverse(),
    'parameter and attribute names are case-insensitive');
});

test('RFC 7644 §3.4.2.3 sortBy=name.familyName: missing values last ascending, first descending', async () => {
  const c = await sortingConn();
  const asc = short(await getOk(c, '/Users?sortBy=name.familyName'));
  assert.deepEqual(asc.slice(0, 4), ['alice', 'Bob', 'carol', 'Eve']);
  assert.deepEqual(asc.slice(4).sort(), ['dave', 'frank']);
  const desc = short(await getOk(c, '/Users?sortBy=name.familyName&sortOrder=descending'));
  assert.deepEqual(desc.slice(0, 2).sort(), ['dave', 'frank']);
  assert.deepEqual(desc.slice(2), ['Eve', 'carol', 'Bob', 'alice']);
});

test('RFC 7644 §3.4.2.3 sortBy=emails sorts by the primary value, else the first value; missing last', async () => {
  const c = await sortingConn();
  // carol: a2 (first, no primary) < Bob: b (primary) < frank: c < alice: m; dave and Eve have none.
  for (const sortBy of ['emails', 'emails.value']) {
    const asc = short(await getOk(c, `/Users?sortBy=${sortBy}`));
    assert.deepEqual(asc.slice(0, 4), ['carol', 'Bob', 'frank', 'alice'], sortBy);
    assert.deepEqual(asc.slice(4).sort(), ['Eve', 'dave'], sortBy);
    const desc = short(await getOk(c, `/Users?sortBy=${sortBy}&sortOrder=descending`));
    assert.deepEqual(desc.slice(0, 2).sort(), ['Eve', 'dave'], sortBy);
    assert.deepEqual(desc.slice(2), ['alice', 'frank', 'Bob', 'carol'], sortBy);
  }
});

test('RFC 7644 §3.4.2.4 paging over a sorted list is consistent: pages concatenate to the full order, totalResults fixed', async () => {
  const c = await sortingConn();
  for (const [sortBy, sortOrder] of [['userName', 'ascending'], ['name.familyName', 'ascending'], ['emails', 'descending'], ['name.familyName', 'descending']]) {
    const full = (await getOk(c, `/Users?sortBy=${sortBy}&sortOrder=${sortOrder}`)).json;
    assert.equal(full.totalResults, 6);
    const ids = full.Resources.map((r) => r.id);
    for (const size of [1, 2, 4]) {
      const paged = [];
      for (let start = 1; start <= 6; start += size) {
        const page = (await getOk(c, `/Users?sortBy=${sortBy}&sortOrder=${sortOrder}&startIndex=${start}&count=${size}`)).json;
        assert.deepEqual(page.schemas, [LIST_RESPONSE]);
        assert.equal(page.totalResults, 6);
        assert.equal(page.startIndex, start);
        assert.equal(page.itemsPerPage, page.Resources.length);
        assert.equal(page.Resources.length, Math.min(size, 7 - start));
        paged.push(...page.Resources.map((r) => r.id));
      }
      assert.deepEqual(paged, ids, `${sortBy} ${sortOrder} in pages of ${size}`);
    }
  }
  const beyond = (await getOk(c, '/Users?sortBy=userName&startIndex=7&count=2')).json;
  assert.deepEqual([beyond.totalResults, beyond.Resources, beyond.startIndex], [6, [], 7]);
  const countZero = (await getOk(c, '/Users?sortBy=userName&count=0')).json;
  assert.deepEqual([countZero.totalResults, countZero.itemsPerPage, countZero.Resources ?? []], [6, 0, []]);
});

test('RFC 7644 §3.4.3 sorting and paging in a POST /Users/.search body, and sortBy on Groups', async () => {
  const c = await sortingConn();
  const res = await scim(c, 'POST', '/Users/.search', {
    schemas: [SEARCH_REQUEST], sortBy: 'userName', sortOrder: 'descending', startIndex: 2, count: 3, filter: 'userName ew "s.example"',
  });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(short(res), ['Eve', 'dave', 'carol']);
  assert.equal(res.json.totalResults, 6);

  for (const name of ['beta', 'Alpha', 'gamma']) await createGroup(c, name);
  const groups = await getOk(c, '/Groups?sortBy=displayName');
  assert.deepEqual(groups.json.Resources.map((g) => g.displayName), ['Alpha', 'beta', 'gamma']);
  const desc = await getOk(c, '/Groups?sortBy=displayName&sortOrder=descending&count=2');
  assert.deepEqual(desc.json.Resources.map((g) => g.displayName), ['gamma', 'beta']);
  assertScimError(await scim(c, 'GET', '/Users?sortBy=userName&sortOrder=sideways'), 400, 'invalidValue');
});

// ---------------------------------------------------------------------------------------------
// Projection (RFC 7644 §3.9)

/** Keys a projected User may carry besides the ones asked for. */
const ENVELOPE = ['id', 'schemas', 'meta'];
function assertOnly(resource, allowed, context) {
  for (const key of Object.keys(resource)) {
    assert.ok([...ENVELOPE, ...allowed].includes(key), `${context}: unexpected ${key} in ${JSON.stringify(resource)}`);
  }
  for (const key of allowed) assert.ok(key in resource, `${context}: ${key} missing in ${JSON.stringify(resource)}`);
}

let projected;
async function projectedUser() {
  if (!projected) {
    projected = await createUser(conn, uname('proj'), {
      displayName: 'Pro Jection', title: 'Lens', name: { givenName: 'Pro', familyName: 'Jection' },
      emails: [{ value: 'proj@work.example', type: 'work', primary: true }, { value: 'proj@home.example', type: 'home' }],
      [ENTERPRISE]: { department: 'Optics', costCenter: 'CC1' },
    });
  }
  return projected;
}

test('RFC 7644 §3.9 attributes on GET /Users/{id}: only those (sub-attributes too), id always; names case-insensitive and URN-qualified', async () => {
  const u = await projectedUser();
  let res = await getOk(conn, `/Users/${u.id}?attributes=userName,emails.value`);
  assertOnly(res.json, ['userName', 'emails'], 'attributes=userName,emails.value');
  assert.equal(res.json.id, u.id);
  assert.deepEqual(res.json.emails, [{ value: 'proj@work.example' }, { value: 'proj@home.example' }]);
  assert.equal(res.headers.get('etag'), 'W/"1"', 'projection does not change the ETag');

  res = await getOk(conn, `/Users/${u.id}?attributes=DISPLAYNAME`);
  assertOnly(res.json, ['displayName'], 'attributes=DISPLAYNAME');
  res = await getOk(conn, `/Users/${u.id}?attributes=${enc(`${USER_SCHEMA}:title,${ENTERPRISE}:department`)}`);
  assertOnly(res.json, ['title', ENTERPRISE], 'URN-qualified attributes');
  assert.deepEqual(res.json[ENTERPRISE], { department: 'Optics' });
  res = await getOk(conn, `/Users/${u.id}?attributes=title`);
  assert.equal(res.json.id, u.id);
  assertOnly(res.json, ['title'], 'attributes=title');
});

test('RFC 7644 §3.9 excludedAttributes on GET by id and list; id is returned even when excluded', async () => {
  const u = await projectedUser();
  let res = await getOk(conn, `/Users/${u.id}?excludedAttributes=emails,name,${enc(ENTERPRISE)},id`);
  assert.equal(res.json.id, u.id);
  for (const gone of ['emails', 'name', ENTERPRISE]) assert.equal(res.json[gone], undefined, gone);
  assert.equal(res.json.userName, u.userName);
  assert.equal(res.json.title, 'Lens');
  res = await getOk(conn, `/Users/${u.id}?excludedAttributes=name.givenName,emails.type`);
  assert.deepEqual(res.json.name, { familyName: 'Jection' });
  assert.deepEqual(res.json.emails, [{ value: 'proj@work.example', primary: true }, { value: 'proj@home.example' }]);

  res = await getOk(conn, `/Users?${q(`userName eq "${u.userName}"`)}&excludedAttributes=emails,title`);
  assert.equal(res.json.Resources.length, 1);
  assert.equal(res.json.Resources[0].id, u.id);
  assert.equal(res.json.Resources[0].emails, undefined);
  assert.equal(res.json.Resources[0].title, undefined);
  assert.equal(res.json.Resources[0].displayName, 'Pro Jection');
  res = await getOk(conn, `/Users?${q(`userName eq "${u.userName}"`)}&attributes=userName`);
  assertOnly(res.json.Resources[0], ['userName'], 'list attributes=userName');
});

test('RFC 7644 §3.9 attributes/excludedAttributes on POST, PUT and PATCH responses (the resource itself is unchanged)', async () => {
  const userName = uname('projw');
  const created = await scim(conn, 'POST', '/Users?attributes=userName', {
    schemas: [USER_SCHEMA], userName, title: 'T', displayName: 'D',
  });
  assert.equal(created.status, 201, created.text);
  assertOnly(created.json, ['userName'], 'POST ?attributes=userName');
  assert.ok(created.json.id);
  assert.equal(created.headers.get('location'), `${conn.base}/Users/${created.json.id}`);
  assert.equal(created.headers.get('etag'), 'W/"1"');
  const path = `/Users/${created.json.id}`;

  const put = await scim(conn, 'PUT', `${path}?excludedAttributes=title`, { schemas: [USER_SCHEMA], userName, title: 'T2', displayName: 'D2' });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.json.title, undefined);
  assert.equal(put.json.displayName, 'D2');
  assert.equal(put.headers.get('etag'), 'W/"2"');

  const patch = await scim(conn, 'PATCH', `${path}?attributes=title`, patchOp({ op: 'replace', path: 'title', value: 'T3' }));
  assert.equal(patch.status, 200, patch.text);
  assertOnly(patch.json, ['title'], 'PATCH ?attributes=title');
  assert.equal(patch.json.title, 'T3');

  const full = (await getOk(conn, path)).json;
  assert.deepEqual([full.title, full.displayName, full.userName], ['T3', 'D2', userName]);

  const g = await scim(conn, 'POST', '/Groups?attributes=displayName', { schemas: [GROUP_SCHEMA], displayName: uniq('Projected'), members: [{ value: created.json.id }] });
  assert.equal(g.status, 201, g.text);
  assertOnly(g.json, ['displayName'], 'POST /Groups ?attributes=displayName');
  const gPut = await scim(conn, 'PUT', `/Groups/${g.json.id}?excludedAttributes=members`, { schemas: [GROUP_SCHEMA], displayName: g.json.displayName, members: [{ value: created.json.id }] });
  assert.equal(gPut.status, 200, gPut.text);
  assert.equal(gPut.json.members, undefined);
  assert.deepEqual((await getOk(conn, `/Groups/${g.json.id}`)).json.members.map((m) => m.value), [created.json.id]);
});

test('RFC 7644 §3.4.3 .search bodies take attributes and excludedAttributes as arrays', async () => {
  const u = await projectedUser();
  let res = await scim(conn, 'POST', '/Users/.search', {
    schemas: [SEARCH_REQUEST], filter: `userName eq "${u.userName}"`, attributes: ['userName', 'name.givenName'],
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.Resources.length, 1);
  assertOnly(res.json.Resources[0], ['userName', 'name'], '.search attributes');
  assert.deepEqual(res.json.Resources[0].name, { givenName: 'Pro' });
  res = await scim(conn, 'POST', '/Users/.search', {
    schemas: [SEARCH_REQUEST], filter: `userName eq "${u.userName}"`, excludedAttributes: ['emails', 'title', ENTERPRISE],
  });
  assert.equal(res.status, 200, res.text);
  const r = res.json.Resources[0];
  assert.equal(r.id, u.id);
  for (const gone of ['emails', 'title', ENTERPRISE]) assert.equal(r[gone], undefined, gone);
  assert.equal(r.displayName, 'Pro Jection');
});

test('RFC 7644 §3.9 an unknown attribute name in attributes/excludedAttributes → 400 invalidValue (and a POST creates nothing)', async () => {
  const u = await projectedUser();
  assertScimError(await scim(conn, 'GET', `/Users/${u.id}?attributes=shoeSize`), 400, 'invalidValue', 'GET by id');
  assertScimError(await scim(conn, 'GET', '/Users?excludedAttributes=shoeSize'), 400, 'invalidValue', 'list');
  assertScimError(await scim(conn, 'GET', '/Groups?attributes=userName'), 400, 'invalidValue', 'a User attribute on Groups');
  assertScimError(await scim(conn, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], attributes: ['shoeSize'] }), 400, 'invalidValue', '.search');
  const userName = uname('never');
  assertScimError(await scim(conn, 'POST', '/Users?attributes=shoeSize', { schemas: [USER_SCHEMA], userName }), 400, 'invalidValue', 'POST');
  const list = await getOk(conn, `/Users?${q(`userName eq "${userName}"`)}`);
  assert.equal(list.json.totalResults, 0, 'the refused POST created nothing');
});

// ---------------------------------------------------------------------------------------------
// Root search (RFC 7644 §3.4.3)

test('RFC 7644 §3.4.3 POST /.search at the root returns Users and Groups together, totalResults = users + groups, paged across both', async () => {
  const c = await newConnection(server, 'Root search');
  const users = [];
  for (const n of ['r1', 'r2', 'r3']) users.push(await createUser(c, `${n}@root.example`, { displayName: `Root ${n}` }));
  const groups = [await createGroup(c, 'Root Group A', [users[0].id]), await createGroup(c, 'Other Group B')];
  const all = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST] });
  assert.equal(all.status, 200, all.text);
  assert.deepEqual(all.json.schemas, [LIST_RESPONSE]);
  assert.equal(all.json.totalResults, 5);
  assert.equal(all.json.itemsPerPage, 5);
  const allIds = all.json.Resources.map((r) => r.id);
  assert.deepEqual([...allIds].sort(), [...users, ...groups].map((r) => r.id).sort());
  const types = Object.fromEntries(all.json.Resources.map((r) => [r.id, r.meta.resourceType]));
  for (const u of users) assert.equal(types[u.id], 'User');
  for (const g of groups) assert.equal(types[g.id], 'Group');

  for (const size of [1, 2, 3]) {
    const paged = [];
    for (let start = 1; start <= 5; start += size) {
      const page = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], startIndex: start, count: size });
      assert.equal(page.status, 200, page.text);
      assert.equal(page.json.totalResults, 5);
      assert.equal(page.json.startIndex, start);
      assert.equal(page.json.Resources.length, Math.min(size, 6 - start));
      paged.push(...page.json.Resources.map((r) => r.id));
    }
    assert.deepEqual(paged, allIds, `pages of ${size}`);
  }

  const named = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: 'displayName sw "root"' });
  assert.equal(named.status, 200, named.text);
  assert.deepEqual(named.json.Resources.map((r) => r.id).sort(), [...users.map((u) => u.id), groups[0].id].sort());
  assert.equal(named.json.totalResults, 4);

  const onlyGroups = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: 'meta.resourceType eq "Group"', excludedAttributes: ['members'] });
  assert.equal(onlyGroups.status, 200, onlyGroups.text);
  assert.deepEqual(onlyGroups.json.Resources.map((r) => r.id).sort(), groups.map((g) => g.id).sort());
  for (const g of onlyGroups.json.Resources) assert.equal(g.members, undefined);

  const projectedAll = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], attributes: ['displayName'] });
  assert.equal(projectedAll.status, 200, projectedAll.text);
  for (const r of projectedAll.json.Resources) assertOnly(r, ['displayName'], 'root .search attributes');

  // A token that may read only Users searches only Users.
  const limited = await newConnection(server, 'Root search users only', { scopes: ['read:users', 'write:users'] });
  await createUser(limited, 'lonely@root.example');
  const usersOnly = await scim(limited, 'POST', '/.search', { schemas: [SEARCH_REQUEST] });
  assert.equal(usersOnly.status, 200, usersOnly.text);
  assert.equal(usersOnly.json.totalResults, 1);
  assertScimError(await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], filter: 'displayName eq' }), 400, 'invalidFilter');
});

test('RFC 7644 §3.4.3 + §3.4.2.3 sortBy on a root POST /.search orders Users and Groups together, not type by type', async () => {
  const c = await newConnection(server, 'Root search sorted');
  await createUser(c, 'u1@rootsort.example', { displayName: 'Delta' });
  await createUser(c, 'u2@rootsort.example', { displayName: 'beta' });
  await createGroup(c, 'Alpha');
  await createGroup(c, 'charlie');
  const names = async (body) => {
    const res = await scim(c, 'POST', '/.search', { schemas: [SEARCH_REQUEST], attributes: ['displayName'], ...body });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.totalResults, 4);
    return res.json.Resources.map((r) => r.displayName);
  };
  assert.deepEqual(await names({ sortBy: 'displayName' }), ['Alpha', 'beta', 'charlie', 'Delta']);
  assert.deepEqual(await names({ sortBy: 'displayName', sortOrder: 'descending' }), ['Delta', 'charlie', 'beta', 'Alpha']);
  assert.deepEqual(await names({ sortBy: 'displayName', startIndex: 2, count: 2 }), ['beta', 'charlie'], 'a sorted page spans both types');
});

test('RFC 7644 §3.4.2.4 count is capped at filter.maxResults (200) as advertised; itemsPerPage says how many came back', async () => {
  const c = await newConnection(server, 'Paging cap');
  await bulkCreateUsers(c, 230, 'cap', 'cap.example');
  const spc = (await getOk(c, '/ServiceProviderConfig')).json;
  assert.deepEqual(spc.filter, { supported: true, maxResults: 200 });
  const big = (await getOk(c, '/Users?count=1000&attributes=userName')).json;
  assert.equal(big.totalResults, 230);
  assert.equal(big.Resources.length, 200);
  assert.equal(big.itemsPerPage, 200);
  const dflt = (await getOk(c, '/Users?attributes=userName')).json;
  assert.equal(dflt.Resources.length, 200, 'no count means maxResults');
  const rest = (await getOk(c, '/Users?startIndex=201&count=100&attributes=userName')).json;
  assert.equal(rest.Resources.length, 30);
  assert.equal(rest.itemsPerPage, 30);
  assert.equal(rest.startIndex, 201);
  const seen = new Set([...big.Resources, ...rest.Resources].map((r) => r.id));
  assert.equal(seen.size, 230, 'the two pages cover every user once');
  const odd = (await getOk(c, '/Users?startIndex=0&count=-5')).json;
  assert.deepEqual([odd.startIndex, odd.itemsPerPage, odd.totalResults, odd.Resources], [1, 0, 230, []],
    'startIndex < 1 means 1, count < 0 means 0 (§3.4.2.4)');
});

// ---------------------------------------------------------------------------------------------
// 405 Method Not Allowed with Allow (RFC 9110 §15.5.6)

test('405 with an Allow header: writes on discovery endpoints, DELETE/PUT/PATCH on /Users and /Groups, GET on /Bulk and /.search', async () => {
  const u = await createUser(conn, uname('allow'));
  const cases = [];
  for (const path of ['/ServiceProviderConfig', '/ResourceTypes', '/Schemas', '/ResourceTypes/User', `/Schemas/${USER_SCHEMA}`]) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) cases.push([method, path, 'GET']);
  }
  for (const method of ['DELETE', 'PUT', 'PATCH']) {
    cases.push([method, '/Users', 'GET, POST']);
    cases.push([method, '/Groups', 'GET, POST']);
  }
  cases.push(['POST', `/Users/${u.id}`, 'GET, PUT, PATCH, DELETE']);
  cases.push(['GET', '/Bulk', 'POST'], ['PUT', '/Bulk', 'POST'], ['DELETE', '/Bulk', 'POST']);
  cases.push(['GET', '/.search', 'POST'], ['GET', '/Users/.search', 'POST'], ['GET', '/Groups/.search', 'POST']);
  for (const [method, path, allow] of cases) {
    const body = ['GET', 'DELETE'].includes(method) ? undefined : {};
    const res = await scim(conn, method, path, body);
    assertScimError(res, 405, undefined, `${method} ${path}`);
    assert.equal(res.headers.get('allow'), allow, `${method} ${path}`);
  }
  assert.equal((await getOk(conn, `/Users/${u.id}`)).json.userName, u.userName, 'the refused calls changed nothing');
});

// ---------------------------------------------------------------------------------------------
// Filters (RFC 7644 §3.4.2.2)

test('RFC 7644 §3.4.2.2 filters end to end: co, sw, ew, pr, ne, and/or/not with precedence, value paths, URN-qualified attributes, case-insensitive operators', async () => {
  const c = await newConnection(server, 'Filters');
  const ann = await createUser(c, 'ann.lee@corp.example', {
    title: 'Engineer', active: true, name: { givenName: 'Ann', familyName: 'Lee' },
    emails: [{ value: 'ann@corp.example', type: 'work', primary: true }, { value: 'ann@home.example', type: 'home' }],
    [ENTERPRISE]: { department: 'Sales', employeeNumber: '100' },
  });
  const bob = await createUser(c, 'bob.smith@corp.example', {
    active: false, name: { familyName: 'Smith' },
    emails: [{ value: 'bob@home.example', type: 'home' }],
    [ENTERPRISE]: { department: 'R&D' },
  });
  const cy = await createUser(c, 'cy@other.example', {
    title: 'Manager', active: true, emails: [{ value: 'cy@corp.example', type: 'work' }],
  });
  const byShort = { ann, bob, cy };
  const cases = [
    ['userName co "SMITH"', ['bob']],
    ['userName sw "ann."', ['ann']],
    ['userName ew ".EXAMPLE"', ['ann', 'bob', 'cy']],
    ['userName ew "corp.example"', ['ann', 'bob']],
    ['userName ne "ann.lee@corp.example"', ['bob', 'cy']],
    ['title pr', ['ann', 'cy']],
    ['name.familyName pr', ['ann', 'bob']],
    ['not (title pr)', ['bob']],
    ['title co "ag"', ['cy']],
    ['emails[type eq "work" and value ew "corp.example"]', ['ann', 'cy']],
    ['emails[type eq "home"]', ['ann', 'bob']],
    ['emails[value sw "cy"] or title eq "engineer"', ['ann', 'cy']],
    ['emails.value co "home"', ['ann', 'bob']],
    ['emails.type eq "work" and not (emails.type eq "home")', ['cy']],
    [`${ENTERPRISE}:department eq "sales"`, ['ann']],
    [`${ENTERPRISE}:department pr`, ['ann', 'bob']],
    [`${ENTERPRISE}:employeeNumber eq "100"`, ['ann']],
    [`${USER_SCHEMA}:userName sw "cy"`, ['cy']],
    [`${USER_SCHEMA}:name.familyName eq "smith"`, ['bob']],
    ['userName EQ "CY@OTHER.EXAMPLE"', ['cy']],
    ['title PR', ['ann', 'cy']],
    ['userName Sw "a" OR userName sW "b"', ['ann', 'bob']],
    ['active eq true AnD title pr', ['ann', 'cy']],
    ['NOT (active eq true)', ['bob']],
    ['userName sw "a" or userName sw "b" and active eq true', ['ann']],
    ['(userName sw "a" or userName sw "b") and active eq false', ['bob']],
    ['emails[type eq "work" and value co "corp"] and not (userName ew "other.example")', ['ann']],
    ['userName eq "nobody@corp.example"', []],
  ];
  for (const [filter, expected] of cases) {
    const res = await scim(c, 'GET', `/Users?${q(filter)}`);
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    const got = res.json.Resources.map((u) => u.userName.split(/[.@]/)[0]).sort();
    assert.deepEqual(got, expected, filter);
    assert.equal(res.json.totalResults, expected.length, filter);
    for (const u of res.json.Resources) assert.deepEqual(u, byShort[u.userName.split(/[.@]/)[0]], filter);
  }
  // The same through a .search body.
  const searched = await scim(c, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'emails[type eq "home"] and active eq false' });
  assert.deepEqual(searched.json.Resources.map((u) => u.id), [bob.id]);
});

test('RFC 7644 §3.4.2.2 gt/lt/ge/le/eq on meta.lastModified compare dateTimes, whatever their offset notation', async () => {
  const c = await newConnection(server, 'Filter dates');
  const a = await createUser(c, 'a@dates.example');
  const b = await createUser(c, 'b@dates.example');
  await sleep(50);
  const t0 = new Date().toISOString();
  await sleep(50);
  const patched = await scim(c, 'PATCH', `/Users/${b.id}`, patchOp({ op: 'replace', path: 'title', value: 'Later' }));
  assert.equal(patched.status, 200, patched.text);
  const bLast = patched.json.meta.lastModified;
  assert.ok(Date.parse(bLast) > Date.parse(t0), `${bLast} > ${t0}`);
  // The same instant written with a +02:00 offset.
  const shifted = new Date(Date.parse(bLast) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
  const names = async (filter) => {
    const res = await scim(c, 'GET', `/Users?${q(filter)}`);
    assert.equal(res.status, 200, `${filter}: ${res.text}`);
    return res.json.Resources.map((u) => u.userName[0]).sort();
  };
  assert.deepEqual(await names(`meta.lastModified gt "${t0}"`), ['b']);
  assert.deepEqual(await names(`meta.lastModified lt "${t0}"`), ['a']);
  assert.deepEqual(await names(`meta.lastModified ge "${bLast}"`), ['b']);
  assert.deepEqual(await names(`meta.lastModified gt "${bLast}"`), []);
  assert.deepEqual(await names(`meta.lastModified le "${bLast}"`), ['a', 'b']);
  assert.deepEqual(await names(`meta.lastModified eq "${shifted}"`), ['b'], `eq ${shifted}`);
  assert.deepEqual(await names(`meta.lastModified ge "${shifted}"`), ['b'], `ge ${shifted}`);
  assert.deepEqual(await names(`meta.created lt "${t0}" and meta.lastModified gt "${t0}"`), ['b']);
  assert.deepEqual(await names('meta.lastModified gt "2000-01-01T00:00:00Z"'), ['a', 'b']);
  assert.equal(a.meta.created <= t0, true);
});

test('RFC 7644 §3.4.2.2 an invalid filter → 400 invalidFilter whose detail gives the (0-based, in characters) position', async () => {
  const bad = [
    ['userName xx "a"', 9],
    ['userName eq "a" oops userName eq "b"', 16],
    ['displayName eq "Müller" xx "b"', 24],
    ['userName eq', null],
    ['(userName eq "a"', null],
    ['userName eq "unterminated', null],
    ['emails[type eq "work"', null],
    ['userName eq "a" and', null],
  ];
  for (const [filter, position] of bad) {
    const res = await scim(conn, 'GET', `/Users?${q(filter)}`);
    const body = assertScimError(res, 400, 'invalidFilter', `filter ${JSON.stringify(filter)}`);
    const m = /position (\d+)/.exec(body.detail);
    assert.ok(m, `no position in ${JSON.stringify(body.detail)} for ${JSON.stringify(filter)}`);
    if (position !== null) assert.equal(Number(m[1]), position, `${filter}: ${body.detail}`);
    else assert.ok(Number(m[1]) <= filter.length, `${filter}: ${body.detail}`);
  }
  const search = await scim(conn, 'POST', '/Users/.search', { schemas: [SEARCH_REQUEST], filter: 'userName xx "a"' });
  assertScimError(search, 400, 'invalidFilter');
  assert.match(search.json.detail, /position 9/);
  assertScimError(await scim(conn, 'GET', `/Groups?${q('displayName eq "a" or')}`), 400, 'invalidFilter');
});
