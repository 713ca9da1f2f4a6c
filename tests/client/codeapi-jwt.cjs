// codeapi-jwt.cjs — mints the Code API bearer token the way a current
// LibreChat host does (docs/auth.md, "LibreChat JWTs"),
// with node's built-in crypto only, so the tests can act as that host.
//
//   mintCodeApiToken(opts)        -> compact JWS string
//   getCodeApiAuthHeaders(opts)   -> Promise<{ Authorization: 'Bearer <jwt>' }>,
//                                    the token cached per (tenant, sub) for <= 30 s
//
// opts: privateKeyPem, alg ('EdDSA' | 'RS256'; default from the key type),
// kid (default lc-codeapi-2026-05), sub, tenantId (default legacy), role
// (default USER), ttlSeconds (default 300, capped at 300), issuer (default
// librechat), audience (default codeapi).
//
// Without privateKeyPem the key comes from CODEAPI_JWT_PRIVATE_KEY (a PEM) or
// CODEAPI_JWT_PRIVATE_KEY_BASE64 (base64 of a PEM), LibreChat's variable names.
// Usable from ESM: `import jwt from './codeapi-jwt.cjs'` or named imports.
'use strict';

const crypto = require('crypto');

const DEFAULT_KID = 'lc-codeapi-2026-05';
const DEFAULT_ISSUER = 'librechat';
const DEFAULT_AUDIENCE = 'codeapi';
const DEFAULT_TENANT = 'legacy';
const DEFAULT_ROLE = 'USER';
const MAX_TTL_SECONDS = 300;
const CACHE_MS = 30_000;

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The PEM from the arguments or from the environment; throws if none. */
function resolvePrivateKeyPem(privateKeyPem) {
  if (privateKeyPem) return privateKeyPem;
  const pem = process.env.CODEAPI_JWT_PRIVATE_KEY;
  if (pem && pem.trim() !== '') {
    // Values written on one line in a .env file carry literal "\n".
    return pem.includes('\\n') && !pem.includes('\n') ? pem.replace(/\\n/g, '\n') : pem;
  }
  const b64 = process.env.CODEAPI_JWT_PRIVATE_KEY_BASE64;
  if (b64 && b64.trim() !== '') return Buffer.from(b64.trim(), 'base64').toString('utf8');
  throw new Error('no Code API signing key: set CODEAPI_JWT_PRIVATE_KEY or CODEAPI_JWT_PRIVATE_KEY_BASE64');
}

/** True when a signing key is available from the environment. */
function hasPrivateKeyInEnv() {
  return Boolean((process.env.CODEAPI_JWT_PRIVATE_KEY ?? '').trim()
    || (process.env.CODEAPI_JWT_PRIVATE_KEY_BASE64 ?? '').trim());
}

function algForKey(key) {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
}

function signWith(alg, key, data) {
  if (alg === 'EdDSA') {
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('EdDSA needs an Ed25519 key');
    return crypto.sign(null, data, key);
  }
  if (alg === 'RS256') {
    if (key.asymmetricKeyType !== 'rsa') throw new Error('RS256 needs an RSA key');
    // RSASSA-PKCS1-v1_5 with SHA-256 (node's default padding for RSA keys).
    return crypto.sign('sha256', data, key);
  }
  throw new Error(`unsupported alg ${alg}`);
}

function effectiveTtl(ttlSeconds) {
  const ttl = Number(ttlSeconds);
  if (!Number.isFinite(ttl) || ttl <= 0) return MAX_TTL_SECONDS;
  return Math.min(Math.floor(ttl), MAX_TTL_SECONDS);
}

function mintCodeApiToken(opts = {}) {
  const {
    privateKeyPem, alg, kid = DEFAULT_KID, sub, tenantId = DEFAULT_TENANT, role = DEFAULT_ROLE,
    ttlSeconds, issuer = DEFAULT_ISSUER, audience = DEFAULT_AUDIENCE,
  } = opts;
  if (typeof sub !== 'string' || sub === '') throw new Error('mintCodeApiToken: sub is required');
  const key = crypto.createPrivateKey(resolvePrivateKeyPem(privateKeyPem));
  const algorithm = alg ?? algForKey(key);
  const iat = Math.floor(Date.now() / 1000);
  const header = { alg: algorithm, typ: 'JWT', kid };
  const payload = {
    iss: issuer,
    aud: audience,
    sub,
    iat,
    nbf: iat,
    exp: iat + effectiveTtl(ttlSeconds),
    jti: crypto.randomUUID(),
    tenant_id: tenantId,
    role,
    principal_source: 'librechat_jwt',
    auth_context_hash: crypto.createHash('sha256').update(`${tenantId}:${sub}:${role}`).digest('hex'),
  };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signingInput}.${b64url(signWith(algorithm, key, Buffer.from(signingInput)))}`;
}

// (tenant, sub) -> { token, until (ms) }
const cache = new Map();

async function getCodeApiAuthHeaders(opts = {}) {
  const tenantId = opts.tenantId ?? DEFAULT_TENANT;
  const cacheKey = JSON.stringify([tenantId, opts.sub]);
  const now = Date.now();
  const hit = cache.get(cacheKey);
  if (hit && hit.until > now) return { Authorization: `Bearer ${hit.token}` };
  const token = mintCodeApiToken({ ...opts, tenantId });
  // Never hand out a token past half of its lifetime, nor for more than 30 s.
  const lifetimeMs = effectiveTtl(opts.ttlSeconds) * 1000;
  cache.set(cacheKey, { token, until: now + Math.min(CACHE_MS, lifetimeMs / 2) });
  return { Authorization: `Bearer ${token}` };
}

function clearCodeApiTokenCache() {
  cache.clear();
}

module.exports = {
  DEFAULT_KID,
  MAX_TTL_SECONDS,
  mintCodeApiToken,
  getCodeApiAuthHeaders,
  clearCodeApiTokenCache,
  hasPrivateKeyInEnv,
};
