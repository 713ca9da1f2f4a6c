// Validates an OpenAPI document read on stdin against the OpenAPI 3.0
// schema, resolving every $ref (@apidevtools/swagger-parser). Prints one JSON
// line: {"ok": true, "paths": N, "operations": N} or {"ok": false, "error"}.
const SwaggerParser = require("@apidevtools/swagger-parser");

let text = "";
process.stdin.on("data", (d) => (text += d));
process.stdin.on("end", async () => {
  try {
    const api = await SwaggerParser.validate(JSON.parse(text));
    const methods = ["get", "put", "post", "delete", "options", "head", "patch"];
    let operations = 0;
    for (const item of Object.values(api.paths))
      operations += methods.filter((m) => item[m]).length;
    console.log(JSON.stringify({ ok: true, paths: Object.keys(api.paths).length, operations }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: e.message }));
    process.exit(1);
  }
});
