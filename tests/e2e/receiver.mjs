// A real HTTP receiver on a loopback port for webhook and back-channel logout deliveries. Its
// mode decides how it answers: 'ok' (200), 'fail' (500), 'slow' (200 after `slowMs`), 'down'
// (the port is closed: connections are refused), 'redirect' (307 to `redirectTo`).
import { createServer } from 'node:http';
import { freePort, sleep } from './harness.mjs';

export async function startReceiver({ mode = 'ok', slowMs = 1500, redirectTo } = {}) {
  const port = await freePort();
  const received = [];
  let current = mode;
  let server;
  const handler = async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    const entry = { method: req.method, path: req.url, headers: req.headers, body, mode: current, at: Date.now() };
    if (current === 'slow') await sleep(slowMs);
    received.push(entry);
    if (current === 'redirect') {
      res.writeHead(307, { location: redirectTo });
      res.end();
      return;
    }
    res.statusCode = current === 'fail' ? 500 : 200;
    res.end(current === 'fail' ? 'failing on purpose' : 'ok');
  };
  const listen = () => new Promise((resolve, reject) => {
    server = createServer(handler);
    server.keepAliveTimeout = 1;
    server.on('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const close = () => new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
  if (current !== 'down') await listen();
  return {
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    received,
    /** Switches mode; 'down' closes the port, leaving 'down' opens it again. */
    async setMode(next) {
      if (next === 'down' && current !== 'down') await close();
      if (next !== 'down' && current === 'down') await listen();
      current = next;
    },
    async stop() {
      if (current !== 'down') await close();
      current = 'down';
    },
  };
}

/** Waits until `predicate()` holds (polling), or fails with `what` after `timeoutMs`. */
export async function until(predicate, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
