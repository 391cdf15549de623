// The README's shell examples run verbatim, top to bottom, in one bash shell against a fresh local
// server (the real worker in workerd, fresh on-disk state), as a reader pastes them after
// `make dev`. Only the ports differ: 8787 (the server) and 8788 (the examples' local receiver)
// become free ones. The runner itself is tested first, on small Markdown documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, sleep, startWorker } from './harness.mjs';
import { SKIP_MARKER, describeFailure, extractBlocks, runBlocks } from './readme-examples.mjs';

/**
 * A scratch directory as the shell's working directory, and a minimal environment: nothing of
 * this process's environment but PATH, so an example cannot lean on a variable it did not set.
 * Its temporary files (`mktemp`) land in the scratch directory too, and go with it.
 */
function scratch() {
  const cwd = mkdtempSync(join(tmpdir(), 'readme-cwd-'));
  const env = { PATH: process.env.PATH, HOME: cwd, LANG: 'C.UTF-8', TMPDIR: cwd };
  return { cwd, env, done: () => rmSync(cwd, { recursive: true, force: true }) };
}

async function runMarkdown(markdown, options = {}) {
  const { cwd, env, done } = scratch();
  try {
    return await runBlocks(extractBlocks(markdown), { cwd, env, timeoutMs: 20_000, ...options });
  } finally {
    done();
  }
}

/** Whether `pid` is a live process (a zombie, ended but not yet reaped, is not). */
function isRunning(pid) {
  let stat;
  try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return false; }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

const fence = (code, lang = 'sh') => `\`\`\`${lang}\n${code}\n\`\`\``;

test('runner: shell blocks are extracted in order; other languages, skipped ones and "The two commands" are not', () => {
  const markdown = [
    '# Title', '', '## The two commands', '', fence('make dev'), '',
    '## Using it', '', fence('echo one'), '', fence('{"json": true}', 'json'), '',
    SKIP_MARKER, fence('npx wrangler deploy'), '',
    '- a list item:', '', `  ${fence('echo two', 'bash').split('\n').join('\n  ')}`, '',
    '### Sub-section', '', fence('echo three\necho four', 'shell'), '',
    '## Deploy', '', SKIP_MARKER, '', fence('echo five'),
  ].join('\n');
  const blocks = extractBlocks(markdown);
  assert.deepEqual(blocks.map((b) => b.code), ['echo one', 'echo two', 'echo three\necho four', 'echo five']);
  assert.deepEqual(blocks.map((b) => b.section), ['Using it', 'Using it', 'Using it', 'Deploy']);
  assert.equal(blocks[0].line, 11);
  assert.throws(() => extractBlocks('```sh\necho unclosed\n'), /unclosed code fence opened on line 1/);
});

test('runner: one shell for all blocks; a failing command fails the run, names its block and stops there', async () => {
  const markdown = [
    '## Using it', fence('GREETING=hello\necho "$GREETING from one"'),
    fence('echo "$GREETING again"\nfalse\necho not-reached'),
    fence('echo never'),
  ].join('\n');
  const result = await runMarkdown(markdown);
  assert.equal(result.ok, false);
  assert.notEqual(result.status, 0);
  assert.equal(result.failed.block.index, 1);
  assert.equal(result.failed.block.line, 6);
  assert.equal(result.failed.command, 'line 8, exit 1: false');
  assert.equal(result.outputs[0], 'hello from one\n');
  assert.equal(result.failed.output, 'hello again\n');
  assert.doesNotMatch(result.output, /not-reached|never/);
  const report = describeFailure(result);
  assert.match(report, /^README\.md: the shell example at line 6 \(section "Using it"\) failed: line 8, exit 1: false\n/);
  assert.match(report, /--- the example ---\necho "\$GREETING again"\nfalse\necho not-reached\n--- its output ---\nhello again/);
});

test('runner: unset variables and failures inside pipelines fail the run (bash -euo pipefail)', async () => {
  const unset = await runMarkdown(fence('echo "$CONNECTION_ID"'));
  assert.equal(unset.ok, false);
  assert.match(unset.failed.output, /CONNECTION_ID: unbound variable/);

  const piped = await runMarkdown(fence('false | cat\necho not-reached'));
  assert.equal(piped.ok, false);
  assert.doesNotMatch(piped.output, /not-reached/);

  const substituted = await runMarkdown(fence('ID=$(false | cat)\necho not-reached'));
  assert.equal(substituted.ok, false);
  assert.doesNotMatch(substituted.output, /not-reached/);
});

test('runner: curl -sf fails on an error status; a successful run passes', async () => {
  const { createServer } = await import('node:http');
  const port = await freePort();
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end(req.url === '/missing' ? '{"error": "not_found"}' : '{"id": "con_1"}');
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  try {
    const ok = await runMarkdown(fence('ID=$(curl -sf http://127.0.0.1:8787/found | jq -r .id)\necho "$ID"'), {
      rewrite: [[/\b8787\b/g, String(port)]],
    });
    assert.equal(ok.ok, true, ok.output);
    assert.equal(ok.outputs[0], 'con_1\n');

    const missing = await runMarkdown(fence('curl -sf http://127.0.0.1:8787/missing\necho not-reached'), {
      rewrite: [[/\b8787\b/g, String(port)]],
    });
    assert.equal(missing.ok, false);
    assert.match(missing.failed.command, /exit 22/);
    assert.doesNotMatch(missing.output, /not-reached/);
  } finally {
    server.close();
  }
});

test('runner: a hanging example times out, and background processes do not outlive the run', async () => {
  const started = Date.now();
  const hung = await runMarkdown(fence('sleep 30'), { timeoutMs: 1000 });
  assert.equal(hung.ok, false);
  assert.equal(hung.timedOut, true);
  assert.match(hung.failed.command, /timed out after 1000 ms/);
  assert.ok(Date.now() - started < 10_000);

  const { cwd, env, done } = scratch();
  try {
    const background = await runBlocks(extractBlocks(fence('sleep 30 &\necho $! > pid')), { cwd, env });
    assert.equal(background.ok, true, background.output);
    assert.ok(Date.now() - started < 20_000, 'the run waited for its background process');
    const pid = Number(readFileSync(join(cwd, 'pid'), 'utf8'));
    // SIGKILL is delivered asynchronously: allow the kernel a moment (bounded) to end it.
    const deadline = Date.now() + 5000;
    while (isRunning(pid) && Date.now() < deadline) await sleep(50);
    assert.equal(isRunning(pid), false, 'the background process is still running');
  } finally {
    done();
  }
});

test('README.md: every shell example runs, top to bottom, against a fresh local server', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = extractBlocks(readme);
  assert.ok(blocks.length >= 5, `only ${blocks.length} shell examples found`);
  // What `make dev` gives a reader: the worker on a port, .dev.vars with its secrets (made by
  // scripts/setup.sh), and LOGOUT_SIGNING_KEYS from it.
  const keys = spawnSync(process.execPath, [join(ROOT, 'scripts', 'gen-signing-key.mjs')], { encoding: 'utf8' });
  assert.equal(keys.status, 0, keys.stderr);
  const signingKeys = keys.stdout.trim();
  const server = await startWorker({ vars: { LOGOUT_SIGNING_KEYS: signingKeys } });
  const { cwd, env, done } = scratch();
  try {
    writeFileSync(join(cwd, '.dev.vars'), [
      `ADMIN_TOKEN=${server.adminToken}`, `APP_API_TOKEN=${server.appToken}`, `LOGOUT_SIGNING_KEYS=${signingKeys}`, '',
    ].join('\n'));
    const serverPort = new URL(server.url).port;
    const receiverPort = String(await freePort());
    const result = await runBlocks(blocks, {
      cwd, env, timeoutMs: 240_000, rewrite: [[/\b8787\b/g, serverPort], [/\b8788\b/g, receiverPort]],
    });
    if (!result.ok) {
      assert.fail(`${describeFailure(result)}\n--- worker log (tail) ---\n${server.log().slice(-3000)}`);
    }
  } finally {
    done();
    await server.stop();
  }
});
