/* The /execute reply: UTF-8 repair, truncation marker, fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sidecar/nsexec-report.h"
#include "sidecar/sidecar-result.h"

static void check_utf8(const char *in, size_t len, const char *expect)
{
    size_t n = 0;
    char *out = sidecar_result_utf8(in, len, &n);
    assert_int_equal(n, strlen(expect));
    assert_memory_equal(out, expect, n);
    free(out);
}

static void test_utf8(void **state)
{
    (void)state;
    check_utf8("plain", 5, "plain");
    check_utf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15,
               "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
    check_utf8("a\xff"
               "b",
               3,
               "a\xef\xbf\xbd"
               "b");
    check_utf8("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong '/' */
    check_utf8("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    check_utf8("\xf4\x90\x80\x80", 4,
               "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* > U+10FFFF */
    check_utf8("end\xe2\x82", 5, "end\xef\xbf\xbd\xef\xbf\xbd");    /* cut sequence */
}

static void test_json(void **state)
{
    (void)state;
    struct sidecar_result res;
    sidecar_result_init(&res, 8);
    buf_append(&res.out, "0123456789", 10);
    buf_append(&res.err, "e\xff", 2);
    res.exit_code = 137;
    res.signal = 9;
    res.execution_time_ms = 12;
    json_t *j = sidecar_result_to_json(&res);
    assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 137);
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 9);
    assert_true(json_is_false(json_object_get(j, "timed_out")));
    assert_true(json_is_false(json_object_get(j, "oom_killed")));
    const char *out = json_string_value(json_object_get(j, "stdout"));
    assert_int_equal(strncmp(out, "01234567\n[output truncated", 26), 0);
    assert_string_equal(json_string_value(json_object_get(j, "stderr")), "e\xef\xbf\xbd");
    json_decref(j);
    res.signal = 0;
    j = sidecar_result_to_json(&res);
    assert_true(json_is_null(json_object_get(j, "signal")));
    json_decref(j);
    sidecar_result_done(&res);
}

static void test_report_validation(void **state)
{
    (void)state;
    struct nsexec_report r = {NSEXEC_REPORT_MAGIC, NSEXEC_EXITED, 3, 0, 0};
    assert_true(nsexec_report_valid(&r));
    r.code = 300;
    assert_false(nsexec_report_valid(&r));
    r = (struct nsexec_report){NSEXEC_REPORT_MAGIC, NSEXEC_SIGNALED, 9, 0, 0};
    assert_true(nsexec_report_valid(&r));
    r.magic = 0;
    assert_false(nsexec_report_valid(&r));
    r = (struct nsexec_report){NSEXEC_REPORT_MAGIC, NSEXEC_FAILED, 0, NSEXEC_STEP_SETNS, 1};
    assert_true(nsexec_report_valid(&r));
    assert_string_equal(nsexec_report_step_name(NSEXEC_STEP_SETNS), "setns");
    assert_string_equal(nsexec_report_step_name(999), "unknown");
    r.step = NSEXEC_STEP__MAX;
    assert_false(nsexec_report_valid(&r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_report_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
