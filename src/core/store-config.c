#include "core/store-config.h"
#include "common/config.h"
#include "common/xalloc.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDACTED "[redacted]"

static char *dup_or_null(const char *v)
{
    return v ? xstrdup(v) : NULL;
}

/* One part of a parsed URL, decoded; NULL when absent. */
static char *url_part(CURLU *u, CURLUPart what)
{
    char *v = NULL;
    if (curl_url_get(u, what, &v, CURLU_URLDECODE) != CURLUE_OK)
        return NULL;
    char *r = xstrdup(v);
    curl_free(v);
    return r;
}

/* REDIS_URL: redis://[[user][:password]@]host[:port][/db], rediss:// for TLS.
 * libcurl's URL parser does the parsing (and the percent-decoding of the
 * credentials); only the scheme and the db path are checked here. */
static int parse_redis_url(struct kcr_redis_settings *r, const char *url, struct kcr_err *err)
{
    CURLU *u = curl_url();
    if (!u)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "REDIS_URL: out of memory");
    int rc = -1;
    char *scheme = NULL, *port = NULL, *path = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        !(scheme = url_part(u, CURLUPART_SCHEME)) || !(r->host = url_part(u, CURLUPART_HOST))) {
        kcr_err_set(err, 0, KCR_ERR_INVALID,
                    "REDIS_URL: not a URL of the form redis://[:password@]host[:port][/db]");
        goto out;
    }
    if (!strcasecmp(scheme, "rediss"))
        r->tls = true;
    else if (strcasecmp(scheme, "redis")) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "REDIS_URL: the scheme must be redis:// or rediss://");
        goto out;
    }
    r->username = url_part(u, CURLUPART_USER);
    r->password = url_part(u, CURLUPART_PASSWORD);
    if (r->username && !*r->username) {
        free(r->username);
        r->username = NULL;
    }
    if ((port = url_part(u, CURLUPART_PORT)))
        r->port = atoi(port); /* curl checked it is a number in 0..65535 */
    path = url_part(u, CURLUPART_PATH);
    if (path && strcmp(path, "/") && *path) {
        char *end;
        long db = strtol(path + 1, &end, 10);
        if (end == path + 1 || *end || db < 0 || db > 1000000) {
            kcr_err_set(err, 0, KCR_ERR_INVALID, "REDIS_URL: the path must be a db number (/0)");
            goto out;
        }
        r->db = (int)db;
    }
    rc = 0;
out:
    free(scheme);
    free(port);
    free(path);
    curl_url_cleanup(u);
    return rc;
}

static int load_redis(struct kcr_redis_settings *r, struct kcr_err *err)
{
    const char *url = config_str("REDIS_URL", NULL);
    long v;
    r->port = 6379;
    if (url) {
        if (parse_redis_url(r, url, err) < 0)
            return -1;
    } else {
        r->host = xstrdup(config_str("REDIS_HOST", "localhost"));
        r->password = dup_or_null(config_str("REDIS_PASSWORD", NULL));
        if (config_long("REDIS_PORT", 6379, 1, 65535, &v, err) < 0)
            return -1;
        r->port = (int)v;
        if (config_long("REDIS_DB", 0, 0, 1000000, &v, err) < 0)
            return -1;
        r->db = (int)v;
    }
    bool tls = r->tls;
    if (config_bool("REDIS_SSL", tls, &r->tls, err) < 0)
        return -1;
    r->key_prefix = xstrdup(config_str("REDIS_KEY_PREFIX", ""));
    r->tls_ca = dup_or_null(config_str("REDIS_SSL_CA_CERTS", NULL));
    r->tls_cert = dup_or_null(config_str("REDIS_SSL_CERTFILE", NULL));
    r->tls_key = dup_or_null(config_str("REDIS_SSL_KEYFILE", NULL));
    if (!r->tls_cert != !r->tls_key)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "REDIS_SSL_CERTFILE and REDIS_SSL_KEYFILE: set both or neither");
    const char *reqs = config_str("REDIS_SSL_CERT_REQS", "required");
    if (!strcasecmp(reqs, "required"))
        r->tls_verify = true;
    else if (!strcasecmp(reqs, "none"))
        r->tls_verify = false;
    else
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "REDIS_SSL_CERT_REQS: '%s' is not one of required, none", reqs);
    /* Every HTTP connection has its thread: a pool smaller than the busy
     * threads makes them queue for a connection, bounded by the timeout. */
    if (config_long("REDIS_SOCKET_TIMEOUT", 5, 1, 300, &r->timeout_s, err) < 0 ||
        config_long("REDIS_MAX_CONNECTIONS", 20, 1, 1024, &r->max_connections, err) < 0)
        return -1;
    return 0;
}

static int load_s3(struct kcr_s3_settings *s, const char *endpoint, struct kcr_err *err)
{
    if (strstr(endpoint, "://"))
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "MINIO_ENDPOINT: give host[:port] without a scheme (MINIO_SECURE "
                           "chooses https)");
    if (strchr(endpoint, '/') || strchr(endpoint, '@') || strchr(endpoint, '?'))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "MINIO_ENDPOINT: only host[:port]");
    s->endpoint = xstrdup(endpoint);
    const char *ak = config_str("MINIO_ACCESS_KEY", NULL),
               *sk = config_str("MINIO_SECRET_KEY", NULL);
    if (!ak || !sk)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "MINIO_ACCESS_KEY and MINIO_SECRET_KEY: required with MINIO_ENDPOINT");
    s->access_key = xstrdup(ak);
    s->secret_key = xstrdup(sk);
    s->bucket = xstrdup(config_str("MINIO_BUCKET", "kubecoderun-files"));
    s->region = xstrdup(config_str("MINIO_REGION", "us-east-1"));
    s->ca_file = dup_or_null(config_str("MINIO_CA_CERTS", NULL));
    bool iam;
    if (config_bool("MINIO_SECURE", false, &s->secure, err) < 0 ||
        config_bool("MINIO_USE_IAM", false, &iam, err) < 0 ||
        config_long("S3_TIMEOUT_SECONDS", 30, 1, 600, &s->timeout_s, err) < 0)
        return -1;
    if (iam)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "MINIO_USE_IAM: not supported; give MINIO_ACCESS_KEY and "
                           "MINIO_SECRET_KEY");
    return 0;
}

int store_config_load(struct kcr_store_settings *s, struct kcr_err *err)
{
    memset(s, 0, sizeof(*s));
    if (config_str("S3_ENDPOINT", NULL))
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "S3_ENDPOINT: kcr reads MINIO_ENDPOINT (host[:port]) and MINIO_SECURE");
    if (config_str("REDIS_URL", NULL) || config_str("REDIS_HOST", NULL)) {
        s->meta = KCR_META_REDIS;
        if (load_redis(&s->redis, err) < 0)
            return -1;
    }
    const char *endpoint = config_str("MINIO_ENDPOINT", NULL);
    if (endpoint) {
        s->blob = KCR_BLOB_S3;
        if (load_s3(&s->s3, endpoint, err) < 0)
            return -1;
    }
    return 0;
}

void store_config_done(struct kcr_store_settings *s)
{
    struct kcr_redis_settings *r = &s->redis;
    free(r->host);
    free(r->username);
    free(r->password);
    free(r->key_prefix);
    free(r->tls_ca);
    free(r->tls_cert);
    free(r->tls_key);
    struct kcr_s3_settings *b = &s->s3;
    free(b->endpoint);
    free(b->access_key);
    free(b->secret_key);
    free(b->bucket);
    free(b->region);
    free(b->ca_file);
    memset(s, 0, sizeof(*s));
}

void store_config_redis(const struct kcr_store_settings *s, struct kcr_redis_config *ret)
{
    const struct kcr_redis_settings *r = &s->redis;
    *ret = (struct kcr_redis_config){
        .host = r->host,
        .port = r->port,
        .username = r->username,
        .password = r->password,
        .db = r->db,
        .key_prefix = r->key_prefix ? r->key_prefix : "",
        .tls = r->tls,
        .tls_ca = r->tls_ca,
        .tls_cert = r->tls_cert,
        .tls_key = r->tls_key,
        .tls_verify = r->tls_verify,
        .socket_timeout_ms = r->timeout_s * 1000,
        .max_connections = (size_t)r->max_connections,
    };
}

void store_config_s3(const struct kcr_store_settings *s, const char *spool_dir,
                     struct kcr_s3_config *ret)
{
    const struct kcr_s3_settings *b = &s->s3;
    *ret = (struct kcr_s3_config){
        .endpoint = b->endpoint,
        .secure = b->secure,
        .access_key = b->access_key,
        .secret_key = b->secret_key,
        .bucket = b->bucket,
        .region = b->region,
        .ca_file = b->ca_file,
        .spool_dir = spool_dir,
        .timeout_ms = b->timeout_s * 1000,
    };
}

static json_t *opt(const char *v)
{
    return v ? json_string(v) : json_null();
}

static json_t *secret(const char *v)
{
    return v ? json_string(REDACTED) : json_null();
}

json_t *store_config_describe(const struct kcr_store_settings *s)
{
    json_t *o = json_object();
    if (s->meta == KCR_META_REDIS) {
        const struct kcr_redis_settings *r = &s->redis;
        json_object_update_new(
            o, json_pack("{s:s,s:i,s:i,s:o,s:s,s:b,s:o,s:s,s:I,s:I}", "REDIS_HOST", r->host,
                         "REDIS_PORT", r->port, "REDIS_DB", r->db, "REDIS_PASSWORD",
                         secret(r->password), "REDIS_KEY_PREFIX", r->key_prefix, "REDIS_SSL",
                         r->tls, "REDIS_SSL_CA_CERTS", opt(r->tls_ca), "REDIS_SSL_CERT_REQS",
                         r->tls_verify ? "required" : "none", "REDIS_SOCKET_TIMEOUT",
                         (json_int_t)r->timeout_s, "REDIS_MAX_CONNECTIONS",
                         (json_int_t)r->max_connections));
    }
    if (s->blob == KCR_BLOB_S3) {
        const struct kcr_s3_settings *b = &s->s3;
        json_object_update_new(
            o, json_pack("{s:s,s:b,s:o,s:o,s:s,s:s,s:o,s:I}", "MINIO_ENDPOINT", b->endpoint,
                         "MINIO_SECURE", b->secure, "MINIO_ACCESS_KEY", secret(b->access_key),
                         "MINIO_SECRET_KEY", secret(b->secret_key), "MINIO_BUCKET", b->bucket,
                         "MINIO_REGION", b->region, "MINIO_CA_CERTS", opt(b->ca_file),
                         "S3_TIMEOUT_SECONDS", (json_int_t)b->timeout_s));
    }
    return o;
}
