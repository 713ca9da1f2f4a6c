// upload-replica.cjs — replays what LibreChat's server (<= v0.8.5) does around
// the Code API with the same axios and form-data majors: a chunked multipart
// upload (no Content-Length) with entity_id, the ?detail=summary freshness
// check, and the download of the stored bytes. Prints one JSON line.
//
//   CODE_API_BASEURL (e.g. http://127.0.0.1:8000/v1), CODE_API_KEY
const axios = require('axios');
const FormData = require('form-data');
const { Readable } = require('stream');

const base = process.env.CODE_API_BASEURL;
const key = process.env.CODE_API_KEY;
const content = Buffer.from('name,value\nkcr,1\n');
(async () => {
  const form = new FormData();
  form.append('entity_id', 'agent_replica');
  // A stream of unknown length makes axios send Transfer-Encoding: chunked.
  form.append('file', Readable.from([content]), 'my data.csv');
  const headers = {
    ...form.getHeaders(),
    'Content-Type': 'multipart/form-data',
    'User-Agent': 'LibreChat/1.0',
    'User-Id': 'user-123',
    'X-API-Key': key,
  };
  const up = await axios.post(`${base}/upload`, form, { headers, maxBodyLength: 150 << 20 });
  const sid = up.data.session_id;
  const fid = up.data.files[0].fileId;
  const auth = { 'User-Agent': 'LibreChat/1.0', 'X-API-Key': key };
  const s = await axios.get(`${base}/files/${sid}`, {
    params: { detail: 'summary', entity_id: 'agent_replica' }, headers: auth, timeout: 5000 });
  const entry = s.data.find((f) => f.name.startsWith(`${sid}/${fid}`));
  const ageMs = Date.now() - new Date(entry.lastModified).getTime();
  const d = await axios({ method: 'get', url: `${base}/download/${sid}/${fid}`,
    responseType: 'arraybuffer', headers: auth, timeout: 15000 });
  console.log(JSON.stringify({
    chunked: /transfer-encoding: chunked/i.test(up.request._header ?? ''),
    content_length: /content-length:/i.test(up.request._header ?? ''),
    message: up.data.message, session_id: sid, file_id: fid, filename: up.data.files[0].filename,
    summary_age_ms: ageMs, downloaded: Buffer.from(d.data).equals(content),
  }));
})().catch((e) => { console.error('ERR', e.message); process.exit(1); });
