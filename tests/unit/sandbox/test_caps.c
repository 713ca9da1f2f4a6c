/* caps_drop_all in a forked child: ids, all five capability sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/caps.h"

/* Runs fn in a child and returns its exit status (the child's verdict). */
static int in_child(int (*fn)(void))
{
    pid_t p = fork();
    if (p == 0)
        _exit(fn());
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int drop_everything(void)
{
    const char *step = NULL;
    if (caps_drop_all(65532, 65532, &step) < 0)
        return 10;
    if (getuid() != 65532 || geteuid() != 65532 || getgid() != 65532 || getegid() != 65532)
        return 11;
    if (getgroups(0, NULL) != 0)
        return 12;
    if (caps_have_any())
        return 13;
    for (unsigned long c = 0; c < 64; c++) {
        int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0)
            break;
        if (r == 1)
            return 14;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0) > 0)
        return 15;
    /* and it cannot come back */
    if (setuid(0) == 0)
        return 16;
    return 0;
}

static void test_drop_all(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(in_child(drop_everything), 0);
}

static int unprivileged_cannot_drop_bounding(void)
{
    const char *step = NULL;
    if (caps_drop_all(65532, 65532, &step) < 0)
        return 10;
    /* now without CAP_SETPCAP: dropping again still works (nothing left) */
    return caps_drop_bounding() == 0 ? 0 : 20;
}

static void test_drop_is_idempotent(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(in_child(unprivileged_cannot_drop_bounding), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_drop_is_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
