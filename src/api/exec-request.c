#include "api/exec-request.h"
#include "api/errors.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

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
static struct kcr_http_resp *parse_resource(struct kcr_http_req *req, const struct kcr_principal *p,
                                            json_t *f, struct kcr_file_ref *r)
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
    if (principal_resource(p, kind, id, version, &r->res, &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg,
                          json_pack("[o]", errors_detail("body -> files", err.msg, NULL)));
    return NULL;
}

static struct kcr_http_resp *parse_files(struct kcr_http_req *req, const struct kcr_principal *p,
                                         json_t *files, struct exec_input *in)
{
    if (!files || json_is_null(files))
        return NULL;
    if (!json_is_array(files))
        return invalid(req, "files", "Input should be a valid list", "list_type");
    if (json_array_size(files) > EXEC_MAX_FILES)
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
        struct kcr_http_resp *resp = parse_resource(req, p, f, r);
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
        json_array_foreach(args, i, a) if (json_is_string(a) && in->req.nargs < EXEC_MAX_ARGS)
            in->args[in->req.nargs++] = json_string_value(a);
    }
    in->req.args = in->args;
}

struct kcr_http_resp *exec_request_parse(struct kcr_http_req *req, const struct kcr_principal *p,
                                         json_t *body, struct exec_input *in)
{
    in->req.principal = p;
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
    struct kcr_http_resp *r = parse_files(req, p, json_object_get(body, "files"), in);
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
    for (const char *q = c; *q && blank; q++)
        blank = isspace((unsigned char)*q);
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
