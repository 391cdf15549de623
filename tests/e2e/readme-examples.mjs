// The README's shell examples, extracted and run top to bottom in one bash shell
// (tests/e2e/readme-examples.test.mjs runs them against a fresh local server).
//
// Every ```sh (or ```bash / ```shell) block of the Markdown runs, in order, except the blocks of a
// section listed in SKIPPED_SECTIONS and a block whose fence line is directly preceded by the line
// `<!-- readme-examples: skip -->`. The blocks run in ONE `bash -euo pipefail`, so a variable set
// in one block is there in the next, and the first command that fails ends the run.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const SKIP_MARKER = '<!-- readme-examples: skip -->';
/** `## ` sections whose blocks are commands to type, not examples against a server. */
export const SKIPPED_SECTIONS = ['The two commands'];
const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell']);

/**
 * The shell blocks to run: [{ index, line (1-based line of the opening fence), section, code }].
 * Fences may be indented (list items); the indentation is removed from the code.
 */
export function extractBlocks(markdown, { skipSections = SKIPPED_SECTIONS } = {}) {
  const lines = markdown.split('\n');
  const blocks = [];
  let section = '';
  let open = null; // { fence, indent, lang, line, skip, body: [] }
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (open) {
      const close = line.match(/^(\s*)(`{3,}|~{3,})\s*$/);
      if (close && close[2][0] === open.fence[0] && close[2].length >= open.fence.length) {
        if (SHELL_LANGUAGES.has(open.lang) && !open.skip && !skipSections.includes(section)) {
          blocks.push({ index: blocks.length, line: open.line, section, code: open.body.join('\n') });
        }
        open = null;
      } else {
        open.body.push(line.startsWith(open.indent) ? line.slice(open.indent.length) : line.trimStart());
      }
      continue;
    }
    const fence = line.match(/^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/);
    if (fence) {
      const previous = i > 0 ? lines[i - 1].trim() : '';
      open = {
        fence: fence[2], indent: fence[1], lang: fence[3].toLowerCase(), line: i + 1,
        skip: previous === SKIP_MARKER, body: [],
      };
      continue;
    }
    const heading = line.match(/^##\s+(.*?)\s*#*\s*$/);
    if (heading) section = heading[1];
  }
  if (open) throw new Error(`unclosed code fence opened on line ${open.line}`);
  return blocks;
}

/**
 * Runs `blocks` in one `bash -euo pipefail` in `cwd`, with exactly `env` (plus nothing of this
 * process), after replacing each `[from, to]` of `rewrite` in their code (`from` a string, or a
 * global RegExp). The shell runs in its
 * own process group, which is killed when it exits or after `timeoutMs`, so background commands
 * started by an example (a local receiver) do not outlive the run.
 *
 * Returns { ok, status, signal, timedOut, output, outputs: [per block], failed?: { block, output,
 * command } } where `failed` is the block that was running when the shell stopped.
 */
export async function runBlocks(blocks, { cwd, env, rewrite = [], timeoutMs = 180_000 } = {}) {
  const nonce = randomBytes(8).toString('hex');
  const marker = `@@readme-example-${nonce}`;
  const dir = mkdtempSync(join(tmpdir(), 'readme-examples-'));
  const script = join(dir, 'examples.sh');
  // Where each block starts in the script, to map a failing line back to the README.
  const parts = [
    'exec 2>&1',
    `trap 'printf "\\n%s\\n" "${marker} failed at line $LINENO (exit $?): $BASH_COMMAND"' ERR`,
  ];
  const starts = [];
  for (const block of blocks) {
    let code = block.code;
    for (const [from, to] of rewrite) {
      code = typeof from === 'string' ? code.split(from).join(to) : code.replace(from, to);
    }
    parts.push(`printf '\\n%s\\n' '${marker} block ${block.index}'`);
    starts.push(parts.join('\n').split('\n').length + 1);
    parts.push(code);
  }
  parts.push(`printf '\\n%s\\n' '${marker} done'`);
  writeFileSync(script, `${parts.join('\n')}\n`);

  const child = spawn('bash', ['-euo', 'pipefail', script], {
    cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let timedOut = false;
  const killGroup = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  const timer = setTimeout(() => { timedOut = true; killGroup(); }, timeoutMs);
  // 'exit', not 'close': a background process still holding the pipes would delay 'close'.
  const [status, signal] = await new Promise((resolve) => {
    child.once('exit', (code, sig) => resolve([code, sig]));
  });
  clearTimeout(timer);
  killGroup();
  await new Promise((resolve) => {
    if (child.stdout.closed && child.stderr.closed) resolve();
    else child.once('close', resolve);
  });
  rmSync(dir, { recursive: true, force: true });

  // Split the output at the markers. Each marker is printed as "\n<marker>\n", so it always
  // stands on a line of its own, and the lines of a block joined with "\n" are exactly what the
  // block printed (the newline before the marker is the marker's own).
  const lines = blocks.map(() => []);
  let current = -1;
  let done = false;
  let failure = null;
  for (const line of output.split('\n')) {
    if (line.startsWith(`${marker} block `)) {
      current = Number(line.slice(`${marker} block `.length));
    } else if (line === `${marker} done`) {
      done = true;
    } else if (line.startsWith(`${marker} failed at line `)) {
      failure = line.slice(`${marker} `.length);
    } else if (current >= 0 && !done && failure === null) {
      lines[current].push(line);
    }
  }
  const outputs = lines.map((l) => l.join('\n'));
  const ok = status === 0 && done && !timedOut;
  const result = { ok, status, signal, timedOut, output, outputs };
  if (!ok) {
    const index = Math.max(current, 0);
    const block = blocks[index];
    let command = failure ?? (timedOut ? `timed out after ${timeoutMs} ms` : `exit ${status ?? signal}`);
    const at = failure?.match(/^failed at line (\d+) \((exit \d+)\): ([^]*)$/);
    if (at && block) {
      // bash reports the last line of a command that spans several.
      const line = block.line + (Number(at[1]) - starts[index]) + 1;
      command = `line ${line}, ${at[2]}: ${at[3]}`;
    }
    result.failed = { block, output: outputs[index] ?? '', command };
  }
  return result;
}

/** A readable account of a failed run: the block's text, where it stopped and what it printed. */
export function describeFailure(result, file = 'README.md') {
  const { block, output, command } = result.failed;
  if (!block) return `no example ran: ${command}\n${result.output}`;
  return [
    `${file}: the shell example at line ${block.line} (section "${block.section}") failed: ${command}`,
    '--- the example ---',
    block.code,
    '--- its output ---',
    output.trimEnd(),
  ].join('\n');
}
