/* The capped buffer and nanoid ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/id.h"

static void test_buf_cap(void **state)
{
    (void)state;
    struct kcr_buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "hello", 5), 5);
    assert_int_equal(buf_append(&b, "world!!", 7), 5);
    assert_true(b.truncated);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    assert_int_equal(buf_append(&b, "x", 1), 0);
    assert_true(b.alloc <= 11);
    size_t len = 0;
    char *s = buf_take(&b, &len);
    assert_int_equal(len, 10);
    free(s);
    buf_done(&b);
}

static void test_buf_printf_and_unbounded(void **state)
{
    (void)state;
    struct kcr_buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%d,", i);
    assert_false(b.truncated);
    assert_int_equal(strncmp(b.data, "0,1,2,", 6), 0);
    buf_done(&b);
    buf_init(&b, 4);
    buf_printf(&b, "%s", "abcdefgh");
    assert_true(b.truncated);
    assert_int_equal(b.len, 4);
    buf_done(&b);
}

static void test_ids(void **state)
{
    (void)state;
    char a[KCR_ID_LEN + 1], b[KCR_ID_LEN + 1];
    id_new(a);
    id_new(b);
    assert_int_equal(strlen(a), 21);
    assert_true(id_is_valid(a));
    assert_string_not_equal(a, b);
    assert_false(id_is_valid("short"));
    assert_false(id_is_valid("aaaaaaaaaaaaaaaaaaaa/"));
    assert_false(id_is_valid("aaaaaaaaaaaaaaaaaaaaaa"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_cap),
        cmocka_unit_test(test_buf_printf_and_unbounded),
        cmocka_unit_test(test_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
