/* POST /execute body parsing and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sidecar/sidecar-request.h"

static int parse(const char *body, struct sidecar_request *r, struct sidecar_request_error *e)
{
    return sidecar_request_parse(body, strlen(body), "py", 60, r, e);
}

static void test_minimal_defaults(void **state)
{
    (void)state;
    struct sidecar_request r;
    struct sidecar_request_error e;
    assert_int_equal(parse("{\"code\": \"print(1)\"}", &r, &e), 0);
    assert_string_equal(r.code, "print(1)");
    assert_int_equal(r.code_len, 8);
    assert_string_equal(r.lang->code, "py");
    assert_int_equal(r.timeout_s, 30);
    assert_string_equal(r.working_dir, "/mnt/data");
    assert_int_equal(r.nargs, 0);
    assert_null(r.stdin_data);
    assert_false(r.list_files);
    sidecar_request_done(&r);
}

static void test_all_fields(void **state)
{
    (void)state;
    struct sidecar_request r;
    struct sidecar_request_error e;
    const char *body = "{\"code\": \"x\", \"lang\": \"JS\", \"timeout\": 2.5, \"working_dir\": "
                       "\"/work\", \"args\": [\"a\", \"b c\"], \"stdin\": \"in\\u0000put\", "
                       "\"list_files\": true, \"unknown\": {\"ignored\": true}}";
    assert_int_equal(parse(body, &r, &e), 0);
    assert_string_equal(r.lang->code, "js");
    assert_int_equal(r.timeout_s, 3);
    assert_string_equal(r.working_dir, "/work");
    assert_int_equal(r.nargs, 2);
    assert_string_equal(r.args[1], "b c");
    assert_int_equal(r.stdin_len, 6);
    assert_memory_equal(r.stdin_data, "in\0put", 6);
    assert_true(r.list_files);
    sidecar_request_done(&r);
}

/* list_files: false and null are "not asked", like an absent field. */
static void test_list_files_off(void **state)
{
    (void)state;
    struct sidecar_request r;
    struct sidecar_request_error e;
    assert_int_equal(parse("{\"code\": \"x\", \"list_files\": false}", &r, &e), 0);
    assert_false(r.list_files);
    sidecar_request_done(&r);
    assert_int_equal(parse("{\"code\": \"x\", \"list_files\": null}", &r, &e), 0);
    assert_false(r.list_files);
    sidecar_request_done(&r);
}

static void test_nul_in_code_is_kept(void **state)
{
    (void)state;
    struct sidecar_request r;
    struct sidecar_request_error e;
    assert_int_equal(parse("{\"code\": \"a\\u0000b\"}", &r, &e), 0);
    assert_int_equal(r.code_len, 3);
    sidecar_request_done(&r);
}

static void expect_error(const char *body, int status, const char *field)
{
    struct sidecar_request r;
    struct sidecar_request_error e;
    assert_int_equal(parse(body, &r, &e), -1);
    assert_int_equal(e.status, status);
    if (field)
        assert_string_equal(e.field, field);
    else
        assert_null(e.field);
    assert_true(strlen(e.msg) > 0);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", 400, NULL);
    expect_error("{", 400, NULL);
    expect_error("[]", 400, NULL);
    expect_error("\"code\"", 400, NULL);
    expect_error("{\"code\": 1, \"code\": 2}", 400, NULL);
    expect_error("{}", 400, "code");
    expect_error("{\"code\": null}", 400, "code");
    expect_error("{\"code\": 5}", 422, "code");
    expect_error("{\"code\": \"x\", \"lang\": \"cobol\"}", 400, "lang");
    expect_error("{\"code\": \"x\", \"lang\": 3}", 422, "lang");
    expect_error("{\"code\": \"x\", \"timeout\": 0}", 422, "timeout");
    expect_error("{\"code\": \"x\", \"timeout\": 61}", 422, "timeout");
    expect_error("{\"code\": \"x\", \"timeout\": -5}", 422, "timeout");
    expect_error("{\"code\": \"x\", \"timeout\": \"5\"}", 422, "timeout");
    expect_error("{\"code\": \"x\", \"args\": \"a\"}", 422, "args");
    expect_error("{\"code\": \"x\", \"args\": [1]}", 422, "args");
    expect_error("{\"code\": \"x\", \"args\": [\"a\\u0000b\"]}", 422, "args");
    expect_error("{\"code\": \"x\", \"stdin\": 5}", 422, "stdin");
    expect_error("{\"code\": \"x\", \"working_dir\": \"rel/dir\"}", 422, "working_dir");
    expect_error("{\"code\": \"x\", \"working_dir\": \"/a/../b\"}", 422, "working_dir");
    expect_error("{\"code\": \"x\", \"working_dir\": \"/a/..\"}", 422, "working_dir");
    expect_error("{\"code\": \"x\", \"list_files\": 1}", 422, "list_files");
    expect_error("{\"code\": \"x\", \"list_files\": \"true\"}", 422, "list_files");
}

static void test_too_many_args(void **state)
{
    (void)state;
    char body[2048] = "{\"code\": \"x\", \"args\": [";
    for (int i = 0; i <= SIDECAR_MAX_ARGS; i++)
        strcat(body, i ? ",\"a\"" : "\"a\"");
    strcat(body, "]}");
    expect_error(body, 422, "args");
}

static void test_dotdot_names_inside_components_are_fine(void **state)
{
    (void)state;
    struct sidecar_request r;
    struct sidecar_request_error e;
    assert_int_equal(parse("{\"code\": \"x\", \"working_dir\": \"/mnt/a..b\"}", &r, &e), 0);
    sidecar_request_done(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_defaults),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_list_files_off),
        cmocka_unit_test(test_nul_in_code_is_kept),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_too_many_args),
        cmocka_unit_test(test_dotdot_names_inside_components_are_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
