/* Unit tests for the api module's pure parts: the error kind -> status table
 * and error types (docs/api-contract.md rule 11), the OpenAPI document (every
 * endpoint, valid structure), the Content-Disposition encoding (rule 9) and API-key checks
 * (static keys, managed keys by sha256, master key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/auth.h"
#include "api/download.h"
#include "api/errors.h"
#include "api/openapi.h"
#include "common/digest.h"
#include "core/keys.h"
#include "fakes/tmpdir.h"

static void test_status_table(void **state)
{
    (void)state;
    assert_int_equal(errors_status(KCR_ERR_INVALID), 400);
    assert_int_equal(errors_status(KCR_ERR_NOT_FOUND), 404);
    assert_int_equal(errors_status(KCR_ERR_LIMIT), 413);
    assert_int_equal(errors_status(KCR_ERR_UNAVAILABLE), 503);
    assert_int_equal(errors_status(KCR_ERR_TIMEOUT), 504);
    assert_int_equal(errors_status(KCR_ERR_INTERNAL), 500);
    static const struct {
        int status;
        const char *type;
    } types[] = {{400, "validation"},          {415, "validation"},    {422, "validation"},
                 {401, "authentication"},      {403, "authorization"}, {404, "resource_not_found"},
                 {413, "resource_exhausted"},  {429, "rate_limited"},  {500, "internal_server"},
                 {503, "service_unavailable"}, {504, "timeout"},       {418, "internal_server"}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        assert_string_equal(errors_type(types[i].status), types[i].type);
    json_t *d = errors_detail("body -> code", "Field required", "missing");
    assert_string_equal(json_string_value(json_object_get(d, "field")), "body -> code");
    json_decref(d);
    d = errors_detail(NULL, "m", NULL);
    assert_true(json_is_null(json_object_get(d, "field")));
    json_decref(d);
}

static void test_openapi_document(void **state)
{
    (void)state;
    json_t *doc = openapi_document("1.2.3");
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *paths = json_object_get(doc, "paths");
    static const char *const want[] = {"/exec",
                                       "/upload",
                                       "/files/{session_id}",
                                       "/files/{session_id}/{file_id}",
                                       "/download/{session_id}/{file_id}",
                                       "/sessions/{session_id}/objects/{file_id}",
                                       "/state/{session_id}",
                                       "/state/{session_id}/info",
                                       "/health",
                                       "/ready",
                                       "/health/detailed",
                                       "/metrics",
                                       "/openapi.json"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(json_object_get(paths, want[i]));
    /* Every $ref points at a schema that exists. */
    char *text = json_dumps(doc, 0);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    for (const char *p = text; (p = strstr(p, "#/components/schemas/")); p++) {
        char name[64] = {0};
        sscanf(p + strlen("#/components/schemas/"), "%63[A-Za-z]", name);
        assert_non_null(json_object_get(schemas, name));
    }
    free(text);
    json_decref(doc);
}

static void test_disposition(void **state)
{
    (void)state;
    char *d = download_disposition("plot.png");
    assert_string_equal(d, "attachment; filename=\"plot.png\"; filename*=UTF-8''plot.png");
    free(d);
    d = download_disposition("sub/r\xc3\xa9sum\xc3\xa9 caf\xc3\xa9.txt");
    assert_string_equal(d, "attachment; filename=\"resume_cafe.txt\"; "
                           "filename*=UTF-8''r%C3%A9sum%C3%A9%20caf%C3%A9.txt");
    free(d);
    d = download_disposition("\xe6\x95\xb0\xe6\x8d\xae.csv"); /* 数据.csv */
    assert_string_equal(d, "attachment; filename=\"__.csv\"; "
                           "filename*=UTF-8''%E6%95%B0%E6%8D%AE.csv");
    free(d);
    d = download_disposition("a\"b;c.txt");
    assert_non_null(strstr(d, "filename=\"a_b_c.txt\""));
    free(d);
}

static void test_keys(void **state)
{
    (void)state;
    char dir[TMPDIR_SIZE];
    tmpdir_new(dir, "auth");
    struct kcr_serve_config cfg = {0};
    cfg.data_dir = dir;
    cfg.keys[cfg.nkeys++] = "first-key-0123456789";
    cfg.keys[cfg.nkeys++] = "second-key-0123456789";
    cfg.master_key = "master-key-0123456789";
    /* The stores as kcr serve opens them (no pod backend: no pool). */
    struct kcr_core core = {0};
    assert_int_equal(core_open(&core, &cfg, NULL), 0);
    assert_non_null(core.meta);
    assert_non_null(core.blob);
    assert_null(core.pool);
    assert_string_equal(core_backend_name(&core), "none");
    assert_int_equal(core_ping(&core, NULL, NULL, NULL, NULL), 0);
    struct kcr_auth *a = auth_new(&cfg, &core, NULL);
    assert_non_null(a);
    auth_add_key(a, "generated-key-0123456789");
    struct kcr_principal p, q;
    assert_int_equal(auth_key_principal(a, "first-key-0123456789", &p), 0);
    assert_int_equal(auth_key_principal(a, "second-key-0123456789", &q), 0);
    /* Each key is its own principal, named by its hash, never by the key. */
    assert_int_equal(p.kind, KCR_PRINCIPAL_KEY);
    assert_string_not_equal(p.id, q.id);
    assert_null(strstr(p.id, "first-key"));
    assert_int_equal(strncmp(p.id, "key:", 4), 0);
    assert_int_equal(auth_key_principal(a, "generated-key-0123456789", &p), 0);
    assert_int_equal(auth_key_principal(a, "master-key-0123456789", &p), 0);
    assert_int_equal(auth_key_principal(a, "first-key-012345678", &p), -1);
    assert_int_equal(auth_key_principal(a, "first-key-01234567890", &p), -1);
    assert_int_equal(auth_key_principal(a, "", &p), -1);
    assert_int_equal(auth_key_principal(a, NULL, &p), -1);
    assert_true(auth_is_master(a, "master-key-0123456789"));
    assert_false(auth_is_master(a, "first-key-0123456789"));
    /* A managed key is valid through its sha256 only, with its own limits,
     * and not once disabled. */
    char hash[65];
    digest_sha256_hex("managed-key-0123456789", 22, hash);
    assert_int_equal(strlen(hash), 64);
    assert_int_equal(auth_key_principal(a, "managed-key-0123456789", &p), -1);
    struct kcr_key_meta k = {.name = "ci", .enabled = true, .limits = {3, -1, -1}};
    strcpy(k.hash, hash);
    assert_int_equal(keys_add(&core, &k, NULL), 0);
    assert_int_equal(auth_key_principal(a, "managed-key-0123456789", &p), 0);
    assert_int_equal(p.limits.exec, 3);
    assert_int_equal(keys_set_enabled(&core, hash, false, NULL), 0);
    assert_int_equal(auth_key_principal(a, "managed-key-0123456789", &p), -1);
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(keys_list(&core, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].hash, hash);
    assert_false(v[0].enabled);
    free(v);
    assert_int_equal(keys_delete(&core, hash, NULL), 0);
    struct kcr_err kerr = {0};
    assert_int_equal(keys_get(&core, hash, &k, &kerr), -1);
    assert_int_equal(kerr.kind, KCR_ERR_NOT_FOUND);
    auth_free(a);
    /* Bad JWT settings stop the start, naming the variable. */
    cfg.auth_provider = KCR_AUTH_JWT;
    cfg.jwt.public_key = "not a key";
    cfg.jwt.max_ttl_s = 300;
    struct kcr_err err = {0};
    assert_null(auth_new(&cfg, &core, &err));
    assert_non_null(strstr(err.msg, "CODEAPI_JWT_PUBLIC_KEY"));
    core_close(&core);
    assert_null(core.meta);
    assert_null(core.blob);
    tmpdir_remove(dir);
}

static void test_public_paths(void **state)
{
    (void)state;
    assert_true(auth_is_public("GET", "/health"));
    assert_true(auth_is_public("GET", "/ready"));
    assert_true(auth_is_public("GET", "/openapi.json"));
    assert_true(auth_is_public("OPTIONS", "/download/a/b"));
    assert_false(auth_is_public("GET", "/health/detailed"));
    assert_false(auth_is_public("GET", "/metrics"));
    assert_false(auth_is_public("POST", "/exec"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table), cmocka_unit_test(test_openapi_document),
        cmocka_unit_test(test_disposition),  cmocka_unit_test(test_keys),
        cmocka_unit_test(test_public_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
