/* rlimit_apply lowers limits (never raises) and always disables core dumps;
 * plus the OOM counter of our own cgroup (cgroup-self). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/cgroup-self.h"
#include "sandbox/rlimit.h"

static int in_child(int (*fn)(void))
{
    pid_t p = fork();
    if (p == 0)
        _exit(fn());
    int st = 0;
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int apply_limits(void)
{
    struct kcr_rlimits lim = {.cpu_s = 5, .fsize = 1 << 20, .nofile = 64, .nproc = 0};
    struct rlimit before_nproc, r;
    getrlimit(RLIMIT_NPROC, &before_nproc);
    if (rlimit_apply(&lim) < 0)
        return 1;
    getrlimit(RLIMIT_CPU, &r);
    if (r.rlim_cur != 5 || r.rlim_max != 5)
        return 2;
    getrlimit(RLIMIT_FSIZE, &r);
    if (r.rlim_cur != 1 << 20)
        return 3;
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur != 64 || r.rlim_max != 64)
        return 4;
    getrlimit(RLIMIT_CORE, &r);
    if (r.rlim_cur != 0 || r.rlim_max != 0)
        return 5;
    getrlimit(RLIMIT_NPROC, &r);
    if (r.rlim_cur != before_nproc.rlim_cur) /* 0 = keep */
        return 6;
    /* asking for more than the hard limit keeps the hard limit */
    if (rlimit_lower(RLIMIT_NOFILE, 100000) < 0)
        return 7;
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur != 64)
        return 8;
    return 0;
}

static void test_apply(void **state)
{
    (void)state;
    assert_int_equal(in_child(apply_limits), 0);
}

static void test_cgroup_self_oom_counter(void **state)
{
    (void)state;
    uint64_t n = 0;
    struct kcr_err err = {0};
    if (cgroup_self_oom_kills(&n, &err) < 0) {
        /* no memory cgroup visible here: say why */
        print_message("skipped: %s\n", err.msg);
        skip();
    }
    char *dir = cgroup_self_memory_dir(&err);
    assert_non_null(dir);
    assert_true(access(dir, R_OK) == 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_cgroup_self_oom_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
