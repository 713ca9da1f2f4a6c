#include "core/serve-config.h"
#include "core/admission.h"
#include "common/cleanup.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MIN_KEY_LEN 16

static int add_key(struct kcr_serve_config *cfg, const char *var, const char *key, size_t len,
                   struct kcr_err *err)
{
    if (len < MIN_KEY_LEN)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "%s: every API key must be at least %d characters", var, MIN_KEY_LEN);
    if (cfg->nkeys == KCR_MAX_KEYS)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: more than %d keys", var, KCR_MAX_KEYS);
    cfg->keys[cfg->nkeys++] = xstrndup(key, len);
    return 0;
}

static int load_keys(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *one = config_str("API_KEY", NULL);
    if (one && add_key(cfg, "API_KEY", one, strlen(one), err) < 0)
        return -1;
    const char *many = config_str("API_KEYS", NULL);
    for (const char *p = many; p && *p;) {
        const char *comma = strchrnul(p, ',');
        const char *a = p, *b = comma;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && add_key(cfg, "API_KEYS", a, (size_t)(b - a), err) < 0)
            return -1;
        p = *comma ? comma + 1 : comma;
    }
    const char *master = config_str("MASTER_API_KEY", NULL);
    if (master) {
        if (strlen(master) < MIN_KEY_LEN)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "MASTER_API_KEY: must be at least %d characters", MIN_KEY_LEN);
        cfg->master_key = xstrdup(master);
    }
    return 0;
}

/*** Authentication ***/

static char *opt_dup(const char *name)
{
    const char *v = config_str(name, NULL);
    return v ? xstrdup(v) : NULL;
}

static int load_jwt(struct kcr_jwt_settings *j, struct kcr_err *err)
{
    j->public_key = opt_dup("CODEAPI_JWT_PUBLIC_KEY");
    j->jwks_json = opt_dup("CODEAPI_JWT_JWKS_JSON");
    j->keys_dir = opt_dup("CODEAPI_JWT_PUBLIC_KEYS_DIR");
    j->hs256_secret = opt_dup("CODEAPI_JWT_HS256_SECRET");
    j->issuer = xstrdup(config_str("CODEAPI_JWT_ISSUER", "librechat"));
    j->audience = xstrdup(config_str("CODEAPI_JWT_AUDIENCE", "codeapi"));
    j->allowed_algs = xstrdup(config_str("CODEAPI_JWT_ALLOWED_ALGS", "EdDSA,RS256"));
    j->single_tenant_id = xstrdup(config_str("CODEAPI_JWT_SINGLE_TENANT_ID", "legacy"));
    if (config_long("CODEAPI_JWT_CLOCK_SKEW_SECONDS", 30, 0, 600, &j->clock_skew_s, err) < 0 ||
        config_long("CODEAPI_JWT_MAX_TTL_SECONDS", 300, 1, 86400, &j->max_ttl_s, err) < 0)
        return -1;
    return 0;
}

static bool jwt_configured(const struct kcr_jwt_settings *j)
{
    return j->public_key || j->jwks_json || j->keys_dir || j->hs256_secret;
}

static int load_provider(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    bool have_jwt = jwt_configured(&cfg->jwt);
    const char *p = config_str("CODEAPI_AUTH_PROVIDER", have_jwt ? "both" : "api-key");
    if (!strcasecmp(p, "api-key"))
        cfg->auth_provider = KCR_AUTH_API_KEY;
    else if (!strcasecmp(p, "librechat-jwt"))
        cfg->auth_provider = KCR_AUTH_JWT;
    else if (!strcasecmp(p, "both"))
        cfg->auth_provider = KCR_AUTH_BOTH;
    else
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "CODEAPI_AUTH_PROVIDER: '%s' is not one of api-key, librechat-jwt, both",
                           p);
    if (cfg->auth_provider != KCR_AUTH_API_KEY && !have_jwt)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "CODEAPI_AUTH_PROVIDER: '%s' needs a JWT verification key "
                           "(CODEAPI_JWT_PUBLIC_KEY, CODEAPI_JWT_JWKS_JSON or "
                           "CODEAPI_JWT_PUBLIC_KEYS_DIR)",
                           p);
    return 0;
}

/* "a.b.c.d/n", "a.b.c.d", "x::y/n" or "x::y"; host bits are cleared. */
static int parse_cidr(const char *s, size_t len, struct kcr_cidr *ret)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(ret, 0, sizeof(*ret));
    ret->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    int bits = ret->family == AF_INET ? 32 : 128;
    if (inet_pton(ret->family, buf, ret->addr) != 1)
        return -1;
    ret->prefix = bits;
    if (slash) {
        char *end = NULL;
        long n = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || n < 0 || n > bits)
            return -1;
        ret->prefix = (int)n;
    }
    for (int i = ret->prefix; i < bits; i++)
        ret->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
    return 0;
}

static int load_trusted(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *v = config_str("AUTH_TRUSTED_NETWORKS", "");
    for (const char *p = v; *p;) {
        size_t skip = strspn(p, ", \t\n"), len;
        p += skip;
        len = strcspn(p, ", \t\n");
        if (!len)
            break;
        if (cfg->ntrusted == KCR_MAX_CIDRS)
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "AUTH_TRUSTED_NETWORKS: more than %d",
                               KCR_MAX_CIDRS);
        if (parse_cidr(p, len, &cfg->trusted[cfg->ntrusted++]) < 0)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "AUTH_TRUSTED_NETWORKS: '%.*s' is not a CIDR (e.g. 10.0.0.0/8, "
                               "fd00::/8)",
                               (int)(len > 64 ? 64 : len), p);
        p += len;
    }
    return 0;
}

static int load_rate_limits(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    bool on;
    long exec, upload, download;
    if (config_bool("RATE_LIMIT_ENABLED", true, &on, err) < 0 ||
        config_long("RATE_LIMIT_EXEC_PER_MINUTE", 600, 0, 1000000, &exec, err) < 0 ||
        config_long("RATE_LIMIT_UPLOAD_PER_MINUTE", 600, 0, 1000000, &upload, err) < 0 ||
        config_long("RATE_LIMIT_DOWNLOAD_PER_MINUTE", 3000, 0, 1000000, &download, err) < 0)
        return -1;
    cfg->rate_limits =
        on ? (struct kcr_rate_limits){exec, upload, download} : (struct kcr_rate_limits){0, 0, 0};
    return 0;
}

static int load_auth(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    if (load_keys(cfg, err) < 0 || load_jwt(&cfg->jwt, err) < 0 || load_provider(cfg, err) < 0 ||
        load_trusted(cfg, err) < 0 || load_rate_limits(cfg, err) < 0)
        return -1;
    return 0;
}

static int load_backend(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *be = config_str("KCR_POD_BACKEND", "local");
    if (!strcasecmp(be, "local"))
        cfg->pod_backend = KCR_POD_BACKEND_LOCAL;
    else if (!strcasecmp(be, "kubernetes"))
        cfg->pod_backend = KCR_POD_BACKEND_KUBERNETES;
    else
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "KCR_POD_BACKEND: '%s' is not one of local, kubernetes", be);
    return 0;
}

static int load_limits(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    long v;
    if (config_max_exec_time(&v, err) < 0)
        return -1;
    cfg->max_exec_time_s = (int)v;
    /* LANG_TIME_MULT_<CODE> / LANG_MEM_MULT_<CODE> overrides (docs/languages.md). */
    if (lang_config_check(err) < 0)
        return -1;
    if (config_long("MAX_OUTPUT_SIZE", 65536, 1, 64L << 20, &v, err) < 0)
        return -1;
    cfg->max_output_chars = (size_t)v;
    if (config_long("MAX_FILE_SIZE_MB", 10, 1, 4096, &v, err) < 0)
        return -1;
    cfg->max_file_size = (size_t)v << 20;
    if (config_long("MAX_FILES_PER_SESSION", 50, 1, 10000, &v, err) < 0)
        return -1;
    cfg->max_files_per_session = (size_t)v;
    if (config_long("MAX_OUTPUT_FILES", 10, 0, 1000, &v, err) < 0)
        return -1;
    cfg->max_output_files = (size_t)v;
    if (config_long("MAX_MEMORY_MB", 512, 16, 1L << 20, &cfg->max_memory_mb, err) < 0 ||
        config_long("MAX_PIDS", 256, 8, 1L << 20, &cfg->max_pids, err) < 0 ||
        config_long("SESSION_TTL_HOURS", 24, 0, 24L * 365 * 10, &cfg->session_ttl_hours, err) < 0)
        return -1;
    /* A session holds what it was given and what its runs wrote: without a
     * cap, repeated uploads fill the disk under one session. */
    if (config_long("MAX_SESSION_FILES", 500, 1, 1000000, &v, err) < 0)
        return -1;
    cfg->max_session_files = (size_t)v;
    if (config_long("MAX_CONCURRENT_EXECUTIONS", admission_default_max(cfg->max_memory_mb), 1, 4096,
                    &cfg->max_concurrent_execs, err) < 0 ||
        config_long("EXEC_QUEUE_TIMEOUT_SECONDS", 30, 0, 600, &v, err) < 0)
        return -1;
    cfg->exec_queue_wait_ms = v * 1000;
    if (config_long("SESSION_CLEANUP_INTERVAL_MINUTES", 10, 1, 24 * 60, &v, err) < 0)
        return -1;
    cfg->cleanup_interval_s = v * 60;
    if (config_long("STATE_TTL_SECONDS", 7200, 0, 1L << 31, &cfg->state_ttl_s, err) < 0)
        return -1;
    if (config_bool("STATE_PERSISTENCE_ENABLED", true, &cfg->state_persistence, err) < 0)
        return -1;
    /* Programmatic runs hold a pod while they wait for their client's tools. */
    if (config_long("PTC_CONTINUATION_TIMEOUT_SECONDS", 60, 1, 3600, &cfg->ptc_continuation_s,
                    err) < 0 ||
        config_long("PTC_MAX_ROUND_TRIPS", 20, 1, 1000, &cfg->ptc_max_round_trips, err) < 0 ||
        config_long("PTC_MAX_PAUSED", 0, 0, 4096, &cfg->ptc_max_paused, err) < 0)
        return -1;
    if (config_long("KCR_SHUTDOWN_GRACE_SECONDS", 30, 0, 3600, &v, err) < 0)
        return -1;
    /* A quarter of the 256 slots: one client (a LibreChat host behind one
     * address included) gets plenty, one attacker cannot take them all. */
    if (config_long("MAX_CONNECTIONS_PER_IP", 64, 0, 256, &cfg->max_conns_per_ip, err) < 0)
        return -1;
    /* Slow clients: a request's headers and its body each get a deadline,
     * however steadily their bytes trickle in. */
    if (config_long("HTTP_HEADER_TIMEOUT_SECONDS", 30, 1, 3600, &cfg->http_header_timeout_s, err) <
            0 ||
        config_long("HTTP_BODY_TIMEOUT_SECONDS", 300, 1, 86400, &cfg->http_body_timeout_s, err) < 0)
        return -1;
    cfg->shutdown_grace_s = (int)v;
    return 0;
}

static int load_server(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    long v;
    const char *host = config_str("API_HOST", "127.0.0.1");
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    struct in6_addr any;
    if (inet_pton(AF_INET, host, &any) != 1 && inet_pton(AF_INET6, host, &any) != 1)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "API_HOST: '%s' is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::)",
                           host);
    cfg->host = xstrdup(host);
    if (config_long("API_PORT", 8000, 0, 65535, &v, err) < 0)
        return -1;
    cfg->port = (int)v;
    const char *dir = config_str("KCR_DATA_DIR", "./data");
    if (dir[0] == '/') {
        cfg->data_dir = xstrdup(dir);
    } else {
        /* Absolute from here on: the server changes uid but never its cwd
         * expectations, and logs should show where the data is. */
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return kcr_err_set(err, errno, KCR_ERR_INVALID, "KCR_DATA_DIR: cannot resolve '%s'",
                               dir);
        cfg->data_dir = xasprintf("%s/%s", cwd, strncmp(dir, "./", 2) ? dir : dir + 2);
    }
    if (config_bool("ENABLE_CORS", false, &cfg->enable_cors, err) < 0)
        return -1;
    cfg->cors_origins = xstrdup(config_str("CORS_ORIGINS", "*"));
    if (config_long("KCR_SERVE_UID", 65530, 1, 0x7ffffffe, &v, err) < 0)
        return -1;
    cfg->serve_uid = (uid_t)v;
    if (config_long("KCR_SERVE_GID", v, 1, 0x7ffffffe, &v, err) < 0)
        return -1;
    cfg->serve_gid = (gid_t)v;
    return 0;
}

/* One part of u; NULL when absent. */
static char *url_part(CURLU *u, CURLUPart what)
{
    char *v = NULL;
    if (curl_url_get(u, what, &v, 0) != CURLUE_OK)
        return NULL;
    char *r = xstrdup(v);
    curl_free(v);
    return r;
}

/* KCR_REPLICA_IP: an IPv4 or IPv6 address (a pod IP from the downward API),
 * made http://<ip>:<PORT>; an IPv6 address needs brackets in a URL, which
 * `http://$(POD_IP):8000` in a manifest cannot add. NULL when unset, the
 * URL (a new string) or an error. */
static char *replica_url_from_ip(const struct kcr_serve_config *cfg, int *rc, struct kcr_err *err)
{
    const char *ip = config_str("KCR_REPLICA_IP", NULL);
    unsigned char addr[16];
    *rc = 0;
    if (!ip || !*ip)
        return NULL;
    if (inet_pton(AF_INET, ip, addr) == 1)
        return xasprintf("http://%s:%d", ip, cfg->port);
    if (inet_pton(AF_INET6, ip, addr) == 1)
        return xasprintf("http://[%s]:%d", ip, cfg->port);
    *rc = kcr_err_set(err, 0, KCR_ERR_INVALID,
                      "KCR_REPLICA_IP: '%s' is not an IPv4 or IPv6 address", ip);
    return NULL;
}

/* KCR_REPLICA_URL (else KCR_REPLICA_IP): http(s)://host[:port], parsed by
 * libcurl's URL API; kept rebuilt from its parts, so nothing but a scheme, a
 * host and a port ever reaches a record (a path, credentials, a query are
 * refused). */
static int load_replica(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *url = config_str("KCR_REPLICA_URL", NULL);
    _cleanup_free_ char *from_ip = NULL;
    if (!url || !*url) {
        int r;
        url = from_ip = replica_url_from_ip(cfg, &r, err);
        if (!url)
            return r;
    }
    CURLU *u = curl_url();
    if (!u)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "KCR_REPLICA_URL: out of memory");
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *user = NULL, *query = NULL,
         *frag = NULL;
    int rc = -1;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        !(scheme = url_part(u, CURLUPART_SCHEME)) || !(host = url_part(u, CURLUPART_HOST)) ||
        (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
        kcr_err_set(err, 0, KCR_ERR_INVALID,
                    "KCR_REPLICA_URL: not a URL of the form http(s)://host[:port] (e.g. "
                    "http://10.0.0.5:8000)");
        goto out;
    }
    port = url_part(u, CURLUPART_PORT);
    path = url_part(u, CURLUPART_PATH);
    user = url_part(u, CURLUPART_USER);
    query = url_part(u, CURLUPART_QUERY);
    frag = url_part(u, CURLUPART_FRAGMENT);
    if ((path && strcmp(path, "/")) || user || query || frag) {
        kcr_err_set(err, 0, KCR_ERR_INVALID,
                    "KCR_REPLICA_URL: only http(s)://host[:port]: no path, credentials or query");
        goto out;
    }
    for (char *c = scheme; *c; c++)
        *c = (char)(*c | 0x20);
    cfg->replica_url =
        port ? xasprintf("%s://%s:%s", scheme, host, port) : xasprintf("%s://%s", scheme, host);
    if (strlen(cfg->replica_url) > KCR_REPLICA_URL_MAX) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "KCR_REPLICA_URL: longer than %d characters",
                    KCR_REPLICA_URL_MAX);
        goto out;
    }
    rc = 0;
out:
    free(scheme);
    free(host);
    free(port);
    free(path);
    free(user);
    free(query);
    free(frag);
    curl_url_cleanup(u);
    return rc;
}

int config_load(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    if (load_server(cfg, err) < 0 || load_auth(cfg, err) < 0 || load_limits(cfg, err) < 0 ||
        load_backend(cfg, err) < 0 || store_config_load(&cfg->stores, err) < 0 ||
        load_replica(cfg, err) < 0) {
        config_done(cfg);
        return -1;
    }
    return 0;
}

void config_done(struct kcr_serve_config *cfg)
{
    free(cfg->host);
    for (size_t i = 0; i < cfg->nkeys; i++)
        free(cfg->keys[i]);
    free(cfg->master_key);
    struct kcr_jwt_settings *j = &cfg->jwt;
    char *strs[] = {j->public_key, j->jwks_json, j->keys_dir,     j->hs256_secret,
                    j->issuer,     j->audience,  j->allowed_algs, j->single_tenant_id};
    for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
        free(strs[i]);
    free(cfg->data_dir);
    free(cfg->cors_origins);
    free(cfg->replica_url);
    store_config_done(&cfg->stores);
    memset(cfg, 0, sizeof(*cfg));
}

/*** Describing it (the dashboard) ***/

#define REDACTED "[redacted]"

static json_t *opt_str(const char *v)
{
    return v ? json_string(v) : json_null();
}

static json_t *secret(const char *v)
{
    return v ? json_string(REDACTED) : json_null();
}

static json_t *trusted_json(const struct kcr_serve_config *cfg)
{
    if (!cfg->ntrusted)
        return json_null();
    struct kcr_buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < cfg->ntrusted; i++) {
        char a[INET6_ADDRSTRLEN] = "?";
        (void)inet_ntop(cfg->trusted[i].family, cfg->trusted[i].addr, a, sizeof(a));
        buf_printf(&b, "%s%s/%d", i ? "," : "", a, cfg->trusted[i].prefix);
    }
    json_t *s = json_string(b.data);
    buf_done(&b);
    return s;
}

json_t *config_describe(const struct kcr_serve_config *cfg)
{
    static const char *const providers[] = {"api-key", "librechat-jwt", "both"};
    const struct kcr_jwt_settings *j = &cfg->jwt;
    json_t *keys = json_null();
    if (cfg->nkeys) {
        char n[48];
        snprintf(n, sizeof(n), REDACTED " (%zu key%s)", cfg->nkeys, cfg->nkeys > 1 ? "s" : "");
        keys = json_string(n);
    }
    json_t *o = json_object();
    /* One json_pack per group keeps each format string short enough to read. */
    json_object_update_new(
        o, json_pack("{s:s,s:i,s:s,s:b,s:s,s:I,s:I,s:s}", "API_HOST", cfg->host, "API_PORT",
                     cfg->port, "KCR_DATA_DIR", cfg->data_dir, "ENABLE_CORS", cfg->enable_cors,
                     "CORS_ORIGINS", cfg->cors_origins, "KCR_SERVE_UID", (json_int_t)cfg->serve_uid,
                     "KCR_SERVE_GID", (json_int_t)cfg->serve_gid, "KCR_POD_BACKEND",
                     cfg->pod_backend == KCR_POD_BACKEND_KUBERNETES ? "kubernetes" : "local"));
    json_object_update_new(
        o, json_pack("{s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:I,s:o}", "API_KEYS", keys,
                     "MASTER_API_KEY", secret(cfg->master_key), "CODEAPI_AUTH_PROVIDER",
                     providers[cfg->auth_provider], "CODEAPI_JWT_PUBLIC_KEY", secret(j->public_key),
                     "CODEAPI_JWT_JWKS_JSON", secret(j->jwks_json), "CODEAPI_JWT_HS256_SECRET",
                     secret(j->hs256_secret), "CODEAPI_JWT_PUBLIC_KEYS_DIR", opt_str(j->keys_dir),
                     "CODEAPI_JWT_ISSUER", opt_str(j->issuer), "CODEAPI_JWT_AUDIENCE",
                     opt_str(j->audience), "CODEAPI_JWT_ALLOWED_ALGS", opt_str(j->allowed_algs),
                     "CODEAPI_JWT_SINGLE_TENANT_ID", opt_str(j->single_tenant_id),
                     "CODEAPI_JWT_CLOCK_SKEW_SECONDS", (json_int_t)j->clock_skew_s,
                     "CODEAPI_JWT_MAX_TTL_SECONDS", (json_int_t)j->max_ttl_s,
                     "AUTH_TRUSTED_NETWORKS", trusted_json(cfg)));
    json_object_update_new(
        o,
        json_pack("{s:I,s:I,s:I}", "RATE_LIMIT_EXEC_PER_MINUTE", (json_int_t)cfg->rate_limits.exec,
                  "RATE_LIMIT_UPLOAD_PER_MINUTE", (json_int_t)cfg->rate_limits.upload,
                  "RATE_LIMIT_DOWNLOAD_PER_MINUTE", (json_int_t)cfg->rate_limits.download));
    json_object_update_new(
        o, json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "MAX_EXECUTION_TIME",
                     cfg->max_exec_time_s, "MAX_OUTPUT_SIZE", (json_int_t)cfg->max_output_chars,
                     "MAX_FILE_SIZE_MB", (json_int_t)(cfg->max_file_size >> 20),
                     "MAX_FILES_PER_SESSION", (json_int_t)cfg->max_files_per_session,
                     "MAX_OUTPUT_FILES", (json_int_t)cfg->max_output_files, "MAX_MEMORY_MB",
                     (json_int_t)cfg->max_memory_mb, "MAX_PIDS", (json_int_t)cfg->max_pids,
                     "MAX_SESSION_FILES", (json_int_t)cfg->max_session_files,
                     "MAX_CONCURRENT_EXECUTIONS", (json_int_t)cfg->max_concurrent_execs,
                     "EXEC_QUEUE_TIMEOUT_SECONDS", (json_int_t)(cfg->exec_queue_wait_ms / 1000)));
    json_object_update_new(
        o,
        json_pack("{s:I,s:I,s:I,s:b,s:I,s:I,s:I}", "SESSION_TTL_HOURS",
                  (json_int_t)cfg->session_ttl_hours, "SESSION_CLEANUP_INTERVAL_MINUTES",
                  (json_int_t)(cfg->cleanup_interval_s / 60), "STATE_TTL_SECONDS",
                  (json_int_t)cfg->state_ttl_s, "STATE_PERSISTENCE_ENABLED", cfg->state_persistence,
                  "PTC_CONTINUATION_TIMEOUT_SECONDS", (json_int_t)cfg->ptc_continuation_s,
                  "PTC_MAX_ROUND_TRIPS", (json_int_t)cfg->ptc_max_round_trips, "PTC_MAX_PAUSED",
                  (json_int_t)cfg->ptc_max_paused));
    json_object_update_new(
        o,
        json_pack("{s:I,s:I,s:I,s:i}", "MAX_CONNECTIONS_PER_IP", (json_int_t)cfg->max_conns_per_ip,
                  "HTTP_HEADER_TIMEOUT_SECONDS", (json_int_t)cfg->http_header_timeout_s,
                  "HTTP_BODY_TIMEOUT_SECONDS", (json_int_t)cfg->http_body_timeout_s,
                  "KCR_SHUTDOWN_GRACE_SECONDS", cfg->shutdown_grace_s));
    json_object_update_new(o, store_config_describe(&cfg->stores));
    json_object_set_new(o, "KCR_REPLICA_URL", opt_str(cfg->replica_url));
    return o;
}
