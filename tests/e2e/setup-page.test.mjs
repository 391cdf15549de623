// The self-service setup page in a real headless Chromium (Debian's, driven by playwright-core,
// which never downloads a browser): the admin creates a one-time link, the customer's IT admin
// opens it, generates a token once, and the link is dead afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, admin, call, scim, newConnection, unknownConnectionId, ROOT } from './harness.mjs';

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

/** A page that records script errors and console errors (CSP violations land there). */
async function openPage() {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !EXPECTED_STATUS.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { page, problems };
}

test('setup link in Chromium: base URL and Entra steps, one token that works, then the link is dead', { skip }, async () => {
  const c = await connectionWithIdp('Contoso <Ltd>', 'entra');
  const link = await createLink(c.id);
  assert.ok(link.url.startsWith(`${server.url}/setup/${c.id}/`), link.url);
  assert.ok(Date.parse(link.expires_at) - Date.now() > 6.9 * 24 * 3600_000, 'seven days by default');

  const { page, problems } = await openPage();
  const res = await page.goto(link.url);
  assert.equal(res.status(), 200);
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

  // The link is dead: reloading shows the invalid page, a second token call is a 404.
  const reload = await page.reload();
  assert.equal(reload.status(), 404);
  assert.equal(await page.locator('h1').textContent(), INVALID);
  assert.equal(await page.getByRole('button', { name: 'Generate token' }).count(), 0);
  const again = await call(`${link.url}/token`, 'POST', null);
  assert.equal(again.status, 404, again.text);
  assert.equal(again.json.error, 'not_found');
  const tokens = await admin(server, 'GET', `/connections/${c.id}/tokens`);
  assert.equal(tokens.json.tokens.length, 1, 'exactly one token came from the link');

  assert.deepEqual(problems, [], 'no script errors or CSP violations');
  await page.close();
});

test('with two live tokens the page shows the 409 and the link stays usable until one is revoked', { skip }, async () => {
  const conn = await newConnection(server, 'Full House');
  const spare = await admin(server, 'POST', `/connections/${conn.id}/tokens`, {});
  assert.equal(spare.status, 201, spare.text);
  const link = await createLink(conn.id, { expires_in: 300 });

  const { page, problems } = await openPage();
  assert.equal((await page.goto(link.url)).status(), 200);
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

test('dead, wrong and foreign links all get the same invalid page; admin errors are JSON', async () => {
  const conn = await newConnection(server, 'Replaced');
  const older = await createLink(conn.id);
  const newer = await createLink(conn.id);
  const secret = newer.url.split('/').pop();
  const wrong = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');

  const replaced = await call(older.url, 'GET', null);
  assert.equal(replaced.status, 404, 'a new link replaces an older unused one');
  assert.match(replaced.headers.get('content-type'), /^text\/html/);
  assert.ok(replaced.text.includes(INVALID));
  for (const url of [
    `${server.url}/setup/${conn.id}/${wrong}`,
    `${server.url}/setup/${conn.id}/nope`,
    `${server.url}/setup/${unknownConnectionId()}/${secret}`,
    `${server.url}/setup/not-a-connection/${secret}`,
    `${server.url}/setup/${conn.id}`,
  ]) {
    const res = await call(url, 'GET', null);
    assert.equal(res.status, 404, url);
    assert.equal(res.text, replaced.text, `same page for ${url}`);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
  }
  const foreign = await call(`${server.url}/setup/${unknownConnectionId()}/${secret}/token`, 'POST', null);
  assert.equal(foreign.status, 404);
  assert.equal(foreign.json.error, 'not_found');
  // The live link survived all of that.
  assert.equal((await call(newer.url, 'GET', null)).status, 200);

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
