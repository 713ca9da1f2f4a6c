// run-exec.mjs — one execute_code call through LibreChat's own client
// (@librechat/agents createCodeExecutionTool) against a live kcr serve.
//
//   AGENTS_PKG        which installed release to load: agents-classic (3.0.50,
//                     sends X-API-Key itself) or agents-current (3.9.2, authHeaders)
//   CODE_API_BASEURL  base URL; the tool appends /exec (e.g. http://127.0.0.1:8000/v1)
//   CODE_API_KEY      the API key
//   CODE_LANG, CODE   default py / print("hi")
//
// Prints the tool's content and artifact as one JSON line; exits 1 if the tool threw.
const pkg = process.env.AGENTS_PKG ?? 'agents-current';
const base = process.env.CODE_API_BASEURL;
const apiKey = process.env.CODE_API_KEY;
if (!base || !apiKey) {
  console.error('set CODE_API_BASEURL and CODE_API_KEY');
  process.exit(2);
}
// Releases <= 3.4 read the base URL at import time and <= 3.1.63 read the key
// from the environment: set both before importing.
process.env.LIBRECHAT_CODE_BASEURL = base;
process.env.LIBRECHAT_CODE_API_KEY = apiKey;

const agents = await import(pkg);
const { createCodeExecutionTool } = agents;
const modern = typeof agents.resolveCodeApiAuthHeaders === 'function';
const params = { user_id: 'kcr-test-user' };
if (modern) {
  if (typeof agents.buildCodeApiEndpoint === 'function') params.baseUrl = base;
  params.authHeaders = { 'X-API-Key': apiKey };
} else {
  // What LibreChat itself passed to these releases (they copy it into the body too).
  params.LIBRECHAT_CODE_API_KEY = apiKey;
}
const tool = createCodeExecutionTool(params);
const args = { lang: process.env.CODE_LANG ?? 'py', code: process.env.CODE ?? 'print("hi")' };
try {
  const msg = await tool.invoke({ id: 'call_1', name: tool.name, type: 'tool_call', args });
  console.log(JSON.stringify({ pkg, modern, content: msg.content, artifact: msg.artifact }));
} catch (err) {
  console.log(JSON.stringify({ pkg, modern, error: err?.message ?? String(err) }));
  process.exit(1);
}
