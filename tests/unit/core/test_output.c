/* Unit tests for core/output.c: docs/api-contract.md rule 4 (cap in characters with
 * the marker, control characters removed, invalid UTF-8 replaced, leading
 * whitespace kept, stdout ends with a newline). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/output.h"

static void check(const char *in, size_t len, size_t cap, bool is_stdout, const char *want)
{
    char *got = output_process(in, len, cap, is_stdout, false);
    assert_string_equal(got, want);
    free(got);
}

static void test_plain(void **state)
{
    (void)state;
    check("hi", 2, 100, true, "hi\n");
    check("hi\n", 3, 100, true, "hi\n");
    check("", 0, 100, true, "");
    check("err", 3, 100, false, "err");
    check(NULL, 0, 100, false, "");
}

static void test_whitespace_kept(void **state)
{
    (void)state;
    check("\n  indented\n\n", 13, 100, true, "\n  indented\n\n");
    check("   ", 3, 100, true, "   \n");
}

static void test_controls_removed(void **state)
{
    (void)state;
    check("a\x01\x07\x1b[0m\x7f\tb\r\n", 12, 100, true, "a[0m\tb\r\n");
    check("x\0y", 3, 100, false, "xy");
}

static void test_invalid_utf8_replaced(void **state)
{
    (void)state;
    check("a\xff"
          "b",
          3, 100, false,
          "a\xef\xbf\xbd"
          "b");
    /* Overlong, surrogate and truncated sequences each become one U+FFFD per byte. */
    check("\xc0\xaf", 2, 100, false, "\xef\xbf\xbd\xef\xbf\xbd");
    check("\xed\xa0\x80", 3, 100, false, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    check("ok\xe2\x82", 4, 100, false, "ok\xef\xbf\xbd\xef\xbf\xbd");
    /* Valid multibyte text is untouched. */
    check("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, 100, false,
          "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

static void test_cap_counts_characters(void **state)
{
    (void)state;
    check("\xc3\xa9\xc3\xa9\xc3\xa9", 6, 2, true, "\xc3\xa9\xc3\xa9" OUTPUT_TRUNCATED_MARK "\n");
    check("abc", 3, 3, false, "abc");
    check("abcd", 4, 3, false, "abc" OUTPUT_TRUNCATED_MARK);
    /* Removed control characters do not count. */
    check("a\x01\x02"
          "bc",
          5, 3, false, "abc");
    /* A producer-side truncation is reported too. */
    char *got = output_process("ab", 2, 10, false, true);
    assert_string_equal(got, "ab" OUTPUT_TRUNCATED_MARK);
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_whitespace_kept),
        cmocka_unit_test(test_controls_removed),
        cmocka_unit_test(test_invalid_utf8_replaced),
        cmocka_unit_test(test_cap_counts_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
