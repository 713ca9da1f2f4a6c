#include "api/admin.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/session-files.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/id.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/keys.h"

#include <stdio.h>
#include <string.h>

/* A bare JSON `true` (what KubeCodeRun answers), written directly because a
 * JSON body must otherwise be an object or an array. */
static struct kcr_http_resp *json_true_resp(void)
{
    return http_resp_data(200, "application/json", xstrdup("true"), 4);
}

struct kcr_http_resp *admin_check_master(struct kcr_http_req *req, struct kcr_api *api)
{
    /* No key: 401, before anything about the server is said (the dashboard
     * shows its key prompt on it). */
    const char *key = http_req_header(req, "x-api-key");
    if (!key || !*key) {
        http_req_log(req, "auth_error", json_string("no master key"));
        return errors_middleware(401, "API key is required");
    }
    if (!api->core.cfg->master_key)
        return errors_app(req, 500, "Admin operations are disabled (no MASTER_API_KEY configured)",
                          NULL);
    if (!auth_is_master(api->auth, key))
        return errors_app(req, 403, "Invalid Master API Key", NULL);
    return NULL;
}

static json_t *limit_json(int64_t v)
{
    return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

/* KubeCodeRun's record; its per-period limits are always null (kcr limits
 * per minute and per route: exec_per_minute, ...; null = the default). */
static json_t *record(const struct kcr_key_meta *k, const char *source)
{
    char created[32];
    files_iso_ms(k->created_ms, created);
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:{s:n,s:n,s:n,s:n,s:n,s:o,s:o,s:o},s:{},s:n,s:i,s:s}",
                     "key_hash", k->hash, "key_prefix", k->prefix, "name", k->name, "created_at",
                     created, "enabled", k->enabled, "rate_limits", "per_second", "per_minute",
                     "hourly", "daily", "monthly", "exec_per_minute", limit_json(k->limits.exec),
                     "upload_per_minute", limit_json(k->limits.upload), "download_per_minute",
                     limit_json(k->limits.download), "metadata", "last_used_at", "usage_count", 0,
                     "source", source);
}

static struct kcr_http_resp *bad_limits(struct kcr_http_req *req, const char *msg)
{
    return errors_app(req, 422, "Request validation failed",
                      json_pack("[o]", errors_detail("body -> rate_limits", msg, "value_error")));
}

/* One limit field: absent leaves *v, null is the default (-1), else an
 * integer >= 0 (0 = unlimited). */
static bool limit_field(json_t *rl, const char *name, int64_t *v)
{
    json_t *x = json_object_get(rl, name);
    if (!x)
        return true;
    if (json_is_null(x)) {
        *v = -1;
        return true;
    }
    if (!json_is_integer(x) || json_integer_value(x) < 0)
        return false;
    *v = json_integer_value(x);
    return true;
}

/* Applies a `rate_limits` object to l. KubeCodeRun's per_minute sets all
 * three routes; its other periods are refused rather than ignored. */
static struct kcr_http_resp *parse_limits(struct kcr_http_req *req, json_t *rl,
                                          struct kcr_rate_limits *l)
{
    if (!rl || json_is_null(rl))
        return NULL;
    if (!json_is_object(rl))
        return bad_limits(req, "rate_limits must be an object");
    static const char *const periods[] = {"per_second", "hourly", "daily", "monthly"};
    for (size_t i = 0; i < ARRAY_SIZE(periods); i++) {
        json_t *x = json_object_get(rl, periods[i]);
        if (x && !json_is_null(x))
            return bad_limits(req, "kcr limits requests per minute: use per_minute, "
                                   "exec_per_minute, upload_per_minute or download_per_minute");
    }
    int64_t all = -2;
    if (!limit_field(rl, "per_minute", &all))
        return bad_limits(req, "per_minute must be an integer >= 0 or null");
    if (all != -2)
        *l = (struct kcr_rate_limits){all, all, all};
    if (!limit_field(rl, "exec_per_minute", &l->exec) ||
        !limit_field(rl, "upload_per_minute", &l->upload) ||
        !limit_field(rl, "download_per_minute", &l->download))
        return bad_limits(req, "limits must be integers >= 0 or null");
    return NULL;
}

struct kcr_http_resp *admin_handle_list(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    struct kcr_err err = {0};
    if (keys_list(&api->core, &v, &n, &err) < 0)
        return errors_from_err(req, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, record(&v[i], "managed"));
    free(v);
    /* Keys from the environment are listed (by hash and prefix) but not editable. */
    for (size_t i = 0; i < api->core.cfg->nkeys; i++) {
        const char *key = api->core.cfg->keys[i];
        struct kcr_key_meta k = {.enabled = true, .created_ms = api->started_ms};
        k.limits = (struct kcr_rate_limits){-1, -1, -1};
        digest_sha256_hex(key, strlen(key), k.hash);
        snprintf(k.prefix, sizeof(k.prefix), "%.8s", key);
        snprintf(k.name, sizeof(k.name), "environment key %zu", i + 1);
        json_array_append_new(arr, record(&k, "environment"));
    }
    return http_resp_json(200, arr);
}

/* The master-key check, then the JSON body (*ret NULL when it is not JSON:
 * each handler then answers for the field it misses). */
static struct kcr_http_resp *admin_body(struct kcr_http_req *req, struct kcr_api *api, json_t **ret)
{
    *ret = NULL;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    const struct kcr_buf *b = http_req_body(req);
    *ret = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    return NULL;
}

struct kcr_http_resp *admin_handle_create(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    json_auto_t *body = NULL;
    struct kcr_http_resp *deny = admin_body(req, api, &body);
    if (deny)
        return deny;
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name || strlen(name) > 100)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> name", "String should have 1 to 100 characters",
                                           "string_too_short")));
    struct kcr_key_meta k = {.enabled = true, .created_ms = time_wall_ms()};
    k.limits = (struct kcr_rate_limits){-1, -1, -1};
    struct kcr_http_resp *bad = parse_limits(req, json_object_get(body, "rate_limits"), &k.limits);
    if (bad)
        return bad;
    char a[KCR_ID_LEN + 1], c[KCR_ID_LEN + 1];
    id_new(a);
    id_new(c);
    _cleanup_free_ char *key = xasprintf("sk-%s%s", a, c);
    digest_sha256_hex(key, strlen(key), k.hash);
    snprintf(k.prefix, sizeof(k.prefix), "%.11s", key);
    snprintf(k.name, sizeof(k.name), "%s", name);
    struct kcr_err err = {0};
    if (keys_add(&api->core, &k, &err) < 0)
        return errors_from_err(req, &err);
    return http_resp_json(200,
                          json_pack("{s:s,s:o}", "api_key", key, "record", record(&k, "managed")));
}

struct kcr_http_resp *admin_handle_patch(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    json_auto_t *body = NULL;
    struct kcr_http_resp *deny = admin_body(req, api, &body);
    if (deny)
        return deny;
    json_t *enabled = json_object_get(body, "enabled");
    struct kcr_err err = {0};
    if (enabled && !json_is_boolean(enabled))
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> enabled", "Input should be a valid boolean",
                                           "bool_type")));
    const char *hash = http_req_param(req, 0);
    json_t *rl = json_object_get(body, "rate_limits");
    struct kcr_key_meta k;
    if (keys_get(&api->core, hash, &k, &err) < 0)
        return errors_app(req, errors_status(err.kind), "Key not found", NULL);
    struct kcr_http_resp *bad = parse_limits(req, rl, &k.limits);
    if (bad)
        return bad;
    if ((enabled && keys_set_enabled(&api->core, hash, json_is_true(enabled), &err) < 0) ||
        (rl && keys_set_limits(&api->core, hash, &k.limits, &err) < 0))
        return errors_app(req, errors_status(err.kind), err.msg, NULL);
    return json_true_resp();
}

struct kcr_http_resp *admin_handle_delete(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = admin_check_master(req, api);
    if (deny)
        return deny;
    struct kcr_err err = {0};
    if (keys_delete(&api->core, http_req_param(req, 0), &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg, NULL);
    return json_true_resp();
}
