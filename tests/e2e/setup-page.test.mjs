// The self-service setup page in a real headless Chromium (Debian's, driven by playwright-core,
// which never downloads a browser): the admin creates a one-time link, the customer's IT admin
// opens it, generates a token once, and the link is dead afterwards. The link's secret is its
// fragment: the page reads it, removes it from the address bar and sends it only in POST bodies
// (hardening 5), so no URL, response or log line carries it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, admin, call, scim, newConnection, unknownConnectionId, sleep, ROOT } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, 'build', 'setup-page.png');
const INVALID = 'This setup link is invalid or has expired';

let playwright;
try {
  playwright = await import('playwright-core');
} catch { /* reported as the skip reason below */ }
const skip = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM}: scripts/setup.sh installs Debian's chromium where apt-get exists`
  : !playwright
    ? 'playwright-core is not installed: run npm ci'
    : false;

let server;
let context;
let profile;
before(async () => {
  server = await startWorker();
  if (skip) return;
  profile = mkdtempSync(join(tmpdir(), 'scim-edge-chromium-'));
  // A persistent context is how playwright takes a fresh --user-data-dir.
  context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1000, height: 900 },
  });
});
after(async () => {
  await context?.close();
  await server?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function connectionWithIdp(name, idp) {
  const c = await admin(server, 'POST', '/connections', { name });
  assert.equal(c.status, 201, c.text);
  const p = await admin(server, 'PATCH', `/connections/${c.json.id}`, { settings: { idp } });
  assert.equal(p.status, 200, p.text);
  return c.json;
}

async function createLink(id, body = {}) {
  const res = await admin(server, 'POST', `/connections/${id}/setup-links`, body);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

/** Chromium logs every non-2xx response; the 404 of a dead link and the 409 are expected. */
const EXPECTED_STATUS = /^Failed to load resource: the server responded with a status of (404|409)\b/;

/**
 * A page that records script errors and console errors (CSP violations land there), and every
 * request it makes (`{method, url, body}`).
 */
async function openPage() {
  const page = await context.newPage();
  const problems = [];
  const requests = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_STATUS.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url(), body: r.postData() ?? '' }));
  return { page, problems, requests };
}

/** The link's secret: its fragment. */
const secretOf = (url) => url.slice(url.indexOf('#') + 1);

/**
 * Opens `url` as a fresh load (as from a mail client), not as a fragment change of the page
 * already shown.
 */
async function load(page, url) {
  await page.goto('about:blank');
  return page.goto(url);
}

/** Opens a link and waits until the page has read its details. */
async function openLink(page, url) {
  const res = await load(page, url);
  await page.locator('#content').waitFor({ state: 'visible', timeout: 10_000 });
  return res;
}

const setupCall = (connectionId, route, body) => call(`${server.url}/setup/${connectionId}${route}`,
  'POST', null, body, { 'content-type': 'application/json' });

test('setup link in Chromium: base URL and Entra steps, one token that works, then the link is dead', { skip }, async () => {
  const c = await connectionWithIdp('Contoso <Ltd>', 'entra');
  const link = await createLink(c.id);
  assert.ok(link.url.startsWith(`${server.url}/setup/${c.id}#`), link.url);
  const secret = secretOf(link.url);
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(link.expires_at) - Date.now() > 6.9 * 24 * 3600_000, 'seven days by default');

  const { page, problems, requests } = await openPage();
  const res = await openLink(page, link.url);
  assert.equal(res.status(), 200);
  // The secret is gone from the address bar at once, and was never in a request's URL.
  assert.equal(page.url(), `${server.url}/setup/${c.id}`);
  assert.deepEqual(await page.evaluate(() => [location.hash, location.href.includes('#')]), ['', false]);
  assert.ok(!(await page.content()).includes(secret), 'nor in the document');
  const headers = res.headers();
  assert.match(headers['content-security-policy'], /^default-src 'none';/);
  assert.equal(headers['cache-control'], 'no-store');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.equal(headers['x-frame-options'], 'DENY');

  assert.equal(await page.locator('h1').textContent(), 'Contoso <Ltd>', 'the name is text, not markup');
  const baseUrl = page.locator('#base-url');
  assert.ok(await baseUrl.isVisible());
  assert.equal(await baseUrl.textContent(), c.scim_base_url);
  assert.ok(await page.getByRole('heading', { name: 'Set up Microsoft Entra ID' }).isVisible());
  const steps = page.locator('ol.steps > li');
  assert.ok((await steps.count()) >= 5);
  const stepText = (await steps.allTextContents()).join('\n');
  for (const text of ['Tenant URL', 'Secret Token', 'Test Connection', 'Provisioning Mode', c.scim_base_url]) {
    assert.ok(stepText.includes(text), `Entra steps lack ${text}: ${stepText}`);
  }
  assert.ok(await page.getByText('Tenant URL', { exact: true }).isVisible());
  assert.ok(!(await page.locator('#token-box').isVisible()), 'no token before the click');

  await page.getByRole('button', { name: 'Generate token' }).click();
  const tokenEl = page.locator('#token');
  await tokenEl.waitFor({ state: 'visible', timeout: 10_000 });
  const token = (await tokenEl.textContent()).trim();
  assert.match(token, /^scim_[A-Za-z0-9_-]{40,}$/);
  assert.ok(!(await page.getByRole('button', { name: 'Generate token' }).isVisible()), 'the button is gone');

  // The copy button puts the token on the clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  const copy = page.locator('#token-box button.copy');
  await copy.click();
  await page.waitForFunction(() => document.querySelector('#token-box button.copy').textContent === 'Copied');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);

  mkdirSync(join(ROOT, 'build'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // The token works on the connection's SCIM URL.
  const users = await scim({ base: c.scim_base_url, token }, 'GET', '/Users');
  assert.equal(users.status, 200, users.text);
  assert.equal(users.json.totalResults, 0);

  // Every request of the page: the secret only ever in the two POST bodies.
  const posts = requests.filter((r) => r.method === 'POST');
  assert.deepEqual(posts.map((r) => r.url), [`${server.url}/setup/${c.id}/details`, `${server.url}/setup/${c.id}/token`]);
  for (const r of posts) assert.deepEqual(JSON.parse(r.body), { secret });
  for (const r of requests) assert.ok(!r.url.includes(secret), `a URL carried the secret: ${r.url}`);

  // The link is dead: reloading (no fragment any more) shows the invalid message, and the used
  // secret gets the invalid-link answer.
  const reload = await page.reload();
  assert.equal(reload.status(), 200);
  await page.waitForFunction((text) => document.querySelector('h1').textContent === text, INVALID);
  assert.equal(await page.getByRole('button', { name: 'Generate token' }).count(), 0);
  for (const route of ['/token', '/details']) {
    const again = await setupCall(c.id, route, { secret });
    assert.equal(again.status, 404, again.text);
    assert.equal(again.json.error, 'not_found');
    assert.equal(again.json.message, `${INVALID}.`);
  }
  const tokens = await admin(server, 'GET', `/connections/${c.id}/tokens`);
  assert.equal(tokens.json.tokens.length, 1, 'exactly one token came from the link');

  // Opening the used link again from the message: the invalid message too.
  const reopened = await load(page, link.url);
  assert.equal(reopened.status(), 200);
  await page.waitForFunction((text) => document.querySelector('h1').textContent === text, INVALID);
  assert.equal(page.url(), `${server.url}/setup/${c.id}`);

  assert.ok(!server.log().includes(secret), 'no log line carries the secret');
  assert.deepEqual(problems, [], 'no script errors or CSP violations');
  await page.close();
});

test('with two live tokens the page shows the 409 and the link stays usable until one is revoked', { skip }, async () => {
  const conn = await newConnection(server, 'Full House');
  const spare = await admin(server, 'POST', `/connections/${conn.id}/tokens`, {});
  assert.equal(spare.status, 201, spare.text);
  const link = await createLink(conn.id, { expires_in: 300 });

  const { page, problems } = await openPage();
  assert.equal((await openLink(page, link.url)).status(), 200);
  assert.ok(await page.getByText('Set up your identity provider').isVisible(), 'generic steps by default');
  const button = page.getByRole('button', { name: 'Generate token' });
  await button.click();
  const error = page.locator('#error');
  await error.waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await error.textContent(), /two active tokens/);
  assert.ok(await button.isEnabled(), 'the button can be clicked again');

  // The refusal rolled the claim back inside the Durable Object: the link still works.
  const revoked = await admin(server, 'DELETE', `/connections/${conn.id}/tokens/${spare.json.id}`);
  assert.equal(revoked.status, 204, revoked.text);
  await button.click();
  await page.locator('#token').waitFor({ state: 'visible', timeout: 10_000 });
  const token = (await page.locator('#token').textContent()).trim();
  assert.equal((await scim({ base: conn.base, token }, 'GET', '/Users')).status, 200);
  assert.deepEqual(problems, []);
  await page.close();
});

test('a wrong or used secret in the page gets the invalid-link message', { skip }, async () => {
  const conn = await newConnection(server, 'Wrong Secret');
  const link = await createLink(conn.id);
  const secret = secretOf(link.url);
  const wrong = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
  const { page, problems } = await openPage();
  for (const url of [`${server.url}/setup/${conn.id}#${wrong}`, `${server.url}/setup/${conn.id}`]) {
    assert.equal((await load(page, url)).status(), 200);
    await page.waitForFunction((text) => document.querySelector('h1').textContent === text, INVALID);
    assert.equal(await page.getByRole('button', { name: 'Generate token' }).count(), 0, url);
    assert.equal(page.url(), `${server.url}/setup/${conn.id}`);
  }
  // The real link still works.
  await openLink(page, link.url);
  assert.equal(await page.locator('h1').textContent(), 'Wrong Secret');
  assert.deepEqual(problems, []);
  await page.close();
});

test('hardening 5: the link carries its secret in the fragment only: no response or log line carries it, path-style links are refused', async () => {
  const conn = await newConnection(server, 'Fragment');
  const link = await createLink(conn.id);
  const hash = link.url.indexOf('#');
  assert.ok(hash > 0, `the secret is the fragment: ${link.url}`);
  const secret = link.url.slice(hash + 1);
  const path = new URL(link.url).pathname;
  assert.equal(path, `/setup/${conn.id}`);
  assert.ok(!path.includes(secret) && !new URL(link.url).search.includes(secret));

  // What the page does: the page itself holds nothing of the connection; the details and the
  // token come by POST, without echoing the secret.
  const page = await call(`${server.url}${path}`, 'GET', null);
  assert.equal(page.status, 200);
  assert.ok(!page.text.includes('Fragment') && !page.text.includes(conn.id));
  const details = await setupCall(conn.id, '/details', { secret });
  assert.equal(details.status, 200, details.text);
  assert.deepEqual(details.json, {
    connection_name: 'Fragment', scim_base_url: conn.base, idp: 'generic', expires_at: link.expires_at,
  });
  const issued = await setupCall(conn.id, '/token', { secret });
  assert.equal(issued.status, 200, issued.text);
  const used = await setupCall(conn.id, '/token', { secret });
  assert.equal(used.status, 404, 'used once');
  for (const res of [page, details, issued, used]) assert.ok(!res.text.includes(secret));
  // Nothing the worker logged (wrangler prints every request line) carries the secret.
  await sleep(300);
  assert.ok(server.log().includes(`/setup/${conn.id}/details`), 'the request lines are logged');
  assert.ok(!server.log().includes(secret), 'no log line carries the secret');

  // A live secret in the path, as links used to carry it: refused, and not used up.
  const live = secretOf((await createLink(conn.id)).url);
  const pathPage = await call(`${server.url}/setup/${conn.id}/${live}`, 'GET', null);
  assert.equal(pathPage.status, 404);
  assert.ok(pathPage.text.includes(INVALID));
  assert.ok(!pathPage.text.includes(live));
  const pathToken = await call(`${server.url}/setup/${conn.id}/${live}/token`, 'POST', null);
  assert.equal(pathToken.status, 404, pathToken.text);
  assert.equal(pathToken.json.error, 'not_found');
  assert.equal((await setupCall(conn.id, '/details', { secret: live })).status, 200, 'still live');
});

test('dead, wrong and foreign secrets all get the same answer; admin errors are JSON', async () => {
  const conn = await newConnection(server, 'Replaced');
  const older = await createLink(conn.id);
  const newer = await createLink(conn.id);
  const secret = secretOf(newer.url);
  const wrong = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');

  const replaced = await setupCall(conn.id, '/details', { secret: secretOf(older.url) });
  assert.equal(replaced.status, 404, 'a new link replaces an older unused one');
  assert.equal(replaced.json.error, 'not_found');
  assert.equal(replaced.headers.get('cache-control'), 'no-store');
  for (const [id, body] of [
    [conn.id, { secret: wrong }],
    [conn.id, { secret: 'nope' }],
    [unknownConnectionId(), { secret }],
    ['not-a-connection', { secret }],
  ]) {
    for (const route of ['/details', '/token']) {
      const res = await setupCall(id, route, body);
      assert.equal(res.status, 404, `${id}${route}`);
      assert.equal(res.text, replaced.text, `same answer for ${id}${route} ${JSON.stringify(body)}`);
    }
  }
  const noSecret = await setupCall(conn.id, '/token', { token: secret });
  assert.equal(noSecret.status, 400, noSecret.text);
  assert.equal(noSecret.json.error, 'invalid_request');
  assert.ok(!noSecret.text.includes(secret));

  // The page is the same for every connection; paths below it are the invalid page.
  const page = await call(`${server.url}/setup/${conn.id}`, 'GET', null);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.match(page.headers.get('content-security-policy'), /default-src 'none'/);
  assert.equal((await call(`${server.url}/setup/${unknownConnectionId()}`, 'GET', null)).text, page.text);
  const invalidPage = await call(`${server.url}/setup/${conn.id}/${wrong}`, 'GET', null);
  for (const url of [
    `${server.url}/setup/${conn.id}/nope`,
    `${server.url}/setup/${unknownConnectionId()}/${secret}`,
    `${server.url}/setup/not-a-connection/${secret}`,
  ]) {
    const res = await call(url, 'GET', null);
    assert.equal(res.status, 404, url);
    assert.equal(res.text, invalidPage.text, `same page for ${url}`);
    assert.ok(res.text.includes(INVALID));
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }
  // The live link survived all of that.
  assert.equal((await setupCall(conn.id, '/details', { secret })).status, 200);

  for (const [body, status] of [[{ expires_in: 299 }, 400], [{ colour: 'red' }, 400]]) {
    const res = await admin(server, 'POST', `/connections/${conn.id}/setup-links`, body);
    assert.equal(res.status, status, res.text);
    assert.equal(res.json.error, 'invalid_request');
  }
  const ghost = await admin(server, 'POST', `/connections/${unknownConnectionId()}/setup-links`, {});
  assert.equal(ghost.status, 404, ghost.text);
  assert.equal(ghost.json.error, 'not_found');
  const unauthorized = await admin(server, 'POST', `/connections/${conn.id}/setup-links`, {}, null);
  assert.equal(unauthorized.status, 401);
});
