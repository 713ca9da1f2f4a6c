#include "sidecar/sidecar-request.h"
#include "common/cleanup.h"
#include "common/limits.h"
#include "common/xalloc.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(struct sidecar_request_error *e, int status, const char *field, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static int fail(struct sidecar_request_error *e, int status, const char *field, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->status = status;
    e->field = field;
    return -1;
}

static int parse_timeout(json_t *v, long max, long *ret, struct sidecar_request_error *e)
{
    if (!v || json_is_null(v)) {
        *ret = max < 30 ? max : 30;
        return 0;
    }
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = ceil(json_real_value(v));
    else
        return fail(e, 422, "timeout", "timeout must be a number of seconds");
    if (!(d >= 1 && d <= (double)max))
        return fail(e, 422, "timeout", "timeout must be between 1 and %ld seconds", max);
    *ret = (long)d;
    return 0;
}

static int parse_args(json_t *v, struct sidecar_request *r, struct sidecar_request_error *e)
{
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return fail(e, 422, "args", "args must be an array of strings");
    if (json_array_size(v) > SIDECAR_MAX_ARGS)
        return fail(e, 422, "args", "at most %d args", SIDECAR_MAX_ARGS);
    r->args = xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *a;
    json_array_foreach(v, i, a)
    {
        if (!json_is_string(a) || json_string_length(a) > SIDECAR_MAX_ARG_LEN ||
            strlen(json_string_value(a)) != json_string_length(a))
            return fail(e, 422, "args", "args[%zu] must be a string without NUL bytes", i);
        r->args[r->nargs++] = xstrdup(json_string_value(a));
    }
    return 0;
}

/* True if a '/'-separated component of path is "..". */
static bool has_dotdot(const char *path)
{
    for (const char *p = path; (p = strstr(p, "..")); p += 2) {
        bool starts = p == path || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return true;
    }
    return false;
}

static int parse_working_dir(json_t *v, struct sidecar_request *r, struct sidecar_request_error *e)
{
    if (!v || json_is_null(v)) {
        r->working_dir = xstrdup(KCR_WORKDIR);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || s[0] != '/' || strlen(s) != json_string_length(v) || strlen(s) > 1024 ||
        has_dotdot(s))
        return fail(e, 422, "working_dir", "working_dir must be an absolute path without '..'");
    r->working_dir = xstrdup(s);
    return 0;
}

static int parse_fields(json_t *root, const char *default_lang, long max_timeout,
                        struct sidecar_request *r, struct sidecar_request_error *e)
{
    json_t *code = json_object_get(root, "code");
    if (!code || json_is_null(code))
        return fail(e, 400, "code", "code is required");
    if (!json_is_string(code))
        return fail(e, 422, "code", "code must be a string");
    r->code_len = json_string_length(code);
    r->code = xmalloc(r->code_len + 1);
    memcpy(r->code, json_string_value(code), r->code_len + 1);

    json_t *lang = json_object_get(root, "lang");
    const char *lc = default_lang;
    if (lang && !json_is_null(lang)) {
        if (!json_is_string(lang))
            return fail(e, 422, "lang", "lang must be a string");
        lc = json_string_value(lang);
    }
    r->lang = lang_find(lc);
    if (!r->lang)
        return fail(e, 400, "lang", "unsupported language '%.64s'", lc);

    json_t *in = json_object_get(root, "stdin");
    if (in && !json_is_null(in)) {
        if (!json_is_string(in))
            return fail(e, 422, "stdin", "stdin must be a string");
        r->stdin_len = json_string_length(in);
        r->stdin_data = xmalloc(r->stdin_len + 1);
        memcpy(r->stdin_data, json_string_value(in), r->stdin_len + 1);
    }
    if (parse_timeout(json_object_get(root, "timeout"), max_timeout, &r->timeout_s, e) < 0)
        return -1;
    if (parse_working_dir(json_object_get(root, "working_dir"), r, e) < 0)
        return -1;
    json_t *list = json_object_get(root, "list_files");
    if (list && !json_is_null(list)) {
        if (!json_is_boolean(list))
            return fail(e, 422, "list_files", "list_files must be a boolean");
        r->list_files = json_is_true(list);
    }
    return parse_args(json_object_get(root, "args"), r, e);
}

int sidecar_request_parse(const char *body, size_t len, const char *default_lang, long max_timeout,
                          struct sidecar_request *ret, struct sidecar_request_error *e)
{
    memset(ret, 0, sizeof(*ret));
    memset(e, 0, sizeof(*e));
    json_error_t jerr;
    /* JSON_ALLOW_NUL: NUL bytes in code are the program's problem, not a parse error. */
    json_auto_t *root =
        json_loadb(body ? body : "", len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(e, 400, NULL, "invalid JSON: %.150s", jerr.text);
    if (!json_is_object(root))
        return fail(e, 400, NULL, "the body must be a JSON object");
    if (parse_fields(root, default_lang, max_timeout, ret, e) < 0) {
        sidecar_request_done(ret);
        return -1;
    }
    return 0;
}

void sidecar_request_done(struct sidecar_request *req)
{
    free(req->code);
    free(req->working_dir);
    free(req->stdin_data);
    for (size_t i = 0; i < req->nargs; i++)
        free(req->args[i]);
    free(req->args);
    memset(req, 0, sizeof(*req));
}
