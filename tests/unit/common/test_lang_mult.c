/* Per-language time/memory multipliers and their LANG_*_MULT_<CODE> overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/lang.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("LANG_TIME_MULT_RS");
    unsetenv("LANG_MEM_MULT_JAVA");
    unsetenv("LANG_TIME_MULT_PY");
    return 0;
}

static void test_table_defaults(void **state)
{
    (void)state;
    size_t n = 0;
    const struct kcr_lang *all = lang_all(&n);
    assert_int_equal(n, 13);
    for (size_t i = 0; i < n; i++) {
        assert_true(all[i].time_mult >= 1.0);
        assert_true(all[i].mem_mult >= 1.0);
        assert_true(lang_time_mult(&all[i]) == all[i].time_mult);
        assert_true(lang_mem_mult(&all[i]) == all[i].mem_mult);
    }
    /* Compilers get more than interpreters. */
    assert_true(lang_time_mult(lang_find("rs")) > lang_time_mult(lang_find("py")));
    assert_true(lang_mem_mult(lang_find("java")) > lang_mem_mult(lang_find("py")));
    struct kcr_err err = {0};
    assert_int_equal(lang_config_check(&err), 0);
}

static void test_override(void **state)
{
    (void)state;
    setenv("LANG_TIME_MULT_RS", "4.5", 1);
    setenv("LANG_MEM_MULT_JAVA", "2", 1);
    assert_true(lang_time_mult(lang_find("rs")) == 4.5);
    assert_true(lang_mem_mult(lang_find("JAVA")) == 2.0);
    /* Only that language, only that resource. */
    assert_true(lang_mem_mult(lang_find("rs")) == lang_find("rs")->mem_mult);
    assert_true(lang_time_mult(lang_find("c")) == lang_find("c")->time_mult);
    struct kcr_err err = {0};
    assert_int_equal(lang_config_check(&err), 0);
    setenv("LANG_TIME_MULT_RS", "", 1); /* empty = unset */
    assert_true(lang_time_mult(lang_find("rs")) == lang_find("rs")->time_mult);
}

static void test_bad_value(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    setenv("LANG_TIME_MULT_PY", "fast", 1);
    assert_int_equal(lang_config_check(&err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "LANG_TIME_MULT_PY"));
    /* Ignored (table value) where no error can be reported. */
    assert_true(lang_time_mult(lang_find("py")) == lang_find("py")->time_mult);

    setenv("LANG_TIME_MULT_PY", "0", 1);
    assert_int_equal(lang_config_check(&err), -1);
    assert_non_null(strstr(err.msg, "outside"));
    setenv("LANG_TIME_MULT_PY", "1e9", 1);
    assert_int_equal(lang_config_check(&err), -1);
    setenv("LANG_TIME_MULT_PY", "nan", 1);
    assert_int_equal(lang_config_check(&err), -1);
    setenv("LANG_TIME_MULT_PY", "1.5x", 1);
    assert_int_equal(lang_config_check(&err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_table_defaults, clear_env),
        cmocka_unit_test_setup(test_override, clear_env),
        cmocka_unit_test_setup(test_bad_value, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
