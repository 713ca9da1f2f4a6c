// run-exec.mjs — one execute_code call through LibreChat's own client
// (@librechat/agents createCodeExecutionTool) against a live kcr serve.
//
//   AGENTS_PKG        which installed release to load: agents-classic (3.0.50,
//                     sends X-API-Key itself) or agents-current (3.9.2, authHeaders)
//   CODE_API_BASEURL  base URL; the tool appends /exec (e.g. http://127.0.0.1:8000/v1)
//   CODE_API_KEY      the API key (not needed when a JWT signing key is given)
//   CODEAPI_JWT_PRIVATE_KEY or CODEAPI_JWT_PRIVATE_KEY_BASE64
//                     with a modern release: act as a LibreChat >= 0.8.6 host,
//                     pass authHeaders as an async function returning
//                     {Authorization: 'Bearer <jwt>'} (codeapi-jwt.cjs) and no key
//   CODE_USER_ID      the user id (user_id body field; the JWT's sub), default kcr-test-user
//   CODEAPI_TENANT_ID the JWT's tenant_id, default legacy
//   CODE_LANG, CODE   default py / print("hi")
//
// Prints the tool's content and artifact as one JSON line; exits 1 if the tool threw.
import { getCodeApiAuthHeaders, hasPrivateKeyInEnv } from './codeapi-jwt.cjs';

const pkg = process.env.AGENTS_PKG ?? 'agents-current';
const base = process.env.CODE_API_BASEURL;
const apiKey = process.env.CODE_API_KEY;
const userId = process.env.CODE_USER_ID || 'kcr-test-user';
const tenantId = process.env.CODEAPI_TENANT_ID || 'legacy';
const wantJwt = hasPrivateKeyInEnv();
if (!base || (!apiKey && !wantJwt)) {
  console.error('set CODE_API_BASEURL and CODE_API_KEY (or CODEAPI_JWT_PRIVATE_KEY)');
  process.exit(2);
}
// Releases <= 3.4 read the base URL at import time and <= 3.1.63 read the key
// from the environment: set both before importing.
process.env.LIBRECHAT_CODE_BASEURL = base;
if (apiKey) process.env.LIBRECHAT_CODE_API_KEY = apiKey;

const agents = await import(pkg);
const { createCodeExecutionTool } = agents;
const modern = typeof agents.resolveCodeApiAuthHeaders === 'function';
const params = { user_id: userId };
let auth = 'api-key';
if (modern) {
  if (typeof agents.buildCodeApiEndpoint === 'function') params.baseUrl = base;
  if (wantJwt) {
    // What a current LibreChat host passes: a function the tool awaits before
    // every request (3.9.2 resolveCodeApiAuthHeaders accepts a map or a
    // sync/async function). No X-API-Key.
    auth = 'librechat-jwt';
    params.authHeaders = async () => getCodeApiAuthHeaders({ sub: userId, tenantId });
  } else {
    params.authHeaders = { 'X-API-Key': apiKey };
  }
} else if (apiKey) {
  // What LibreChat itself passed to these releases (they copy it into the body too).
  params.LIBRECHAT_CODE_API_KEY = apiKey;
}
const tool = createCodeExecutionTool(params);
const args = { lang: process.env.CODE_LANG ?? 'py', code: process.env.CODE ?? 'print("hi")' };
try {
  const msg = await tool.invoke({ id: 'call_1', name: tool.name, type: 'tool_call', args });
  console.log(JSON.stringify({ pkg, modern, auth, content: msg.content, artifact: msg.artifact }));
} catch (err) {
  console.log(JSON.stringify({ pkg, modern, auth, error: err?.message ?? String(err) }));
  process.exit(1);
}
