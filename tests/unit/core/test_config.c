/* Unit tests for config_describe (core/config.c), the configuration the
 * operator dashboard shows: every value in force under its variable's name,
 * and no secret, ever — keys, the master key, JWT key material and the HS256
 * secret are "[redacted]" when set and null when not. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secrets_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
