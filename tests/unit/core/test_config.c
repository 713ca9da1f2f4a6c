/* Unit tests for config_describe (core/config.c), the configuration the
 * operator dashboard shows: every value in force under its variable's name,
 * and no secret, ever — keys, the master key, JWT key material and the HS256
 * secret are "[redacted]" when set and null when not. And the shared stores'
 * settings (core/store-config.c): REDIS_URL parsed by libcurl's URL parser,
 * the parts, the S3 settings, each mistake naming its variable. And
 * KCR_REPLICA_URL: http(s)://host[:port] only, parsed by libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/serve-config.h"

static const char *const secrets[] = {
    "API_KEY",
    "first-secret-key-0123456789",
    "API_KEYS",
    "second-secret-key-0123456789, third-secret-key-0123456789",
    "MASTER_API_KEY",
    "master-secret-key-0123456789",
    "CODEAPI_JWT_HS256_SECRET",
    "hs256-secret-0123456789abcdef0123456789abcdef",
    "CODEAPI_JWT_JWKS_JSON",
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"jwks-secret-material\"}]}",
};

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_secrets_are_redacted(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i += 2)
        setenv(secrets[i], secrets[i + 1], 1);
    setenv("KCR_DATA_DIR", "/tmp/kcr-config-test", 1);
    setenv("MAX_EXECUTION_TIME", "7", 1);
    setenv("AUTH_TRUSTED_NETWORKS", "10.1.2.3/8, fd00::1/8", 1);
    setenv("RATE_LIMIT_EXEC_PER_MINUTE", "42", 1);
    struct kcr_serve_config cfg;
    struct kcr_err err = {0};
    assert_int_equal(config_load(&cfg, &err), 0);
    json_t *d = config_describe(&cfg);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_non_null(text);
    /* No secret, nor a recognisable part of one, anywhere in the document. */
    for (size_t i = 1; i < sizeof(secrets) / sizeof(secrets[0]); i += 2)
        assert_null(strstr(text, secrets[i]));
    static const char *const parts[] = {"first-secret",  "second-secret", "third-secret",
                                        "master-secret", "hs256-secret",  "jwks-secret"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        assert_null(strstr(text, parts[i]));
    assert_string_equal(str(d, "API_KEYS"), "[redacted] (3 keys)");
    assert_string_equal(str(d, "MASTER_API_KEY"), "[redacted]");
    assert_string_equal(str(d, "CODEAPI_JWT_HS256_SECRET"), "[redacted]");
    assert_string_equal(str(d, "CODEAPI_JWT_JWKS_JSON"), "[redacted]");
    assert_true(json_is_null(json_object_get(d, "CODEAPI_JWT_PUBLIC_KEY")));
    /* The settings in force, under their variables' names. */
    assert_string_equal(str(d, "CODEAPI_AUTH_PROVIDER"), "both");
    assert_string_equal(str(d, "KCR_DATA_DIR"), "/tmp/kcr-config-test");
    assert_int_equal(json_integer_value(json_object_get(d, "MAX_EXECUTION_TIME")), 7);
    assert_int_equal(json_integer_value(json_object_get(d, "RATE_LIMIT_EXEC_PER_MINUTE")), 42);
    assert_string_equal(str(d, "AUTH_TRUSTED_NETWORKS"), "10.0.0.0/8,fd00::/8");
    assert_string_equal(str(d, "KCR_POD_BACKEND"), "local");
    free(text);
    json_decref(d);
    config_done(&cfg);

    /* Unset secrets are null. */
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i += 2)
        unsetenv(secrets[i]);
    assert_int_equal(config_load(&cfg, &err), 0);
    d = config_describe(&cfg);
    static const char *const names[] = {"API_KEYS", "MASTER_API_KEY", "CODEAPI_JWT_HS256_SECRET",
                                        "CODEAPI_JWT_JWKS_JSON", "CODEAPI_JWT_PUBLIC_KEY"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_true(json_is_null(json_object_get(d, names[i])));
    assert_string_equal(str(d, "CODEAPI_AUTH_PROVIDER"), "api-key");
    json_decref(d);
    config_done(&cfg);
}

/*** The shared stores (core/store-config.c) ***/

static void unset_stores(void)
{
    static const char *const vars[] = {
        "REDIS_URL",          "REDIS_HOST",          "REDIS_PORT",       "REDIS_PASSWORD",
        "REDIS_DB",           "REDIS_SSL",           "REDIS_KEY_PREFIX", "REDIS_SSL_CERT_REQS",
        "REDIS_SSL_CERTFILE", "REDIS_SSL_KEYFILE",   "MINIO_ENDPOINT",   "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",   "MINIO_SECURE",        "MINIO_BUCKET",     "MINIO_USE_IAM",
        "S3_ENDPOINT",        "REDIS_SOCKET_TIMEOUT"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

static void test_embedded_by_default(void **state)
{
    (void)state;
    unset_stores();
    struct kcr_store_settings st;
    assert_int_equal(store_config_load(&st, NULL), 0);
    assert_int_equal(st.meta, KCR_META_SQLITE);
    assert_int_equal(st.blob, KCR_BLOB_FS);
    store_config_done(&st);
}

static void test_redis_url(void **state)
{
    (void)state;
    unset_stores();
    /* The password is percent-decoded; the path is the db; rediss is TLS. */
    setenv("REDIS_URL", "rediss://app:p%40ss%3Aword@redis.internal:6380/3", 1);
    struct kcr_store_settings st;
    assert_int_equal(store_config_load(&st, NULL), 0);
    assert_int_equal(st.meta, KCR_META_REDIS);
    struct kcr_redis_config rc;
    store_config_redis(&st, &rc);
    assert_string_equal(rc.host, "redis.internal");
    assert_int_equal(rc.port, 6380);
    assert_string_equal(rc.username, "app");
    assert_string_equal(rc.password, "p@ss:word");
    assert_int_equal(rc.db, 3);
    assert_true(rc.tls && rc.tls_verify);
    assert_int_equal(rc.socket_timeout_ms, 5000);
    assert_int_equal(rc.max_connections, 20);
    store_config_done(&st);

    /* No user, no port, no db: the defaults. REDIS_SSL=false wins over nothing. */
    setenv("REDIS_URL", "redis://:secret@10.0.0.5", 1);
    assert_int_equal(store_config_load(&st, NULL), 0);
    store_config_redis(&st, &rc);
    assert_null(rc.username);
    assert_string_equal(rc.password, "secret");
    assert_int_equal(rc.port, 6379);
    assert_int_equal(rc.db, 0);
    assert_false(rc.tls);
    json_t *d = store_config_describe(&st);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_null(strstr(text, "secret\""));
    assert_string_equal(str(d, "REDIS_PASSWORD"), "[redacted]");
    free(text);
    json_decref(d);
    store_config_done(&st);

    static const char *const bad[] = {"http://h:1", "redis://h:1/x", "redis://h:1/-1", "::"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("REDIS_URL", bad[i], 1);
        struct kcr_err err = {0};
        assert_int_equal(store_config_load(&st, &err), -1);
        assert_non_null(strstr(err.msg, "REDIS_URL"));
        store_config_done(&st);
    }
    unset_stores();
}

static void test_redis_parts_and_errors(void **state)
{
    (void)state;
    unset_stores();
    setenv("REDIS_HOST", "r", 1);
    setenv("REDIS_PORT", "7000", 1);
    setenv("REDIS_DB", "2", 1);
    setenv("REDIS_SSL", "true", 1);
    setenv("REDIS_SSL_CERT_REQS", "none", 1);
    setenv("REDIS_KEY_PREFIX", "kcr:", 1);
    struct kcr_store_settings st;
    assert_int_equal(store_config_load(&st, NULL), 0);
    struct kcr_redis_config rc;
    store_config_redis(&st, &rc);
    assert_string_equal(rc.host, "r");
    assert_int_equal(rc.port, 7000);
    assert_int_equal(rc.db, 2);
    assert_true(rc.tls && !rc.tls_verify);
    assert_string_equal(rc.key_prefix, "kcr:");
    store_config_done(&st);
    setenv("REDIS_SSL_CERTFILE", "/c.pem", 1);
    struct kcr_err err = {0};
    assert_int_equal(store_config_load(&st, &err), -1);
    assert_non_null(strstr(err.msg, "REDIS_SSL_KEYFILE"));
    store_config_done(&st);
    unset_stores();
}

static void test_s3_settings(void **state)
{
    (void)state;
    unset_stores();
    setenv("MINIO_ENDPOINT", "minio:9000", 1);
    struct kcr_store_settings st;
    struct kcr_err err = {0};
    assert_int_equal(store_config_load(&st, &err), -1);
    assert_non_null(strstr(err.msg, "MINIO_ACCESS_KEY"));
    store_config_done(&st);
    setenv("MINIO_ACCESS_KEY", "access-visible", 1);
    setenv("MINIO_SECRET_KEY", "secret-never-shown", 1);
    assert_int_equal(store_config_load(&st, NULL), 0);
    assert_int_equal(st.blob, KCR_BLOB_S3);
    struct kcr_s3_config sc;
    store_config_s3(&st, "/spool", &sc);
    assert_string_equal(sc.endpoint, "minio:9000");
    assert_string_equal(sc.bucket, "kubecoderun-files");
    assert_string_equal(sc.region, "us-east-1");
    assert_string_equal(sc.spool_dir, "/spool");
    assert_false(sc.secure);
    assert_int_equal(sc.timeout_ms, 30000);
    json_t *d = store_config_describe(&st);
    char *text = json_dumps(d, JSON_COMPACT);
    assert_null(strstr(text, "secret-never-shown"));
    assert_null(strstr(text, "access-visible"));
    free(text);
    json_decref(d);
    store_config_done(&st);
    static const char *const bad[][2] = {{"MINIO_ENDPOINT", "https://minio:9000"},
                                         {"MINIO_ENDPOINT", "minio:9000/bucket"},
                                         {"MINIO_USE_IAM", "true"},
                                         {"S3_ENDPOINT", "x"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("MINIO_ENDPOINT", "minio:9000", 1);
        setenv(bad[i][0], bad[i][1], 1);
        assert_int_equal(store_config_load(&st, &err), -1);
        assert_non_null(strstr(err.msg, bad[i][0]));
        store_config_done(&st);
        unsetenv(bad[i][0]);
    }
    unset_stores();
}

/*** KCR_REPLICA_URL ***/

static void test_replica_url(void **state)
{
    (void)state;
    setenv("KCR_DATA_DIR", "/tmp/kcr-config-test", 1);
    struct kcr_serve_config cfg;
    struct kcr_err err = {0};
    unsetenv("KCR_REPLICA_URL");
    assert_int_equal(config_load(&cfg, &err), 0);
    assert_null(cfg.replica_url);
    json_t *d = config_describe(&cfg);
    assert_true(json_is_null(json_object_get(d, "KCR_REPLICA_URL")));
    json_decref(d);
    config_done(&cfg);
    static const char *const good[][2] = {
        {"http://10.0.0.5:8000", "http://10.0.0.5:8000"},
        {"HTTPS://kcr-0.kcr.default.svc:8443/", "https://kcr-0.kcr.default.svc:8443"},
        {"http://[fd00::5]:8000", "http://[fd00::5]:8000"},
        {"http://replica", "http://replica"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("KCR_REPLICA_URL", good[i][0], 1);
        assert_int_equal(config_load(&cfg, &err), 0);
        assert_string_equal(cfg.replica_url, good[i][1]);
        d = config_describe(&cfg);
        assert_string_equal(str(d, "KCR_REPLICA_URL"), good[i][1]);
        json_decref(d);
        config_done(&cfg);
    }
    static const char *const bad[] = {
        "10.0.0.5:8000",          "ftp://10.0.0.5",
        "file:///etc/passwd",     "http://10.0.0.5:8000/x",
        "http://u:p@10.0.0.5:80", "http://10.0.0.5/?a=b",
        "http://10.0.0.5:99999",  "http://",
        "gopher://h:70",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("KCR_REPLICA_URL", bad[i], 1);
        assert_int_equal(config_load(&cfg, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
        assert_non_null(strstr(err.msg, "KCR_REPLICA_URL"));
    }
    unsetenv("KCR_REPLICA_URL");
}

/* KCR_REPLICA_IP: a pod IP made a URL with API_PORT, IPv6 in brackets;
 * KCR_REPLICA_URL wins when both are set. */
static void test_replica_ip(void **state)
{
    (void)state;
    setenv("KCR_DATA_DIR", "/tmp/kcr-config-test", 1);
    setenv("API_PORT", "8123", 1);
    unsetenv("KCR_REPLICA_URL");
    struct kcr_serve_config cfg;
    struct kcr_err err = {0};
    static const char *const good[][2] = {
        {"10.0.0.5", "http://10.0.0.5:8123"},
        {"fd00::5", "http://[fd00::5]:8123"},
        {"2001:db8::1:2", "http://[2001:db8::1:2]:8123"},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("KCR_REPLICA_IP", good[i][0], 1);
        assert_int_equal(config_load(&cfg, &err), 0);
        assert_string_equal(cfg.replica_url, good[i][1]);
        config_done(&cfg);
    }
    setenv("KCR_REPLICA_URL", "http://kcr-0:8000", 1);
    assert_int_equal(config_load(&cfg, &err), 0);
    assert_string_equal(cfg.replica_url, "http://kcr-0:8000");
    config_done(&cfg);
    unsetenv("KCR_REPLICA_URL");
    static const char *const bad[] = {"kcr-0",      "10.0.0.5:8000", "[fd00::5]",
                                      "10.0.0.256", "fd00::5/64",    "http://10.0.0.5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("KCR_REPLICA_IP", bad[i], 1);
        assert_int_equal(config_load(&cfg, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_INVALID);
        assert_non_null(strstr(err.msg, "KCR_REPLICA_IP"));
    }
    unsetenv("KCR_REPLICA_IP");
    unsetenv("API_PORT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_are_redacted),
        cmocka_unit_test(test_embedded_by_default),
        cmocka_unit_test(test_redis_url),
        cmocka_unit_test(test_redis_parts_and_errors),
        cmocka_unit_test(test_s3_settings),
        cmocka_unit_test(test_replica_url),
        cmocka_unit_test(test_replica_ip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
