#include "api/admin.h"
#include "api/auth.h"
#include "api/context.h"
#include "api/errors.h"
#include "api/files.h"
#include "common/cleanup.h"
#include "common/id.h"
#include "common/xalloc.h"
#include "core/session.h"

#include <stdio.h>
#include <string.h>

/* A bare JSON `true` (what KubeCodeRun answers), written directly because a
 * JSON body must otherwise be an object or an array. */
static struct kcr_http_resp *json_true_resp(void)
{
    return http_resp_data(200, "application/json", xstrdup("true"), 4);
}

/* The master-key check every admin route starts with; NULL when allowed. */
static struct kcr_http_resp *master_only(struct kcr_http_req *req, struct kcr_api *api)
{
    if (!api->core.cfg->master_key)
        return errors_app(req, 500, "Admin operations are disabled (no MASTER_API_KEY configured)",
                          NULL);
    const char *key = http_req_header(req, "x-api-key");
    if (!key)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("header -> x-api-key", "Field required", "missing")));
    if (!auth_is_master(api->auth, key))
        return errors_app(req, 403, "Invalid Master API Key", NULL);
    return NULL;
}

static json_t *record(const struct kcr_key_meta *k, const char *source)
{
    char created[32];
    files_iso_ms(k->created_ms, created);
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:{s:n,s:n,s:n,s:n,s:n},s:{},s:n,s:i,s:s}", "key_hash",
                     k->hash, "key_prefix", k->prefix, "name", k->name, "created_at", created,
                     "enabled", k->enabled, "rate_limits", "per_second", "per_minute", "hourly",
                     "daily", "monthly", "metadata", "last_used_at", "usage_count", 0, "source",
                     source);
}

struct kcr_http_resp *admin_handle_list(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = master_only(req, api);
    if (deny)
        return deny;
    struct kcr_meta *m = api->core.meta;
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    struct kcr_err err = {0};
    if (m->ops->key_list(m, &v, &n, &err) < 0)
        return errors_from_err(req, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, record(&v[i], "managed"));
    free(v);
    /* Keys from the environment are listed (by hash and prefix) but not editable. */
    for (size_t i = 0; i < api->core.cfg->nkeys; i++) {
        const char *key = api->core.cfg->keys[i];
        struct kcr_key_meta k = {.enabled = true, .created_ms = api->started_ms};
        auth_sha256_hex(key, strlen(key), k.hash);
        snprintf(k.prefix, sizeof(k.prefix), "%.8s", key);
        snprintf(k.name, sizeof(k.name), "environment key %zu", i + 1);
        json_array_append_new(arr, record(&k, "environment"));
    }
    return http_resp_json(200, arr);
}

struct kcr_http_resp *admin_handle_create(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = master_only(req, api);
    if (deny)
        return deny;
    const struct kcr_buf *b = http_req_body(req);
    json_auto_t *body = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!name || !*name || strlen(name) > 100)
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> name", "String should have 1 to 100 characters",
                                           "string_too_short")));
    char a[KCR_ID_LEN + 1], c[KCR_ID_LEN + 1];
    id_new(a);
    id_new(c);
    _cleanup_free_ char *key = xasprintf("sk-%s%s", a, c);
    struct kcr_key_meta k = {.enabled = true, .created_ms = session_now_ms()};
    auth_sha256_hex(key, strlen(key), k.hash);
    snprintf(k.prefix, sizeof(k.prefix), "%.11s", key);
    snprintf(k.name, sizeof(k.name), "%s", name);
    struct kcr_err err = {0};
    if (api->core.meta->ops->key_add(api->core.meta, &k, &err) < 0)
        return errors_from_err(req, &err);
    return http_resp_json(200,
                          json_pack("{s:s,s:o}", "api_key", key, "record", record(&k, "managed")));
}

struct kcr_http_resp *admin_handle_patch(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = master_only(req, api);
    if (deny)
        return deny;
    const struct kcr_buf *b = http_req_body(req);
    json_auto_t *body = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    json_t *enabled = json_object_get(body, "enabled");
    struct kcr_err err = {0};
    if (enabled && !json_is_boolean(enabled))
        return errors_app(
            req, 422, "Request validation failed",
            json_pack("[o]", errors_detail("body -> enabled", "Input should be a valid boolean",
                                           "bool_type")));
    if (enabled && api->core.meta->ops->key_set_enabled(api->core.meta, http_req_param(req, 0),
                                                        json_is_true(enabled), &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg, NULL);
    return json_true_resp();
}

struct kcr_http_resp *admin_handle_delete(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct kcr_http_resp *deny = master_only(req, api);
    if (deny)
        return deny;
    struct kcr_err err = {0};
    if (api->core.meta->ops->key_delete(api->core.meta, http_req_param(req, 0), &err) < 0)
        return errors_app(req, errors_status(err.kind), err.msg, NULL);
    return json_true_resp();
}
