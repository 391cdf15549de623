#!/usr/bin/env node
// Makes a Logout Token signing key for the LOGOUT_SIGNING_KEYS secret: prints, on one line, a JSON
// array holding one new private P-256 JWK with kid "k-<YYYYMMDD>-<8 hex>".
//
//   node scripts/gen-signing-key.mjs                       # a first key
//   node scripts/gen-signing-key.mjs --rotate "$CURRENT"   # the new key, then the current ones
//
// The first key of the array signs and every key is published in the JWKS. To rotate: set the
// --rotate output as the secret, wait until relying parties have refreshed their JWKS cache, then
// drop the old key. Node 22+, node:crypto only.
import { generateKeyPairSync, randomBytes } from 'node:crypto';

function fail(message) {
  process.stderr.write(`gen-signing-key: ${message}\n`);
  process.exit(2);
}

function existingKeys(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Never echo the input: it holds private keys.
    fail('--rotate expects the current keys as a JSON array of JWKs');
  }
  const keys = Array.isArray(parsed) ? parsed : parsed?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    fail('--rotate expects a non-empty JSON array of JWKs (or {"keys": [...]})');
  }
  keys.forEach((key, i) => {
    if (key?.kty !== 'EC' || key?.crv !== 'P-256' || typeof key?.kid !== 'string' || !key.kid || typeof key?.d !== 'string') {
      fail(`--rotate: keys[${i}] is not a private P-256 JWK with a kid`);
    }
  });
  return keys;
}

function newKey(taken) {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '');
  let kid;
  do {
    kid = `k-${day}-${randomBytes(4).toString('hex')}`;
  } while (taken.has(kid));
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y, d } = privateKey.export({ format: 'jwk' });
  return { kty, crv, kid, x, y, d };
}

const args = process.argv.slice(2);
let existing = [];
if (args.length === 2 && args[0] === '--rotate') {
  existing = existingKeys(args[1]);
} else if (args.length !== 0) {
  fail("usage: gen-signing-key.mjs [--rotate '<current keys JSON>']");
}
const key = newKey(new Set(existing.map((k) => k.kid)));
process.stdout.write(`${JSON.stringify([key, ...existing])}\n`);
