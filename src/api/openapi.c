#include "api/openapi.h"
#include "api/context.h"
#include "common/lang.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The bodies that json_pack would make unreadable, as JSON text. */
static const char more_schemas[] =
    "{"
    "\"AuthError\": {\"type\": \"object\", \"required\": [\"error\"], \"properties\": {"
    "  \"error\": {\"type\": \"string\", \"enum\": [\"API key is required\", \"Invalid API key\","
    "    \"Authentication required\", \"Invalid or expired token\", \"Invalid credentials\"]},"
    "  \"timestamp\": {\"type\": \"number\"}}},"
    "\"RateLimited\": {\"type\": \"object\", \"required\": [\"error\", \"retry_after_seconds\"],"
    "  \"properties\": {\"error\": {\"type\": \"string\", \"enum\": [\"rate_limited\"]},"
    "  \"message\": {\"type\": \"string\"}, \"retry_after_seconds\": {\"type\": \"integer\"}}},"
    "\"SessionObject\": {\"type\": \"object\", \"required\": [\"lastModified\", \"id\"],"
    "  \"properties\": {\"lastModified\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "  \"size\": {\"type\": \"integer\"}, \"name\": {\"type\": \"string\"},"
    "  \"storage_session_id\": {\"type\": \"string\"}, \"id\": {\"type\": \"string\"},"
    "  \"kind\": {\"type\": \"string\"}}},"
    "\"FileSummary\": {\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"description\": \"<session_id>/<file_id>\"},"
    "  \"fileId\": {\"type\": \"string\"},"
    "  \"lastModified\": {\"type\": \"string\", \"format\": \"date-time\"}}},"
    "\"FileSimple\": {\"type\": \"object\", \"properties\": {"
    "  \"id\": {\"type\": \"string\"}, \"name\": {\"type\": \"string\"},"
    "  \"path\": {\"type\": \"string\"}}},"
    "\"FileFull\": {\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\"}, \"id\": {\"type\": \"string\"},"
    "  \"session_id\": {\"type\": \"string\"}, \"content\": {\"nullable\": true},"
    "  \"size\": {\"type\": \"integer\"}, \"lastModified\": {\"type\": \"string\"},"
    "  \"etag\": {\"type\": \"string\"}, \"contentType\": {\"type\": \"string\"},"
    "  \"metadata\": {\"type\": \"object\", \"properties\": {"
    "    \"content-type\": {\"type\": \"string\"},"
    "    \"original-filename\": {\"type\": \"string\"}}}}},"
    "\"FileList\": {\"description\": \"detail=summary, simple or full (the default)\","
    "  \"oneOf\": ["
    "    {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/FileSummary\"}},"
    "    {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/FileSimple\"}},"
    "    {\"type\": \"array\", \"items\": {\"$ref\": \"#/components/schemas/FileFull\"}}]},"
    "\"StateInfo\": {\"type\": \"object\", \"properties\": {"
    "  \"exists\": {\"type\": \"boolean\"}, \"session_id\": {\"type\": \"string\"},"
    "  \"size_bytes\": {\"type\": \"integer\"}, \"hash\": {\"type\": \"string\"},"
    "  \"created_at\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "  \"expires_at\": {\"type\": \"string\", \"nullable\": true},"
    "  \"source\": {\"type\": \"string\"}}},"
    "\"Health\": {\"type\": \"object\", \"properties\": {"
    "  \"status\": {\"type\": \"string\"}, \"version\": {\"type\": \"string\"},"
    "  \"config\": {\"type\": \"object\"}}},"
    "\"Ready\": {\"type\": \"object\", \"properties\": {"
    "  \"status\": {\"type\": \"string\", \"enum\": [\"ready\", \"not_ready\"]}}},"
    "\"ServiceState\": {\"type\": \"object\", \"properties\": {"
    "  \"service\": {\"type\": \"string\"},"
    "  \"status\": {\"type\": \"string\", \"enum\": [\"healthy\", \"degraded\", \"unhealthy\"]},"
    "  \"timestamp\": {\"type\": \"string\"}, \"response_time_ms\": {\"type\": \"number\"}},"
    "  \"additionalProperties\": true},"
    "\"HealthDetailed\": {\"type\": \"object\", \"properties\": {"
    "  \"status\": {\"type\": \"string\", \"enum\": [\"healthy\", \"degraded\", \"unhealthy\"]},"
    "  \"timestamp\": {\"type\": \"string\"},"
    "  \"services\": {\"type\": \"object\","
    "    \"additionalProperties\": {\"$ref\": \"#/components/schemas/ServiceState\"}}}}"
    "}";

/* 429 with the body LibreChat reads, and the RateLimit-* headers. */
static json_t *rate_limited_response(void)
{
    json_t *h = json_pack("{s:{s:s}}", "schema", "type", "integer");
    return json_pack("{s:s,s:{s:o,s:O,s:O,s:O},s:{s:{s:{s:s}}}}", "description",
                     "Over the caller's requests per minute for this route", "headers",
                     "Retry-After", h, "RateLimit-Limit", h, "RateLimit-Remaining", h,
                     "RateLimit-Reset", h, "content", "application/json", "schema", "$ref",
                     "#/components/schemas/RateLimited");
}

/* Responses every operation can give, referred to from each one. */
static json_t *common_responses(void)
{
    json_t *r = json_pack(
        "{s:{s:s,s:{s:{s:{s:s}}}},s:{s:s,s:{s:{s:{s:s}}}},s:{s:s,s:{s:{s:{s:s}}}},"
        "s:{s:s,s:{s:{s:{s:s}}}}}",
        "Unauthorized", "description", "No credentials (API key, LibreChat JWT), or invalid ones",
        "content", "application/json", "schema", "$ref", "#/components/schemas/AuthError",
        "UnsupportedMediaType", "description",
        "A body that is not JSON, multipart, form or text (checked before the key)", "content",
        "application/json", "schema", "$ref", "#/components/schemas/Error", "ServerError",
        "description", "Internal error", "content", "application/json", "schema", "$ref",
        "#/components/schemas/Error", "Unavailable", "description",
        "A dependency (storage, pods) is down", "content", "application/json", "schema", "$ref",
        "#/components/schemas/Error");
    json_object_set_new(r, "RateLimited", rate_limited_response());
    json_object_set_new(r, "Forbidden",
                        json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
                                  "kind=user names another user than the caller", "content",
                                  "application/json", "schema", "$ref",
                                  "#/components/schemas/Error"));
    return r;
}

static void add_response(json_t *responses, const char *status, const char *name)
{
    if (json_object_get(responses, status))
        return;
    char r[128];
    snprintf(r, sizeof(r), "#/components/responses/%s", name);
    json_object_set_new(responses, status, json_pack("{s:s}", "$ref", r));
}

/* One pass over every operation, so that none can forget them: 500 always;
 * 401 and 503 where a key is needed; 415 where a JSON body is taken. */
static void add_common_responses(json_t *paths)
{
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        const char *method;
        json_t *o;
        json_object_foreach(item, method, o)
        {
            json_t *responses = json_object_get(o, "responses");
            if (!responses)
                continue; /* "parameters" */
            bool secured = !json_object_get(o, "security");
            json_t *body = json_object_get(json_object_get(o, "requestBody"), "content");
            add_response(responses, "500", "ServerError");
            if (secured) {
                add_response(responses, "401", "Unauthorized");
                add_response(responses, "503", "Unavailable");
            }
            const char *id = json_string_value(json_object_get(o, "operationId"));
            static const char *const limited[] = {"exec", "upload", "uploadBatch", "download"};
            for (size_t i = 0; id && i < sizeof(limited) / sizeof(limited[0]); i++)
                if (!strcmp(id, limited[i]))
                    add_response(responses, "429", "RateLimited");
            json_t *params = json_object_get(o, "parameters");
            bool named = false;
            size_t k;
            json_t *prm;
            json_array_foreach(params, k, prm) named |=
                !strcmp(json_string_value(json_object_get(prm, "name")) ?: "", "kind");
            if (named || (id && !strncmp(id, "upload", 6)))
                add_response(responses, "403", "Forbidden");
            if (json_object_get(body, "application/json"))
                add_response(responses, "415", "UnsupportedMediaType");
        }
    }
}

static json_t *ref(const char *name)
{
    char r[128];
    snprintf(r, sizeof(r), "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", r);
}

static json_t *json_content(json_t *schema)
{
    return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

/* A response with a JSON body of schema (taken; NULL for no body). */
static json_t *resp(const char *desc, json_t *schema)
{
    json_t *r = json_pack("{s:s}", "description", desc);
    if (schema)
        json_object_set_new(r, "content", json_content(schema));
    return r;
}

static json_t *path_param(const char *name)
{
    return json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", "path", "required", 1, "schema",
                     "type", "string");
}

/* An operation; responses taken. secured adds the API-key requirement. */
static json_t *op(const char *id, const char *summary, bool secured, json_t *responses)
{
    json_t *o =
        json_pack("{s:s,s:s,s:o}", "operationId", id, "summary", summary, "responses", responses);
    if (!secured)
        json_object_set_new(o, "security", json_array());
    return o;
}

/* params (taken) followed by the optional kind/id/version query of
 * LibreChat v0.8.7 (docs/auth.md). */
static json_t *with_resource_params(json_t *params)
{
    json_t *more = json_pack(
        "[{s:s,s:s,s:{s:s,s:[s,s,s]}},{s:s,s:s,s:s,s:{s:s}},{s:s,s:s,s:{s:s}}]", "name", "kind",
        "in", "query", "schema", "type", "string", "enum", "user", "agent", "skill", "name", "id",
        "in", "query", "description", "kind=user: the caller's own sub (else 403)", "schema",
        "type", "string", "name", "version", "in", "query", "schema", "type", "string");
    json_array_extend(params, more);
    json_decref(more);
    return params;
}

static json_t *schemas(void)
{
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    json_t *langs = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(langs, json_string(all[i].code));
    json_t *str = json_pack("{s:s}", "type", "string");
    json_t *file_ref =
        json_pack("{s:s,s:{s:O,s:{s:s,s:s},s:O,s:O,s:O,s:{s:s,s:[s,s,s]},s:O}}", "type", "object",
                  "properties", "id", str, "name", "type", "string", "description",
                  "relative path under /mnt/data; directories are created", "session_id", str,
                  "storage_session_id", str, "resource_id", str, "kind", "type", "string", "enum",
                  "user", "agent", "skill", "version", str);
    json_t *exec_req =
        json_pack("{s:s,s:[s,s],s:{s:{s:s,s:i},s:{s:s,s:o,s:s},s:{s:s,s:O},s:O,s:O,s:O,s:{s:s,s:s},"
                  "s:{s:s,s:o}}}",
                  "type", "object", "required", "code", "lang", "properties", "code", "type",
                  "string", "minLength", 1, "lang", "type", "string", "enum", langs, "description",
                  "case-insensitive", "args", "type", "array", "items", str, "stdin", str,
                  "user_id", str, "session_id", str, "entity_id", "type", "string", "pattern",
                  "^[A-Za-z0-9_-]{1,40}$", "files", "type", "array", "items", file_ref);
    json_t *out_file = json_pack("{s:s,s:{s:O,s:O,s:{s:b}}}", "type", "object", "properties", "id",
                                 str, "name", str, "path", "nullable", 1);
    json_t *exec_resp = json_pack(
        "{s:s,s:{s:O,s:{s:s,s:o},s:O,s:O,s:{s:s},s:{s:s,s:b},s:{s:s,s:b}}}", "type", "object",
        "properties", "session_id", str, "files", "type", "array", "items", out_file, "stdout", str,
        "stderr", str, "has_state", "type", "boolean", "state_size", "type", "integer", "nullable",
        1, "state_hash", "type", "string", "nullable", 1);
    json_t *error =
        json_pack("{s:s,s:{s:O,s:O,s:{s:s,s:b},s:O,s:{s:s}}}", "type", "object", "properties",
                  "error", str, "error_type", str, "details", "type", "array", "nullable", 1,
                  "request_id", str, "timestamp", "type", "number");
    json_t *upload_resp =
        json_pack("{s:s,s:{s:O,s:O,s:{s:s,s:{s:s,s:{s:O,s:O}}}}}", "type", "object", "properties",
                  "message", str, "session_id", str, "files", "type", "array", "items", "type",
                  "object", "properties", "fileId", str, "filename", str);
    json_t *s = json_pack("{s:o,s:o,s:o,s:o}", "ExecRequest", exec_req, "ExecResponse", exec_resp,
                          "Error", error, "UploadResponse", upload_resp);
    json_decref(str);
    json_t *more = json_loads(more_schemas, 0, NULL);
    assert(more); /* a constant: a parse error is a programming error */
    json_object_update(s, more);
    json_decref(more);
    return s;
}

static json_t *paths(void)
{
    json_t *err = ref("Error");
    json_t *p = json_object();
    json_t *exec_post =
        op("exec", "Run code in a single-use pod", true,
           json_pack("{s:o,s:o,s:o,s:o,s:o}", "200",
                     resp("Result (also for failing or timed-out code)", ref("ExecResponse")),
                     "400", resp("Bad request", json_incref(err)), "401",
                     resp("Missing or invalid API key", NULL), "422",
                     resp("Validation error", json_incref(err)), "503",
                     resp("Pod backend unavailable", json_incref(err))));
    json_object_set_new(
        exec_post, "requestBody",
        json_pack("{s:b,s:o}", "required", 1, "content", json_content(ref("ExecRequest"))));
    json_object_set_new(p, "/exec", json_pack("{s:o}", "post", exec_post));

    json_t *up = op("upload", "Upload files into a session", true,
                    json_pack("{s:o,s:o,s:o}", "200", resp("Stored", ref("UploadResponse")), "413",
                              resp("Too large or too many files", json_incref(err)), "422",
                              resp("No file part", json_incref(err))));
    json_object_set_new(
        up, "requestBody",
        json_pack("{s:b,s:{s:{s:{s:s,s:{s:{s:s,s:s},s:{s:s,s:{s:s,s:s}},s:{s:s}}}}}}", "required",
                  1, "content", "multipart/form-data", "schema", "type", "object", "properties",
                  "file", "type", "string", "format", "binary", "files", "type", "array", "items",
                  "type", "string", "format", "binary", "entity_id", "type", "string"));
    json_t *up_props = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(up, "requestBody"), "content"),
                            "multipart/form-data"),
            "schema"),
        "properties");
    json_object_set_new(
        up_props, "kind",
        json_pack("{s:s,s:[s,s,s]}", "type", "string", "enum", "user", "agent", "skill"));
    json_object_set_new(up_props, "id",
                        json_pack("{s:s,s:s}", "type", "string", "description",
                                  "kind=user: the caller's own sub (else 403)"));
    json_object_set_new(up_props, "version", json_pack("{s:s}", "type", "string"));
    json_t *batch = op(
        "uploadBatch", "Upload several files, each reported on its own", true,
        json_pack("{s:o}", "200", resp("Per-file results", json_pack("{s:s}", "type", "object"))));
    json_object_set_new(batch, "requestBody", json_incref(json_object_get(up, "requestBody")));
    json_object_set_new(p, "/upload", json_pack("{s:o}", "post", up));
    json_object_set_new(p, "/upload/batch", json_pack("{s:o}", "post", batch));

    json_t *list = op(
        "listFiles", "List a session's files", true,
        json_pack("{s:o}", "200", resp("Files (empty for an unknown session)", ref("FileList"))));
    json_t *list_params =
        json_pack("[o,{s:s,s:s,s:{s:s,s:[s,s,s]}}]", path_param("session_id"), "name", "detail",
                  "in", "query", "schema", "type", "string", "enum", "summary", "simple", "full");
    json_object_set_new(list, "parameters", with_resource_params(list_params));
    json_object_set_new(p, "/files/{session_id}", json_pack("{s:o}", "get", list));

    json_t *del = op("deleteFile", "Delete one file", true,
                     json_pack("{s:o,s:o}", "200", resp("Deleted", NULL), "404",
                               resp("File not found", json_incref(err))));
    json_object_set_new(del, "parameters",
                        json_pack("[o,o]", path_param("session_id"), path_param("file_id")));
    json_object_set_new(p, "/files/{session_id}/{file_id}", json_pack("{s:o}", "delete", del));

    json_t *dl =
        op("download", "Download a file's bytes", true,
           json_pack("{s:{s:s,s:{s:{s:{s:s,s:s}}}},s:o}", "200", "description", "File bytes",
                     "content", "application/octet-stream", "schema", "type", "string", "format",
                     "binary", "404", resp("File not found", json_incref(err))));
    json_object_set_new(
        dl, "parameters",
        with_resource_params(json_pack("[o,o]", path_param("session_id"), path_param("file_id"))));
    json_t *dlo = op("downloadPreflight", "CORS preflight", false,
                     json_pack("{s:o}", "204", resp("Preflight answer", NULL)));
    json_object_set_new(p, "/download/{session_id}/{file_id}",
                        json_pack("{s:o,s:o}", "get", dl, "options", dlo));

    json_t *object =
        op("sessionObject", "When a stored file was written (LibreChat's freshness check)", true,
           json_pack("{s:o,s:o}", "200", resp("The file", ref("SessionObject")), "404",
                     resp("No such file for the caller", json_incref(err))));
    json_object_set_new(
        object, "parameters",
        with_resource_params(json_pack("[o,o]", path_param("session_id"), path_param("file_id"))));
    json_object_set_new(p, "/sessions/{session_id}/objects/{file_id}",
                        json_pack("{s:o}", "get", object));

    json_t *state = json_pack(
        "{s:o,s:o,s:o,s:[o]}", "get",
        op("getState", "Python state blob (ETag = quoted sha256; 304 on If-None-Match)", true,
           json_pack("{s:o,s:o,s:o}", "200", resp("State bytes", NULL), "304",
                     resp("Not modified", NULL), "404", resp("No state", json_incref(err)))),
        "post",
        op("putState", "Upload a state blob (version byte 1 or 2, at most 50 MiB)", true,
           json_pack("{s:o,s:o,s:o}", "201", resp("Stored", NULL), "400",
                     resp("Bad state", json_incref(err)), "413",
                     resp("Too large", json_incref(err)))),
        "delete",
        op("deleteState", "Delete a state blob", true,
           json_pack("{s:o}", "204", resp("Deleted", NULL))),
        "parameters", path_param("session_id"));
    json_object_set_new(p, "/state/{session_id}", state);
    json_t *info = op("stateInfo", "State metadata", true,
                      json_pack("{s:o}", "200", resp("Info", ref("StateInfo"))));
    json_object_set_new(info, "parameters", json_pack("[o]", path_param("session_id")));
    json_object_set_new(p, "/state/{session_id}/info", json_pack("{s:o}", "get", info));

    json_t *obj = json_pack("{s:s}", "type", "object");
    json_object_set_new(p, "/health",
                        json_pack("{s:o}", "get",
                                  op("health", "Liveness", false,
                                     json_pack("{s:o}", "200", resp("Alive", ref("Health"))))));
    json_object_set_new(p, "/ready",
                        json_pack("{s:o}", "get",
                                  op("ready", "Readiness", false,
                                     json_pack("{s:o,s:o}", "200", resp("Ready", ref("Ready")),
                                               "503", resp("Not ready", ref("Ready"))))));
    json_object_set_new(p, "/health/detailed",
                        json_pack("{s:o}", "get",
                                  op("healthDetailed", "Each dependency's state", true,
                                     json_pack("{s:o,s:o}", "200",
                                               resp("Healthy or degraded", ref("HealthDetailed")),
                                               "503", resp("Unhealthy", ref("HealthDetailed"))))));
    json_object_set_new(p, "/metrics",
                        json_pack("{s:o}", "get",
                                  op("metrics", "Prometheus metrics", true,
                                     json_pack("{s:{s:s,s:{s:{s:{s:s}}}}}", "200", "description",
                                               "Prometheus text format", "content", "text/plain",
                                               "schema", "type", "string"))));
    json_object_set_new(
        p, "/openapi.json",
        json_pack("{s:o}", "get",
                  op("openapi", "This document", false,
                     json_pack("{s:o}", "200", resp("OpenAPI 3 document", json_incref(obj))))));
    json_t *keys = json_pack(
        "{s:o,s:o}", "get",
        op("listKeys", "List API keys (MASTER_API_KEY in x-api-key)", true,
           json_pack("{s:o,s:o}", "200", resp("Keys", json_pack("{s:s}", "type", "array")), "403",
                     resp("Not the master key", json_incref(err)))),
        "post",
        op("createKey", "Create a managed API key, shown once (MASTER_API_KEY)", true,
           json_pack("{s:o,s:o}", "200", resp("The key and its record", json_incref(obj)), "403",
                     resp("Not the master key", json_incref(err)))));
    json_object_set_new(
        json_object_get(keys, "post"), "requestBody",
        json_pack("{s:b,s:o}", "required", 1, "content",
                  json_content(json_pack("{s:s,s:[s],s:{s:{s:s}}}", "type", "object", "required",
                                         "name", "properties", "name", "type", "string"))));
    json_object_set_new(p, "/api/v1/admin/keys", keys);
    json_t *key =
        json_pack("{s:o,s:o,s:[o]}", "patch",
                  op("updateKey", "Enable or disable a managed key (MASTER_API_KEY)", true,
                     json_pack("{s:o,s:o}", "200", resp("Updated", NULL), "404",
                               resp("Key not found", json_incref(err)))),
                  "delete",
                  op("deleteKey", "Delete a managed key (MASTER_API_KEY)", true,
                     json_pack("{s:o,s:o}", "200", resp("Deleted", NULL), "404",
                               resp("Key not found", json_incref(err)))),
                  "parameters", path_param("key_hash"));
    json_object_set_new(p, "/api/v1/admin/keys/{key_hash}", key);
    json_decref(obj);
    json_decref(err);
    add_common_responses(p);
    return p;
}

json_t *openapi_document(const char *version)
{
    return json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:[{s:s},{s:s}],s:o,s:{s:o,s:o,s:{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s,s:s}"
        ","
        "s:{s:s,s:s,s:s,s:s}}},s:[{s:[]},{s:[]},{s:[]}]}",
        "openapi", "3.0.3", "info", "title", "kcr Code Interpreter API", "version", version,
        "description",
        "LibreChat- and KubeCodeRun-compatible code execution. Every path also works under /v1.",
        "servers", "url", "/", "url", "/v1", "paths", paths(), "components", "schemas", schemas(),
        "responses", common_responses(), "securitySchemes", "ApiKeyHeader", "type", "apiKey", "in",
        "header", "name", "x-api-key", "BearerAuth", "type", "http", "scheme", "bearer",
        "bearerFormat", "JWT", "description",
        "A LibreChat-minted JWT (EdDSA or RS256), or an API key", "ApiKeyAuthorization", "type",
        "apiKey", "in", "header", "name", "Authorization", "description",
        "Authorization: ApiKey <key>", "security", "ApiKeyHeader", "BearerAuth",
        "ApiKeyAuthorization");
}

struct kcr_http_resp *openapi_handle(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    struct kcr_api *api = ctx;
    return http_resp_json(200, openapi_document(api->version));
}
