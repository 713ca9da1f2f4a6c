#include "api/auth.h"
#include "api/admin.h"
#include "api/context.h"
#include "api/dashboard.h"
#include "api/errors.h"
#include "api/jwt.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/keys.h"
#include "core/ratelimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* While a request's only credentials may be in its body (agents 3.1.x put
 * the key there), the body is read before the caller is known: bounded
 * tighter than the usual limit. */
#define UNAUTHENTICATED_BODY_MAX (4u << 20)

/* The JSON body fields that carry an API key. */
static const char *const body_key_fields[] = {"LIBRECHAT_CODE_API_KEY", "api_key", "apiKey"};

struct kcr_auth {
    char *keys[KCR_MAX_KEYS + 2];
    size_t nkeys;
    char *master;
    struct kcr_core *core;
    struct kcr_jwt_verifier *jwt; /* NULL unless the provider takes tokens */
    enum kcr_auth_provider provider;
    const struct kcr_cidr *trusted;
    size_t ntrusted;
};

/* What the hooks know about one request (http_req_data). */
struct auth_req {
    struct kcr_principal principal;
    bool known;    /* principal is set */
    bool deferred; /* no credentials in the headers: look in the body */
    bool rated;    /* rate is set */
    struct kcr_rate_state rate;
};

/*** Set-up ***/

static struct kcr_jwt_verifier *jwt_new(const struct kcr_jwt_settings *j, struct kcr_err *err)
{
    struct kcr_jwt_config c = {
        .public_key = j->public_key,
        .jwks_json = j->jwks_json,
        .keys_dir = j->keys_dir,
        .issuer = j->issuer,
        .audience = j->audience,
        .allowed_algs = j->allowed_algs,
        .hs256_secret = j->hs256_secret,
        .clock_skew_s = j->clock_skew_s,
        .max_ttl_s = j->max_ttl_s,
        .single_tenant_id = j->single_tenant_id,
    };
    return jwt_verifier_new(&c, err);
}

struct kcr_auth *auth_new(const struct kcr_serve_config *cfg, struct kcr_core *core,
                          struct kcr_err *err)
{
    struct kcr_auth *a = xcalloc(1, sizeof(*a));
    for (size_t i = 0; i < cfg->nkeys; i++)
        a->keys[a->nkeys++] = xstrdup(cfg->keys[i]);
    if (cfg->master_key) {
        a->master = xstrdup(cfg->master_key);
        a->keys[a->nkeys++] = xstrdup(cfg->master_key);
    }
    a->core = core;
    a->provider = cfg->auth_provider;
    a->trusted = cfg->trusted;
    a->ntrusted = cfg->ntrusted;
    if (a->provider != KCR_AUTH_API_KEY && !(a->jwt = jwt_new(&cfg->jwt, err)))
        return auth_free(a);
    return a;
}

void auth_add_key(struct kcr_auth *a, const char *key)
{
    if (a->nkeys < ARRAY_SIZE(a->keys))
        a->keys[a->nkeys++] = xstrdup(key);
}

struct kcr_auth *auth_free(struct kcr_auth *a)
{
    if (!a)
        return NULL;
    for (size_t i = 0; i < a->nkeys; i++)
        free(a->keys[i]);
    free(a->master);
    jwt_verifier_free(a->jwt);
    free(a);
    return NULL;
}

/*** API keys ***/

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

int auth_key_principal(struct kcr_auth *a, const char *key, struct kcr_principal *ret)
{
    if (!key || !*key)
        return -1;
    bool ok = false;
    /* Check every key (no early exit), so timing says nothing about which. */
    for (size_t i = 0; i < a->nkeys; i++)
        ok |= const_eq(key, a->keys[i]);
    char hash[65];
    digest_sha256_hex(key, strlen(key), hash);
    if (ok) {
        principal_key(ret, hash, NULL);
        return 0;
    }
    struct kcr_key_meta k;
    struct kcr_err err = {0};
    if (keys_get(a->core, hash, &k, &err) < 0)
        return err.kind == KCR_ERR_NOT_FOUND ? -1 : -2;
    if (!k.enabled)
        return -1;
    principal_key(ret, hash, &k.limits);
    return 0;
}

bool auth_is_master(struct kcr_auth *a, const char *key)
{
    return a->master && key && const_eq(key, a->master);
}

bool auth_is_public(const char *method, const char *path)
{
    if (!strcmp(method, "OPTIONS"))
        return true;
    /* The dashboard's files hold no data: the page must load to ask for the key. */
    return !strcmp(path, "/health") || !strcmp(path, "/ready") || !strcmp(path, "/openapi.json") ||
           ((!strcmp(method, "GET") || !strcmp(method, "HEAD")) && dashboard_is_page(path));
}

/*** Trusted networks ***/

/* The peer's address bytes (IPv4-mapped IPv6 as IPv4); 0 when unknown. */
static int peer_addr(const struct kcr_http_req *req, unsigned char out[16])
{
    struct sockaddr_storage ss;
    if (http_req_peer(req, &ss) < 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        memcpy(out, &((struct sockaddr_in *)&ss)->sin_addr, 4);
        return AF_INET;
    }
    if (ss.ss_family != AF_INET6)
        return 0;
    const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        memcpy(out, a6->s6_addr + 12, 4);
        return AF_INET;
    }
    memcpy(out, a6->s6_addr, 16);
    return AF_INET6;
}

static bool cidr_contains(const struct kcr_cidr *c, int family, const unsigned char *addr)
{
    if (c->family != family)
        return false;
    int full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->addr, addr, (size_t)full))
        return false;
    unsigned char mask = (unsigned char)(0xff00u >> rest);
    return rest == 0 || (c->addr[full] & mask) == (addr[full] & mask);
}

static bool peer_trusted(const struct kcr_auth *a, const struct kcr_http_req *req)
{
    unsigned char addr[16];
    int family = a->ntrusted ? peer_addr(req, addr) : 0;
    for (size_t i = 0; family && i < a->ntrusted; i++)
        if (cidr_contains(&a->trusted[i], family, addr))
            return true;
    return false;
}

/*** The gate ***/

static struct kcr_http_resp *refuse(struct kcr_http_req *req, const char *msg, const char *why)
{
    http_req_log(req, "auth_error", json_string(why));
    return errors_middleware(401, msg);
}

static bool takes_keys(const struct kcr_auth *a)
{
    return a->provider != KCR_AUTH_JWT;
}

static struct kcr_http_resp *with_key(struct kcr_auth *a, struct kcr_http_req *req, const char *key,
                                      struct auth_req *ar)
{
    if (!takes_keys(a))
        return refuse(req, "Invalid credentials", "API keys are not accepted (librechat-jwt)");
    int r = auth_key_principal(a, key, &ar->principal);
    /* A store that does not answer cannot say the key is wrong. */
    if (r == -2)
        return errors_app(req, 503, "Key store unavailable", NULL);
    if (r < 0)
        return refuse(req, "Invalid API key", "invalid API key");
    ar->known = true;
    return NULL;
}

static struct kcr_http_resp *with_token(struct kcr_auth *a, struct kcr_http_req *req,
                                        const char *token, struct auth_req *ar)
{
    struct kcr_jwt_claims claims;
    struct kcr_err err = {0};
    if (jwt_verify(a->jwt, token, time_wall_ms() / 1000, &claims, &err) < 0)
        return refuse(req, "Invalid or expired token", err.msg);
    principal_jwt(&ar->principal, claims.tenant, claims.sub);
    ar->known = true;
    return NULL;
}

/* Credentials from the headers; NULL with ar->known false when there are none. */
static struct kcr_http_resp *from_headers(struct kcr_auth *a, struct kcr_http_req *req,
                                          struct auth_req *ar)
{
    const char *k = http_req_header(req, "x-api-key");
    if (k && *k)
        return with_key(a, req, k, ar);
    const char *h = http_req_header(req, "Authorization");
    if (h && !strncmp(h, "Bearer ", 7) && h[7]) {
        if (a->jwt && jwt_looks_like_token(h + 7))
            return with_token(a, req, h + 7, ar);
        return with_key(a, req, h + 7, ar);
    }
    if (h && !strncmp(h, "ApiKey ", 7) && h[7])
        return with_key(a, req, h + 7, ar);
    return NULL;
}

/* No credentials at all: a trusted peer, else 401. */
static struct kcr_http_resp *without_credentials(struct kcr_auth *a, struct kcr_http_req *req,
                                                 struct auth_req *ar)
{
    if (peer_trusted(a, req)) {
        principal_trusted(&ar->principal);
        ar->known = true;
        return NULL;
    }
    return refuse(req, takes_keys(a) ? "API key is required" : "Authentication required",
                  "no credentials");
}

static bool is_exec(const char *method, const char *path)
{
    return !strcmp(method, "POST") && (!strcmp(path, "/exec") || !strncmp(path, "/exec/", 6));
}

/* The rate class of a route, or -1 when it is not limited. */
static int rate_class(const char *method, const char *path)
{
    if (is_exec(method, path))
        return KCR_RATE_EXEC;
    if (!strcmp(method, "POST") && (!strcmp(path, "/upload") || !strcmp(path, "/upload/batch")))
        return KCR_RATE_UPLOAD;
    if ((!strcmp(method, "GET") || !strcmp(method, "HEAD")) && !strncmp(path, "/download/", 10))
        return KCR_RATE_DOWNLOAD;
    return -1;
}

static struct kcr_http_resp *too_many(struct kcr_http_req *req, const struct kcr_rate_state *r,
                                      enum kcr_rate_class cls)
{
    char msg[160];
    snprintf(msg, sizeof(msg),
             "Rate limit of %lld %s requests per minute exceeded; retry in %lld s",
             (long long)r->limit, ratelimit_class_name(cls), (long long)r->reset_s);
    http_req_log(req, "rate_limited", json_string(ratelimit_class_name(cls)));
    struct kcr_http_resp *resp = http_resp_json(
        429, json_pack("{s:s,s:s,s:I,s:s,s:f}", "error", "rate_limited", "message", msg,
                       "retry_after_seconds", (json_int_t)r->reset_s, "error_type",
                       errors_type(429), "timestamp", errors_timestamp()));
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)r->reset_s);
    http_resp_header(resp, "Retry-After", n);
    return resp;
}

/* Counts the request against its principal's limit; 429 when over. */
static struct kcr_http_resp *rate_check(struct kcr_api *api, struct kcr_http_req *req,
                                        struct auth_req *ar)
{
    int cls = rate_class(http_req_method(req), http_req_path(req));
    if (cls < 0)
        return NULL;
    struct kcr_err err = {0};
    if (ratelimit_hit(&api->core, &ar->principal, (enum kcr_rate_class)cls, time_wall_ms(),
                      &ar->rate, &err) < 0) {
        /* The store will fail the request itself if it is really down; a
         * counter that cannot be written must not lock everybody out. */
        http_req_log(req, "rate_limit_error", json_string(err.msg));
        return NULL;
    }
    ar->rated = ar->rate.limit > 0;
    return ar->rate.limited ? too_many(req, &ar->rate, (enum kcr_rate_class)cls) : NULL;
}

/* POST/PUT/PATCH bodies must be one of the types the API speaks
 * (docs/api-contract.md rule 12). */
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
    if (auth_is_public(method, path))
        return NULL;
    /* Admin routes: the master key, from the headers, before any body is
     * read; then a body of a few KB at most (issue 13, item 1). */
    if (!strncmp(path, ADMIN_PREFIX "/", strlen(ADMIN_PREFIX) + 1)) {
        struct kcr_http_resp *deny = admin_check_master(req, api);
        if (!deny)
            http_req_limit_body(req, ADMIN_BODY_MAX);
        return deny;
    }
    struct auth_req *ar = xcalloc(1, sizeof(*ar));
    http_req_set_data(req, ar, free);
    struct kcr_http_resp *r = from_headers(api->auth, req, ar);
    if (r || ar->known)
        return r ? r : rate_check(api, req, ar);
    if (route && is_exec(method, path) && takes_keys(api->auth)) {
        ar->deferred = true;
        http_req_limit_body(req, UNAUTHENTICATED_BODY_MAX);
        return NULL;
    }
    r = without_credentials(api->auth, req, ar);
    return r ? r : rate_check(api, req, ar);
}

/*** Keys in the body ***/

/* Whether body may hold a key field: the names, or a \u escape that could
 * spell one. A cheap test, so bodies without keys are not parsed twice. */
static bool may_hold_key(const struct kcr_buf *b)
{
    if (!b->data)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(body_key_fields); i++)
        if (memmem(b->data, b->len, body_key_fields[i], strlen(body_key_fields[i])))
            return true;
    return memmem(b->data, b->len, "\\u", 2) != NULL;
}

/* Removes the key fields from the body (the handler and the logs never see
 * them); returns the first key found (taken), or NULL. */
static char *take_body_key(struct kcr_http_req *req)
{
    const struct kcr_buf *b = http_req_body(req);
    if (!may_hold_key(b))
        return NULL;
    json_t *doc = json_loadb(b->data, b->len, 0, NULL);
    char *key = NULL;
    bool found = false;
    for (size_t i = 0; json_is_object(doc) && i < ARRAY_SIZE(body_key_fields); i++) {
        json_t *v = json_object_get(doc, body_key_fields[i]);
        if (!v)
            continue;
        if (!key && json_is_string(v) && *json_string_value(v))
            key = xstrdup(json_string_value(v));
        json_object_del(doc, body_key_fields[i]);
        found = true;
    }
    char *out = found ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (out)
        http_req_set_body(req, out, strlen(out));
    json_decref(doc);
    return key;
}

struct kcr_http_resp *auth_ready(struct kcr_http_req *req, void *ctx)
{
    struct kcr_api *api = ctx;
    struct auth_req *ar = http_req_data(req);
    if (!ar || !is_exec(http_req_method(req), http_req_path(req)))
        return NULL;
    char *key = take_body_key(req);
    struct kcr_http_resp *r = NULL;
    if (ar->deferred)
        r = key ? with_key(api->auth, req, key, ar) : without_credentials(api->auth, req, ar);
    if (key) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    if (r || !ar->deferred)
        return r;
    return rate_check(api, req, ar);
}

/*** Afterwards ***/

void auth_finish(struct kcr_http_req *req, struct kcr_http_resp *resp)
{
    const struct auth_req *ar = http_req_data(req);
    /* Not counted here (any more): the replica that served it said. */
    if (!ar || !ar->rated || !ar->rate.counted)
        return;
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)ar->rate.limit);
    http_resp_header(resp, "RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)ar->rate.remaining);
    http_resp_header(resp, "RateLimit-Remaining", v);
    snprintf(v, sizeof(v), "%lld", (long long)ar->rate.reset_s);
    http_resp_header(resp, "RateLimit-Reset", v);
}

struct kcr_rate_state *auth_rate(struct kcr_http_req *req)
{
    struct auth_req *ar = http_req_data(req);
    return ar && ar->rated && ar->rate.counted ? &ar->rate : NULL;
}

const struct kcr_principal *auth_principal(const struct kcr_http_req *req)
{
    const struct auth_req *ar = http_req_data(req);
    return ar && ar->known ? &ar->principal : NULL;
}

json_t *auth_describe(const struct kcr_auth *a)
{
    static const char *const names[] = {"api-key", "librechat-jwt", "both"};
    return json_pack("{s:s,s:b,s:b,s:i}", "provider", names[a->provider], "api_keys", takes_keys(a),
                     "librechat_jwt", a->jwt != NULL, "trusted_networks", (int)a->ntrusted);
}
