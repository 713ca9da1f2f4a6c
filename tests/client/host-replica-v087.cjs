// host-replica-v087.cjs — replays what a LibreChat >= v0.8.7 server does around
// the Code API (docs/librechat.md; upload and download: docs/api.md), with
// axios and form-data as LibreChat's server uses them and a bearer JWT minted
// like LibreChat's codeapi.ts (codeapi-jwt.cjs):
//
//   1. primeFiles re-upload: multipart kind=user, id=<sub>, then file
//      "data/input.csv" (a nested name), streamed (chunked);
//   2. the freshness check GET /sessions/{storage_session_id}/objects/{fileId}
//      and its lastModified (< 23 h old, as checkIfActive wants);
//   3. writeSandboxFile: POST /exec bash `python3 - <<'PY' … PY` writing
//      /mnt/data/notes/sub/out.txt, with the uploaded file passed as a reference;
//   4. processCodeOutput: GET /download/{session_id}/{id}?kind=user&id=<sub>
//      of every output file;
//   5. readSandboxFile: POST /exec bash `cat '<path>'` in a later call, for the
//      written file and for the uploaded one.
//
// Prints one JSON line with what it saw and a boolean per check; exits 1 when
// a check fails or a request throws (the message is in "error").
//
//   CODE_API_BASEURL  e.g. http://127.0.0.1:8000/v1
//   CODE_USER_ID      the LibreChat user id (the JWT's sub), default kcr-replica-user
//   CODEAPI_TENANT_ID default legacy
//   CODEAPI_JWT_PRIVATE_KEY or CODEAPI_JWT_PRIVATE_KEY_BASE64  the signing key
'use strict';

const axios = require('axios');
const FormData = require('form-data');
const { Readable } = require('stream');
const { getCodeApiAuthHeaders } = require('./codeapi-jwt.cjs');

const base = (process.env.CODE_API_BASEURL ?? '').replace(/\/+$/, '');
const sub = process.env.CODE_USER_ID || 'kcr-replica-user';
const tenantId = process.env.CODEAPI_TENANT_ID || 'legacy';

const INPUT_NAME = 'data/input.csv';
const INPUT = Buffer.from('name,value\nkcr,1\nlibrechat,2\n');
const OUT_PATH = '/mnt/data/notes/sub/out.txt';
const OUT_NAME = 'notes/sub/out.txt';
const OUT = Buffer.from("notes from the host\nline 2: caf\u00e9 \u2014 it's 'quoted' $HOME `x`\n");
const DAY_23H_MS = 23 * 60 * 60 * 1000;

const report = { ok: false, sub, checks: {} };

function check(name, value) {
  report.checks[name] = Boolean(value);
  return Boolean(value);
}

/** A POSIX single-quoted shell word: ' inside becomes '\'' . */
function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** The bash command writeSandboxFile sends: python3 reading a heredoc that
 * decodes a base64 JSON payload, creates the parent directory and writes. */
function writeFileCommand(filePath, content) {
  const payload = Buffer.from(JSON.stringify({
    file_path: filePath, content_b64: Buffer.from(content).toString('base64'),
  })).toString('base64');
  return [
    "python3 - <<'PY'",
    'import base64, json, os',
    `payload = json.loads(base64.b64decode("${payload}"))`,
    'path = payload["file_path"]',
    'data = base64.b64decode(payload["content_b64"])',
    'parent = os.path.dirname(path)',
    'if parent:',
    '    os.makedirs(parent, exist_ok=True)',
    'with open(path, "wb") as f:',
    '    f.write(data)',
    'print(f"WROTE {len(data)} bytes to {path}")',
    'PY',
  ].join('\n');
}

function readFileCommand(filePath) {
  return `cat ${shellQuote(filePath)}`;
}

function describe(res) {
  const body = typeof res.data === 'string' ? res.data
    : Buffer.isBuffer(res.data) || res.data instanceof ArrayBuffer ? Buffer.from(res.data).toString()
      : JSON.stringify(res.data);
  return `${res.config.method.toUpperCase()} ${res.config.url} -> ${res.status} ${String(body).slice(0, 300)}`;
}

function expectStatus(res, name, status = 200) {
  if (!check(name, res.status === status)) throw new Error(`${name}: ${describe(res)}`);
}

(async () => {
  if (!base) throw new Error('set CODE_API_BASEURL');
  const auth = await getCodeApiAuthHeaders({ sub, tenantId });
  const common = { 'User-Agent': 'LibreChat/1.0', ...auth };
  const opts = { validateStatus: () => true };

  // 1. Upload (primeFiles re-upload): identity fields first, then the file.
  const form = new FormData();
  form.append('kind', 'user');
  form.append('id', sub);
  // A stream of unknown length: axios sends it chunked, as the host does.
  // form-data keeps only the basename of `filename`; `filepath` is sent as is,
  // which is how a nested name reaches the wire as filename="data/input.csv".
  form.append('file', Readable.from([INPUT]), { filepath: INPUT_NAME, contentType: 'text/csv' });
  const up = await axios.post(`${base}/upload`, form, {
    ...opts,
    headers: { ...form.getHeaders(), 'Content-Type': 'multipart/form-data', ...common },
    maxBodyLength: 150 << 20,
    timeout: 120000,
  });
  report.upload_status = up.status;
  expectStatus(up, 'upload_status');
  report.upload_chunked = /transfer-encoding: chunked/i.test(up.request?._header ?? '');
  report.upload_message = up.data.message;
  const storageSessionId = up.data.storage_session_id;
  const fileId = up.data.files?.[0]?.fileId;
  report.storage_session_id = storageSessionId;
  report.upload_session_id = up.data.session_id;
  report.file_id = fileId;
  report.upload_filename = up.data.files?.[0]?.filename;
  check('upload_success', up.data.message === 'success');
  check('upload_ids', /^[A-Za-z0-9_-]{21}$/.test(storageSessionId ?? '')
    && /^[A-Za-z0-9_-]{21}$/.test(fileId ?? ''));
  check('upload_nested_name', report.upload_filename === INPUT_NAME);
  if (!storageSessionId || !fileId) throw new Error(`upload: ${describe(up)}`);

  // 2. Freshness check (checkIfActive).
  const obj = await axios.get(`${base}/sessions/${storageSessionId}/objects/${fileId}`, {
    ...opts, params: { kind: 'user', id: sub }, headers: common, timeout: 5000,
  });
  report.objects_status = obj.status;
  expectStatus(obj, 'objects_status');
  report.objects = obj.data;
  const lastModified = new Date(obj.data.lastModified);
  const ageMs = Date.now() - lastModified.getTime();
  report.last_modified_age_ms = ageMs;
  check('objects_fresh', !Number.isNaN(lastModified.getTime()) && ageMs < DAY_23H_MS && ageMs > -60000);
  check('objects_size', obj.data.size === INPUT.length);

  const inputRef = {
    id: fileId, resource_id: sub, storage_session_id: storageSessionId, name: INPUT_NAME, kind: 'user',
  };

  // 3. writeSandboxFile, reusing the upload's session through the reference.
  const w = await axios.post(`${base}/exec`, {
    lang: 'bash', code: writeFileCommand(OUT_PATH, OUT), files: [inputRef],
  }, { ...opts, headers: { 'Content-Type': 'application/json', ...common } });
  report.write_status = w.status;
  expectStatus(w, 'write_status');
  report.write_stdout = w.data.stdout;
  report.write_stderr = w.data.stderr;
  check('write_stdout', (w.data.stdout ?? '').trim() === `WROTE ${OUT.length} bytes to ${OUT_PATH}`);
  const sessionId = w.data.session_id;
  const outputs = Array.isArray(w.data.files) ? w.data.files : [];
  report.exec_session_id = sessionId;
  report.output_names = outputs.map((f) => f.name);
  const out = outputs.find((f) => f.name === OUT_NAME);
  check('output_named_by_relative_path', out != null);
  if (!sessionId || !out) throw new Error(`write: no output ${OUT_NAME}: ${describe(w)}`);

  // 4. processCodeOutput: download every output file.
  report.downloads = [];
  for (const f of outputs) {
    const d = await axios.get(`${base}/download/${sessionId}/${f.id}`, {
      ...opts, params: { kind: 'user', id: sub }, headers: common,
      responseType: 'arraybuffer', timeout: 15000,
    });
    const bytes = Buffer.from(d.data);
    const entry = { name: f.name, id: f.id, status: d.status, size: bytes.length };
    if (f.name === OUT_NAME) entry.matches = d.status === 200 && bytes.equals(OUT);
    if (f.name === INPUT_NAME) entry.matches = d.status === 200 && bytes.equals(INPUT);
    report.downloads.push(entry);
  }
  check('downloads_ok', report.downloads.every((e) => e.status === 200));
  check('download_out_bytes', report.downloads.some((e) => e.name === OUT_NAME && e.matches));

  // 5. readSandboxFile in a later call.
  const outRef = {
    id: out.id, resource_id: sub, storage_session_id: out.storage_session_id ?? sessionId,
    name: OUT_NAME, kind: 'user',
  };
  const r = await axios.post(`${base}/exec`, {
    lang: 'bash', code: readFileCommand(OUT_PATH), session_id: sessionId, files: [outRef],
  }, { ...opts, headers: { 'Content-Type': 'application/json', ...common } });
  report.read_status = r.status;
  expectStatus(r, 'read_status');
  report.read_stderr = r.data.stderr;
  check('read_back_equal', r.data.stdout === OUT.toString());

  const ri = await axios.post(`${base}/exec`, {
    lang: 'bash', code: readFileCommand(`/mnt/data/${INPUT_NAME}`), files: [inputRef],
  }, { ...opts, headers: { 'Content-Type': 'application/json', ...common } });
  report.read_input_status = ri.status;
  expectStatus(ri, 'read_input_status');
  report.read_input_stderr = ri.data.stderr;
  check('read_input_equal', ri.data.stdout === INPUT.toString());

  const failed = Object.entries(report.checks).filter(([, v]) => !v).map(([k]) => k);
  if (failed.length) throw new Error(`failed checks: ${failed.join(', ')}`);
  report.ok = true;
})().then(() => {
  console.log(JSON.stringify(report));
}, (e) => {
  report.error = e?.message ?? String(e);
  console.log(JSON.stringify(report));
  process.exit(1);
});
