/* Unit tests for core/pystate.c: the wrapper is valid Python that runs the
 * embedded program unchanged (output, exit status, arguments, binary-safe
 * source) and reports its exceptions without its own frames. Runs the real
 * /usr/bin/python3 (skipped when absent); /mnt/data need not exist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/pystate.h"

#define PY "/usr/bin/python3"

/* Runs the wrapper for code; returns the exit status, output in out. */
static int run(const char *code, char *out, size_t size)
{
    char path[] = "/tmp/kcr-pystate-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *w = pystate_wrap(code, strlen(code));
    assert_int_equal(write(fd, w, strlen(w)), (ssize_t)strlen(w));
    close(fd);
    free(w);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), PY " %s arg1 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_runs_program(void **state)
{
    (void)state;
    if (access(PY, X_OK) < 0)
        skip();
    char out[4096];
    assert_int_equal(run("import sys\nprint(6 * 7, sys.argv[1:], __name__)", out, sizeof(out)), 0);
    assert_string_equal(out, "42 ['arg1'] __main__\n");
    /* Quotes, backslashes and non-ASCII survive the embedding. */
    assert_int_equal(run("print('it\\'s \\\\ \"ok\" \xc3\xa9')", out, sizeof(out)), 0);
    assert_string_equal(out, "it's \\ \"ok\" \xc3\xa9\n");
    assert_int_equal(run("import sys; sys.exit(3)", out, sizeof(out)), 3);
}

static void test_exceptions_hide_the_wrapper(void **state)
{
    (void)state;
    if (access(PY, X_OK) < 0)
        skip();
    char out[4096];
    assert_int_equal(run("x = 1\nraise KeyError('k')", out, sizeof(out)), 1);
    assert_non_null(strstr(out, "line 2, in <module>"));
    assert_non_null(strstr(out, "KeyError: 'k'"));
    assert_null(strstr(out, "__kcr"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_program),
        cmocka_unit_test(test_exceptions_hide_the_wrapper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
