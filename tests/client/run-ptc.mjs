// run-ptc.mjs — one programmatic tool calling run through LibreChat's own
// client (@librechat/agents 3.9.2: createProgrammaticToolCallingTool, the
// `run_tools_with_code` tool, or createBashProgrammaticToolCallingTool,
// `run_tools_with_bash`) against a live kcr serve (POST /exec/programmatic).
//
// The tool is invoked the way LibreChat's ToolNode invokes it: a tool call
// whose extra fields reach the tool as config.toolCall — toolMap (name ->
// LangChain tool), toolDefs ({name, description, parameters} of the tools
// code may call), programmaticToolName, and session_id / _injected_files when
// the conversation has a code session — and a config carrying the run's
// abort signal (with a signal the client names each request with
// X-LibreChat-Code-Request-ID, and on abort POSTs /exec/programmatic/cancel).
// The tools are LangChain tools (tool() of the @langchain/core that
// agents-current itself uses) with zod schemas; each records its invocation.
//
//   PTC_SCENARIO      one of SCENARIOS below (or argv[2]); default one
//   CODE_API_BASEURL  base URL; the tool appends /exec/programmatic (e.g. http://127.0.0.1:8000/v1)
//   CODE_API_KEY      the API key, sent as X-API-Key through authHeaders
//   CODEAPI_JWT_PRIVATE_KEY or CODEAPI_JWT_PRIVATE_KEY_BASE64
//                     act as a LibreChat >= 0.8.6 host instead: authHeaders is an
//                     async function returning {Authorization: 'Bearer <jwt>'}
//   CODE_USER_ID      the JWT's sub, default kcr-test-user
//   CODEAPI_TENANT_ID the JWT's tenant_id, default legacy
//   PTC_SESSION_ID    the code session's id (ToolNode's session_id)
//   PTC_FILES         JSON list of {id, name, storage_session_id} (ToolNode's _injected_files)
//   PTC_CODE          replaces the scenario's code (its options stay)
//
// Prints one JSON line: {scenario, auth, tool, content, artifact, calls,
// maxConcurrent, barrierTimedOut} or, if the tool threw, the same with
// {error} instead of content/artifact (exit 1). calls: every tool invocation
// in order, {name, input, concurrent} (concurrent: invocations in flight
// when it started, itself included).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getCodeApiAuthHeaders, hasPrivateKeyInEnv } from './codeapi-jwt.cjs';

const agents = await import('agents-current');
// tool() and zod as agents-current itself resolves them (@langchain/core
// 1.2.8, nested under it; tests/client's top-level @langchain/core is
// agents-classic's 0.3.x).
const fromAgents = createRequire(fileURLToPath(import.meta.resolve('agents-current')));
const { tool } = fromAgents('@langchain/core/tools');
const { toJsonSchema } = fromAgents('@langchain/core/utils/json_schema');
const { z } = fromAgents('zod');

const scenarioName = process.argv[2] ?? process.env.PTC_SCENARIO ?? 'one';
const base = process.env.CODE_API_BASEURL;
const apiKey = process.env.CODE_API_KEY;
const wantJwt = hasPrivateKeyInEnv();
if (!base || (!apiKey && !wantJwt)) {
  console.error('set CODE_API_BASEURL and CODE_API_KEY (or CODEAPI_JWT_PRIVATE_KEY)');
  process.exit(2);
}

// ---------------------------------------------------------------- the tools
const calls = [];
let inFlight = 0;
let maxConcurrent = 0;
let barrierTimedOut = false;
const controller = new AbortController();
let onInvoke = () => {};

/** A LangChain tool whose invocations are recorded in `calls`. */
function recorded(name, description, schema, fn) {
  return tool(
    async (input) => {
      inFlight += 1;
      maxConcurrent = Math.max(maxConcurrent, inFlight);
      calls.push({ name, input, concurrent: inFlight });
      onInvoke(name, input);
      try {
        return await fn(input);
      } finally {
        inFlight -= 1;
      }
    },
    { name, description, schema }
  );
}

// fetch_item waits until GATHER_N invocations are in flight at once: it
// returns at once when the server sent them in one batch (the client runs a
// batch's calls concurrently), and only after BARRIER_MS (barrierTimedOut)
// if they came one round trip at a time.
const GATHER_N = 3;
const BARRIER_MS = 15_000;
let arrived = 0;
let releaseBarrier;
const barrier = new Promise((resolve) => (releaseBarrier = resolve));

const TEMPS = { Oslo: 4, Rome: 17 };
const TOOLS = [
  recorded('get-weather', 'Current temperature of a city',
    z.object({ city: z.string().describe('city name') }),
    async ({ city }) => ({ city, temp: TEMPS[city] ?? 0 })),
  recorded('add_one', 'Adds one to n', z.object({ n: z.number() }), async ({ n }) => n + 1),
  recorded('fetch_item', 'Fetches an item by id (a string)', z.object({ id: z.number() }),
    async ({ id }) => {
      arrived += 1;
      if (arrived >= GATHER_N) releaseBarrier();
      let timer;
      await Promise.race([barrier, new Promise((resolve) => {
        timer = setTimeout(() => { barrierTimedOut = true; resolve(); }, BARRIER_MS);
      })]);
      clearTimeout(timer);
      return `item-${id}`;
    }),
  recorded('fail_tool', 'Always fails', z.object({ reason: z.string() }), async ({ reason }) => {
    throw new Error(`boom: ${reason}`);
  }),
  recorded('get_rows', 'Rows of a small table', z.object({}), async () => [
    { name: 'a', value: 1 }, { name: 'b', value: 2 }]),
];

// ---------------------------------------------------------------- scenarios
// code: the program; bash: run through run_tools_with_bash; timeout: the
// model's `timeout` argument (ms); abortAfterMs: abort the run's signal that
// long after the first tool invocation (the next request is then in flight).
const SCENARIOS = {
  // One call; the hyphenated tool is get_weather in Python, its result a dict.
  one: { code: 'w = await get_weather(city="Oslo")\nprint(w["city"], w["temp"])' },
  // Five dependent calls: each input is the previous result.
  loop: { code: 'n = 0\nfor _ in range(5):\n    n = await add_one(n=n)\nprint("n =", n)' },
  // Three calls at once (asyncio without an import): one batch.
  gather: {
    code: 'a, b, c = await asyncio.gather(fetch_item(id=1), fetch_item(id=2), fetch_item(id=3))\n'
      + 'print(a, b, c, type(a).__name__)',
  },
  // A failing tool raises ToolError, which the program catches.
  tool_error_caught: {
    code: 'try:\n    await fail_tool(reason="disk full")\n    print("no error")\n'
      + 'except ToolError as e:\n    print("caught", isinstance(e, Exception), str(e))',
  },
  // ...and, uncaught, fails the run.
  tool_error_uncaught: { code: 'await fail_tool(reason="nobody caught me")\nprint("unreachable")' },
  // Tool results written to a file after the calls: the file comes back.
  file: {
    code: 'rows = await get_rows()\nw = await get_weather(city="Rome")\n'
      + 'with open("/mnt/data/report.csv", "w") as f:\n'
      + '    f.write("name,value\\n")\n'
      + '    for r in rows:\n        f.write(f"{r[\'name\']},{r[\'value\']}\\n")\n'
      + '    f.write(f"rome,{w[\'temp\']}\\n")\n'
      + 'print("wrote", len(rows) + 1, "rows")',
  },
  // An input file of the code session, read after a tool call.
  read_input: {
    code: 'w = await get_weather(city="Oslo")\nprint(open("/mnt/data/input.txt").read().strip(), w["temp"])',
  },
  // The run's time limit is hit while it runs, after a tool call.
  timeout: { code: 'await get_weather(city="Oslo")\nwhile True:\n    pass', timeout: 2000 },
  // The host aborts while the program spins after its tool call.
  abort: {
    code: 'await get_weather(city="Oslo")\nwhile True:\n    pass',
    timeout: 60_000, abortAfterMs: 1000,
  },
  // bash: one call; the result arrives as compact JSON on stdout.
  bash_one: { bash: true, code: 'w=$(get_weather \'{"city": "Oslo"}\')\necho "got $w"' },
  // bash: two calls in the background, then wait.
  bash_background: {
    bash: true,
    code: '{ a=$(get_weather \'{"city":"Oslo"}\'); printf \'%s\\n\' "$a" > /tmp/a.json; } &\n'
      + '{ b=$(get_weather \'{"city":"Rome"}\'); printf \'%s\\n\' "$b" > /tmp/b.json; } &\n'
      + 'wait\ncat /tmp/a.json /tmp/b.json',
  },
  // bash: a failing tool exits 1 with its message on stderr.
  bash_tool_error: {
    bash: true,
    code: 'if out=$(fail_tool \'{"reason":"no disk"}\'); then echo "ok $out"; else echo "rc=$?"; fi',
  },
};

const scenario = SCENARIOS[scenarioName];
if (!scenario) {
  console.error(`unknown scenario ${scenarioName}; one of ${Object.keys(SCENARIOS).join(' ')}`);
  process.exit(2);
}
const code = process.env.PTC_CODE ?? scenario.code;

// ---------------------------------------------------------------- the client
let auth = 'api-key';
let authHeaders = { 'X-API-Key': apiKey };
if (wantJwt) {
  auth = 'librechat-jwt';
  const sub = process.env.CODE_USER_ID || 'kcr-test-user';
  const tenantId = process.env.CODEAPI_TENANT_ID || 'legacy';
  authHeaders = async () => getCodeApiAuthHeaders({ sub, tenantId });
}
const factory = scenario.bash
  ? agents.createBashProgrammaticToolCallingTool
  : agents.createProgrammaticToolCallingTool;
const ptc = factory({ baseUrl: base, authHeaders, runTimeoutMs: scenario.timeout ?? 15_000 });

if (scenario.abortAfterMs != null) {
  let armed = false;
  onInvoke = () => {
    if (armed) return;
    armed = true;
    setTimeout(() => controller.abort(), scenario.abortAfterMs);
  };
}

// What ToolNode puts in the tool call (getProgrammaticTools and the code
// session injection): tools marked for code execution, their definitions
// with JSON-schema parameters.
const toolMap = new Map(TOOLS.map((t) => [t.name, t]));
const toolDefs = TOOLS.map((t) => ({
  name: t.name,
  description: t.description,
  parameters: toJsonSchema(t.schema),
  allowed_callers: ['code_execution'],
}));
const toolCall = {
  id: 'call_ptc_1',
  name: ptc.name,
  type: 'tool_call',
  args: { code, ...(scenario.timeout != null ? { timeout: scenario.timeout } : {}) },
  toolMap,
  toolDefs,
  disallowedToolDefs: [],
  programmaticToolName: ptc.name,
};
if (process.env.PTC_SESSION_ID) toolCall.session_id = process.env.PTC_SESSION_ID;
if (process.env.PTC_FILES) {
  toolCall._injected_files = JSON.parse(process.env.PTC_FILES).map((f) => ({
    id: f.id, resource_id: f.id, name: f.name,
    storage_session_id: f.storage_session_id ?? process.env.PTC_SESSION_ID, kind: 'user',
  }));
}

const out = { scenario: scenarioName, auth, tool: ptc.name };
const record = () => ({ calls, maxConcurrent, barrierTimedOut });
try {
  const msg = await ptc.invoke(toolCall, { signal: controller.signal });
  console.log(JSON.stringify({ ...out, content: msg.content, artifact: msg.artifact, ...record() }));
} catch (err) {
  console.log(JSON.stringify({
    ...out, error: err?.message ?? String(err), aborted: controller.signal.aborted, ...record(),
  }));
  process.exitCode = 1;
}
// No process.exit(): after an abort the tool rejects at once while the
// client still sends its cancel request; node exits when that is done (at
// most 2 s in the client), or here if something else lingers.
setTimeout(() => process.exit(), 10_000).unref();
