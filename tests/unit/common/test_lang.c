/* The language table: lookup, code file names (Java class detection), step expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/lang.h"

static void test_find_is_case_insensitive(void **state)
{
    (void)state;
    assert_non_null(lang_find("py"));
    assert_ptr_equal(lang_find("PY"), lang_find("py"));
    assert_ptr_equal(lang_find("Java"), lang_find("java"));
    assert_null(lang_find("cobol"));
    assert_null(lang_find(""));
    assert_null(lang_find("py "));
}

static void test_code_files(void **state)
{
    (void)state;
    const char *expect[][2] = {
        {"py", "code.py"}, {"js", "code.js"},   {"ts", "code.ts"},   {"go", "main.go"},
        {"c", "code.c"},   {"cpp", "code.cpp"}, {"php", "code.php"}, {"rs", "main.rs"},
        {"r", "code.r"},   {"f90", "code.f90"}, {"d", "code.d"},     {"bash", "code.sh"},
    };
    char cls[64];
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const struct kcr_lang *l = lang_find(expect[i][0]);
        assert_non_null(l);
        char *f = lang_code_file(l, "x", cls, sizeof(cls));
        assert_string_equal(f, expect[i][1]);
        assert_string_equal(cls, "");
        free(f);
    }
}

static void test_java_class_detection(void **state)
{
    (void)state;
    const struct kcr_lang *j = lang_find("java");
    char cls[64];
    char *f = lang_code_file(j, "import x.*;\npublic class Hello {\n}\n", cls, sizeof(cls));
    assert_string_equal(f, "Hello.java");
    assert_string_equal(cls, "Hello");
    free(f);
    f = lang_code_file(j, "class Foo { }", cls, sizeof(cls));
    assert_string_equal(f, "Code.java");
    free(f);
    f = lang_code_file(j, "// public class Fake\npublic final class Real {}", cls, sizeof(cls));
    assert_true(!strcmp(cls, "Real") || !strcmp(cls, "Fake"));
    free(f);
}

static void test_expand_steps(void **state)
{
    (void)state;
    const struct kcr_lang *py = lang_find("py");
    const char *args[] = {"a b", "--x"};
    assert_int_equal(lang_nsteps(py), 1);
    char **argv = lang_expand(py, 0, "/mnt/data/code.py", "", args, 2);
    assert_string_equal(argv[0], "python");
    assert_string_equal(argv[1], "/mnt/data/code.py");
    assert_string_equal(argv[2], "a b");
    assert_string_equal(argv[3], "--x");
    assert_null(argv[4]);
    lang_argv_free(argv);

    /* Compiled languages: args only reach the last (run) step. */
    const struct kcr_lang *c = lang_find("c");
    assert_int_equal(lang_nsteps(c), 2);
    argv = lang_expand(c, 0, "/mnt/data/code.c", "", args, 2);
    for (char **p = argv; *p; p++)
        assert_string_not_equal(*p, "a b");
    lang_argv_free(argv);
    argv = lang_expand(c, 1, "/mnt/data/code.c", "", args, 2);
    assert_string_equal(argv[1], "a b");
    lang_argv_free(argv);

    const struct kcr_lang *j = lang_find("java");
    argv = lang_expand(j, lang_nsteps(j) - 1, "/mnt/data/Hello.java", "Hello", NULL, 0);
    int found = 0;
    for (char **p = argv; *p; p++)
        found |= !strcmp(*p, "Hello");
    assert_true(found);
    lang_argv_free(argv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_is_case_insensitive),
        cmocka_unit_test(test_code_files),
        cmocka_unit_test(test_java_class_detection),
        cmocka_unit_test(test_expand_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
