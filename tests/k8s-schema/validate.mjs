// validate.mjs — strict validation of Kubernetes objects against the OpenAPI
// schema of the API server, as compiled by the npm package kubernetes-models
// (pinned in package-lock.json). For tests only: the API server SIMULATION
// (tests/e2e/k8s_sim.py) and the Helm chart tests send it objects.
//
// Protocol: one JSON object per line on stdin, {"id": any, "object": {...}}
// (apiVersion and kind select the schema); one line per request on stdout,
// {"id": ..., "ok": true} or {"id": ..., "ok": false, "errors": [{"field":
// "spec.securityContext.runAsUsr", "reason": "FieldValueNotSupported" |
// "FieldValueInvalid" | "FieldValueRequired", "message": "..."}]}.
//
// kubernetes-models checks types, enums, formats and required fields, but not
// unknown fields (the schemas have no additionalProperties: false). Strict
// field validation (fieldValidation=Strict) rejects those, so the object is
// handed to the validator behind a Proxy that records which property names
// the validator looks up on each object: the compiled validator reads every
// property its schema declares, and enumerates the keys of maps (labels,
// resources.limits...). A key the validator neither read nor enumerated is
// not in the schema: an unknown field.
import readline from "node:readline";
import path from "node:path";
import url from "node:url";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const schemas = path.join(here, "node_modules", "kubernetes-models", "_schemas");

// apiVersion -> the schema name prefix of kubernetes-models.
function schemaName(apiVersion, kind) {
    if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Za-z]+$/.test(kind))
        return null;
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["core", apiVersion];
    if (!/^v[0-9a-z]+$/.test(version || ""))
        return null;
    const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
    const g = group.replace(/\.k8s\.io$/, "").replace(/\.authorization$/, "").split(".").map(cap).join("");
    return `IoK8sApi${g}${cap(version)}${kind}`;
}

const cache = new Map();
async function validatorFor(apiVersion, kind) {
    const name = schemaName(apiVersion, kind);
    if (!name)
        return null;
    if (!cache.has(name)) {
        let v = null;
        try {
            v = (await import(url.pathToFileURL(path.join(schemas, name + ".js")).href)).validate;
        } catch {
            v = null;
        }
        cache.set(name, v);
    }
    return cache.get(name);
}

function isObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
}

// Wraps data so that reads[path] collects the keys looked up on each object
// and maps[path] marks the objects whose keys were enumerated.
function watched(data, p, seen) {
    if (data === null || typeof data !== "object")
        return data;
    const rec = { read: new Set(), enumerated: false };
    seen.set(p, rec);
    const kids = new Map();
    const child = (k) => {
        if (!kids.has(k))
            kids.set(k, watched(data[k], Array.isArray(data) ? `${p}[${k}]` : p ? `${p}.${k}` : k, seen));
        return kids.get(k);
    };
    return new Proxy(data, {
        get(t, k) {
            if (typeof k !== "string")
                return Reflect.get(t, k);
            rec.read.add(k);
            return Object.prototype.hasOwnProperty.call(t, k) ? child(k) : Reflect.get(t, k);
        },
        has(t, k) {
            if (typeof k === "string")
                rec.read.add(k);
            return Reflect.has(t, k);
        },
        ownKeys(t) {
            rec.enumerated = true;
            return Reflect.ownKeys(t);
        },
    });
}

function unknownFields(data, p, seen, out) {
    if (Array.isArray(data)) {
        data.forEach((v, i) => unknownFields(v, `${p}[${i}]`, seen, out));
        return;
    }
    if (!isObject(data))
        return;
    const rec = seen.get(p);
    if (!rec || rec.enumerated)
        return; // not reached (a type error above) or a map: any key
    for (const k of Object.keys(data)) {
        const kp = p ? `${p}.${k}` : k;
        if (!rec.read.has(k))
            out.push({ field: kp, reason: "FieldValueNotSupported", message: `unknown field "${kp}"` });
        else
            unknownFields(data[k], kp, seen, out);
    }
}

function fieldOf(instancePath, params) {
    let f = instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
        .reduce((acc, s) => (/^[0-9]+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
    if (params && params.missingProperty)
        f = f ? `${f}.${params.missingProperty}` : params.missingProperty;
    return f;
}

async function check(obj) {
    if (!isObject(obj))
        return [{ field: "", reason: "FieldValueInvalid", message: "not an object" }];
    const v = await validatorFor(obj.apiVersion, obj.kind);
    if (!v)
        return [{ field: "kind", reason: "FieldValueNotSupported",
                  message: `no schema for apiVersion ${JSON.stringify(obj.apiVersion)} kind ${JSON.stringify(obj.kind)}` }];
    const seen = new Map();
    const ok = v(watched(obj, "", seen));
    const errors = [];
    for (const e of ok ? [] : v.errors || []) {
        const field = fieldOf(e.instancePath, e.params);
        errors.push({
            field,
            reason: e.keyword === "required" ? "FieldValueRequired" : "FieldValueInvalid",
            message: e.keyword === "required" ? `${field}: Required value`
                : `${field}: Invalid value: ${JSON.stringify(fieldValue(obj, e.instancePath))}: ` +
                  `${e.keyword} ${JSON.stringify(e.params)}`,
        });
    }
    unknownFields(obj, "", seen, errors);
    return errors;
}

function fieldValue(obj, instancePath) {
    let v = obj;
    for (const s of instancePath.split("/").slice(1))
        v = v == null ? v : v[s.replace(/~1/g, "/").replace(/~0/g, "~")];
    return v === undefined ? null : v;
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of rl) {
    if (!line.trim())
        continue;
    let req;
    try {
        req = JSON.parse(line);
    } catch (e) {
        process.stdout.write(JSON.stringify({ id: null, ok: false, errors: [{ field: "", reason: "BadRequest", message: String(e) }] }) + "\n");
        continue;
    }
    const errors = await check(req.object);
    process.stdout.write(JSON.stringify(errors.length ? { id: req.id, ok: false, errors } : { id: req.id, ok: true }) + "\n");
}
