#include "api/exec.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/metrics.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "core/orchestrator.h"

#include <ctype.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define MAX_ARGS  256
#define MAX_FILES 256

/* The parsed request; strings are borrowed from the JSON document. */
struct exec_input {
    struct kcr_exec_request req;
    const char *args[MAX_ARGS];
    struct kcr_file_ref files[MAX_FILES];
};

static struct kcr_http_resp *invalid(struct kcr_http_req *req, const char *field,
                                     const char *message, const char *code)
{
    char f[64];
    snprintf(f, sizeof(f), "body -> %s", field);
    return errors_app(req, 422, "Request validation failed",
                      json_pack("[o]", errors_detail(f, message, code)));
}

static bool entity_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

/* An optional string field: NULL when absent or null; *bad set when it has
 * another type. */
static const char *opt_str(json_t *body, const char *key, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

/* What a file reference names (`kind`, `resource_id`, `version`). A `user`
 * reference names the caller's own file whatever its resource_id: LibreChat's
 * agents (3.9.x, ToolNode) send the file id there for outputs of earlier
 * calls, and a user's files are only ever the owner's. */
static struct kcr_http_resp *parse_resource(struct kcr_http_req *req, json_t *f,
                                            struct kcr_file_ref *r)
{
    bool bad = false;
    const char *kind = opt_str(f, "kind", &bad), *id = opt_str(f, "resource_id", &bad);
    const char *version = opt_str(f, "version", &bad);
    if (bad)
        return invalid(req, "files", "kind, resource_id and version must be strings",
                       "string_type");
    if (kind && !strcmp(kind, "user"))
        return NULL;
    struct kcr_err err = {0};
    if (principal_resource(auth_principal(req), kind, id, version, &r->res, &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg,
                          json_pack("[o]", errors_detail("body -> files", err.msg, NULL)));
    return NULL;
}

static struct kcr_http_resp *parse_files(struct kcr_http_req *req, json_t *files,
                                         struct exec_input *in)
{
    if (!files || json_is_null(files))
        return NULL;
    if (!json_is_array(files))
        return invalid(req, "files", "Input should be a valid list", "list_type");
    if (json_array_size(files) > MAX_FILES)
        return invalid(req, "files", "Too many files", "too_long");
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        bool bad = false;
        struct kcr_file_ref *r = &in->files[in->req.nfiles];
        if (!json_is_object(f))
            return invalid(req, "files", "Input should be a valid object", "dict_type");
        r->id = opt_str(f, "id", &bad);
        r->name = opt_str(f, "name", &bad);
        r->session_id = opt_str(f, "session_id", &bad);
        if (!r->session_id)
            r->session_id = opt_str(f, "storage_session_id", &bad);
        if (bad || (!r->id && !r->name))
            return invalid(req, "files", "Each file needs a string id or name", "missing");
        struct kcr_http_resp *resp = parse_resource(req, f, r);
        if (resp)
            return resp;
        in->req.nfiles++;
    }
    in->req.files = in->files;
    return NULL;
}

/* args: a list of strings (LibreChat) or one string; anything else is ignored
 * as KubeCodeRun does. */
static void parse_args(json_t *args, struct exec_input *in)
{
    if (json_is_string(args)) {
        in->args[in->req.nargs++] = json_string_value(args);
    } else if (json_is_array(args)) {
        size_t i;
        json_t *a;
        json_array_foreach(args, i, a) if (json_is_string(a) && in->req.nargs < MAX_ARGS)
            in->args[in->req.nargs++] = json_string_value(a);
    }
    in->req.args = in->args;
}

static struct kcr_http_resp *parse(struct kcr_http_req *req, json_t *body, struct exec_input *in)
{
    if (!json_is_object(body))
        return errors_app(req, 422, "Request validation failed",
                          json_pack("[o]", errors_detail("body",
                                                         "Input should be a valid JSON "
                                                         "object",
                                                         "model_attributes_type")));
    json_t *code = json_object_get(body, "code"), *lang = json_object_get(body, "lang");
    if (!code)
        return invalid(req, "code", "Field required", "missing");
    if (!json_is_string(code))
        return invalid(req, "code", "Input should be a valid string", "string_type");
    if (!lang)
        return invalid(req, "lang", "Field required", "missing");
    if (!json_is_string(lang))
        return invalid(req, "lang", "Input should be a valid string", "string_type");
    bool bad = false;
    in->req.entity_id = opt_str(body, "entity_id", &bad);
    if (bad || (in->req.entity_id && !entity_ok(in->req.entity_id)))
        return invalid(req, "entity_id", "String should match pattern '^[A-Za-z0-9_-]{1,40}$'",
                       "string_pattern_mismatch");
    static const char *const str_fields[] = {"session_id", "user_id", "stdin"};
    const char *vals[3];
    for (size_t i = 0; i < 3; i++) {
        vals[i] = opt_str(body, str_fields[i], &bad);
        if (bad)
            return invalid(req, str_fields[i], "Input should be a valid string", "string_type");
    }
    in->req.session_id = vals[0];
    in->req.user_id = vals[1];
    const char *stdin_s = vals[2];
    in->req.stdin_data = stdin_s;
    in->req.stdin_len = stdin_s ? json_string_length(json_object_get(body, "stdin")) : 0;
    struct kcr_http_resp *r = parse_files(req, json_object_get(body, "files"), in);
    if (r)
        return r;
    parse_args(json_object_get(body, "args"), in);
    /* `timeout` (ms) is sent by LibreChat's programmatic path; it can only
     * shorten the configured limit. Other types are ignored like unknown fields. */
    json_t *t = json_object_get(body, "timeout");
    if (json_is_integer(t) && json_integer_value(t) > 0)
        in->req.timeout_ms = (long)json_integer_value(t);

    const char *c = json_string_value(code);
    bool blank = true;
    for (const char *p = c; *p && blank; p++)
        blank = isspace((unsigned char)*p);
    if (blank)
        return errors_app(req, 400, "Code cannot be empty",
                          json_pack("[o]", errors_detail("code",
                                                         "Code field is required and cannot be "
                                                         "empty",
                                                         "empty_code")));
    in->req.code = c;
    in->req.lang = lang_find(json_string_value(lang));
    if (!in->req.lang) {
        char msg[160], det[160];
        snprintf(msg, sizeof(msg), "Unsupported programming language: %.100s",
                 json_string_value(lang));
        snprintf(det, sizeof(det), "Language '%.100s' is not supported", json_string_value(lang));
        return errors_app(req, 400, msg,
                          json_pack("[o]", errors_detail("lang", det, "unsupported_language")));
    }
    return NULL;
}

static json_t *response_json(const struct kcr_exec_response *res)
{
    json_t *files = json_array();
    for (size_t i = 0; i < res->nfiles; i++)
        json_array_append_new(files, json_pack("{s:s,s:s,s:n}", "id", res->files[i].id, "name",
                                               res->files[i].name, "path"));
    return json_pack("{s:s,s:o,s:s,s:s,s:b,s:o,s:o}", "session_id", res->session_id, "files", files,
                     "stdout", res->stdout_text ? res->stdout_text : "", "stderr",
                     res->stderr_text ? res->stderr_text : "", "has_state", res->has_state,
                     "state_size",
                     res->has_state ? json_integer((json_int_t)res->state_size) : json_null(),
                     "state_hash", res->has_state ? json_string(res->state_hash) : json_null());
}

/* A stage's time for the log, rounded to the microsecond (a double in JSON
 * otherwise prints up to 17 digits). */
static json_t *stage_ms(double ms)
{
    return json_real((double)(long long)(ms * 1e3 + 0.5) / 1e3);
}

/* The request log's `stages_ms` object (docs/api.md): where the execution's
 * time went, stage by stage, as core/orchestrator.h defines them. */
static json_t *stages_json(const struct kcr_exec_stages *st)
{
    const struct {
        const char *key;
        double ms;
    } v[] = {
        {"session", st->session_ms},   {"resolve", st->resolve_ms},
        {"queue", st->queue_ms},       {"acquire", st->acquire_ms},
        {"files_in", st->files_in_ms}, {"list_before", st->list_before_ms},
        {"execute", st->execute_ms},   {"list_after", st->list_after_ms},
        {"state", st->state_ms},       {"outputs", st->outputs_ms},
        {"release", st->release_ms},   {"total", st->total_ms},
    };
    json_t *o = json_object();
    for (size_t i = 0; i < ARRAY_SIZE(v); i++)
        json_object_set_new(o, v[i].key, stage_ms(v[i].ms));
    return o;
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

struct kcr_http_resp *exec_handle(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    const struct kcr_buf *b = http_req_body(req);
    json_error_t jerr;
    json_auto_t *body = json_loadb(b->data ? b->data : "", b->len, 0, &jerr);
    if (!body)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body", "JSON decode error", "json_invalid")));
    _cleanup_free_ struct exec_input *in = xcalloc(1, sizeof(*in));
    in->req.principal = auth_principal(req);
    struct kcr_http_resp *bad = parse(req, body, in);
    if (bad)
        return bad;
    http_req_log(req, "language", json_string(in->req.lang->code));

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    atomic_fetch_add(&api->inflight, 1);
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    int r = orchestrator_exec(&api->core, &in->req, &res, &err);
    atomic_fetch_sub(&api->inflight, 1);
    double secs = elapsed_s(&t0);
    http_req_log(req, "stages_ms", stages_json(&res.stages));
    if (r < 0) {
        http_req_log(req, "outcome", json_string("error"));
        http_req_log(req, "error", json_string(err.msg));
        metrics_record_exec(api->metrics, in->req.lang->code, "error", secs);
        struct kcr_http_resp *resp = errors_from_err(req, &err);
        /* Every slot stayed busy for the whole queue wait: a few seconds on
         * frees some (a typical execution takes well under one). */
        if (err.kind == KCR_ERR_BUSY)
            http_resp_header(resp, "Retry-After", "2");
        return resp;
    }
    http_req_log(req, "outcome", json_string(res.outcome));
    http_req_log(req, "session_id", json_string(res.session_id));
    metrics_record_exec(api->metrics, in->req.lang->code, res.outcome, secs);
    json_t *out = response_json(&res);
    orchestrator_response_done(&res);
    return http_resp_json(200, out);
}
