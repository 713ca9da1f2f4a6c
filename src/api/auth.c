#include "api/auth.h"
#include "api/admin.h"
#include "api/context.h"
#include "api/errors.h"
#include "common/digest.h"
#include "common/xalloc.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct kcr_auth {
    char *keys[KCR_MAX_KEYS + 2];
    size_t nkeys;
    char *master;
    struct kcr_meta *meta;
};

struct kcr_auth *auth_new(const struct kcr_serve_config *cfg, const char *extra_key,
                          struct kcr_meta *meta)
{
    struct kcr_auth *a = xcalloc(1, sizeof(*a));
    for (size_t i = 0; i < cfg->nkeys; i++)
        a->keys[a->nkeys++] = xstrdup(cfg->keys[i]);
    if (extra_key)
        a->keys[a->nkeys++] = xstrdup(extra_key);
    if (cfg->master_key) {
        a->master = xstrdup(cfg->master_key);
        a->keys[a->nkeys++] = xstrdup(cfg->master_key);
    }
    a->meta = meta;
    return a;
}

struct kcr_auth *auth_free(struct kcr_auth *a)
{
    if (!a)
        return NULL;
    for (size_t i = 0; i < a->nkeys; i++)
        free(a->keys[i]);
    free(a->master);
    free(a);
    return NULL;
}

/* Compares in time that depends only on the lengths, never on where the
 * first difference is. */
static bool const_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[lb ? i % lb : 0];
    return diff == 0;
}

void auth_sha256_hex(const void *data, size_t len, char out[65])
{
    digest_sha256_hex(data, len, out);
}

bool auth_key_valid(struct kcr_auth *a, const char *key)
{
    if (!key || !*key)
        return false;
    bool ok = false;
    /* Check every key (no early exit), so timing says nothing about which. */
    for (size_t i = 0; i < a->nkeys; i++)
        ok |= const_eq(key, a->keys[i]);
    if (ok || !a->meta)
        return ok;
    char hash[65];
    auth_sha256_hex(key, strlen(key), hash);
    bool enabled = false;
    return a->meta->ops->key_check(a->meta, hash, &enabled, NULL) == 0 && enabled;
}

bool auth_is_master(struct kcr_auth *a, const char *key)
{
    return a->master && key && const_eq(key, a->master);
}

const char *auth_request_key(struct kcr_http_req *req)
{
    const char *k = http_req_header(req, "x-api-key");
    if (k && *k)
        return k;
    const char *h = http_req_header(req, "Authorization");
    if (!h)
        return NULL;
    if (!strncmp(h, "Bearer ", 7) && h[7])
        return h + 7;
    if (!strncmp(h, "ApiKey ", 7) && h[7])
        return h + 7;
    return NULL;
}

bool auth_is_public(const char *method, const char *path)
{
    if (!strcmp(method, "OPTIONS"))
        return true;
    return !strcmp(path, "/health") || !strcmp(path, "/ready") || !strcmp(path, "/openapi.json");
}

/* POST/PUT/PATCH bodies must be one of the types the API speaks (rule 12). */
static bool content_type_ok(struct kcr_http_req *req, const char *path)
{
    const char *m = http_req_method(req);
    if (strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "PATCH"))
        return true;
    if (!strncmp(path, "/upload", 7) || !strncmp(path, "/state/", 7))
        return true;
    const char *ct = http_req_header(req, "Content-Type");
    static const char *const ok[] = {"application/json", "multipart/form-data",
                                     "application/x-www-form-urlencoded", "text/plain"};
    for (size_t i = 0; ct && i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcasestr(ct, ok[i]))
            return true;
    return false;
}

struct kcr_http_resp *auth_gate(struct kcr_http_req *req, const struct kcr_http_route *route,
                                void *ctx)
{
    struct kcr_api *api = ctx;
    const char *path = http_req_path(req);
    const char *method = http_req_method(req);
    if (!content_type_ok(req, path)) {
        const char *ct = http_req_header(req, "Content-Type");
        char msg[256];
        snprintf(msg, sizeof(msg), "Unsupported content type: %s", ct ? ct : "");
        return errors_middleware(415, msg);
    }
    /* A CORS preflight for any path answers at once; finish adds the headers. */
    if (!route && !strcmp(method, "OPTIONS") && api->core.cfg->enable_cors)
        return http_resp_empty(204);
    /* Admin routes check MASTER_API_KEY themselves (api/admin.c). */
    if (auth_is_public(method, path) || !strncmp(path, ADMIN_PREFIX "/", strlen(ADMIN_PREFIX) + 1))
        return NULL;
    const char *key = auth_request_key(req);
    if (!key)
        return errors_middleware(401, "API key is required");
    if (!auth_key_valid(api->auth, key))
        return errors_middleware(401, "Invalid API key");
    return NULL;
}
