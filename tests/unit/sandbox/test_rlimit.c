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
#include <unistd.h>

#include "fakes/child.h"
#include "sandbox/cgroup-self.h"
#include "sandbox/rlimit.h"

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
    assert_int_equal(child_run(apply_limits, 0), 0);
}

static void test_cgroup_self_oom_counter(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    int fd = cgroup_self_oom_open(&err);
    if (fd < 0) {
        /* no memory cgroup visible here: say why */
        print_message("skipped: %s\n", err.msg);
        skip();
    }
    /* The same fd reads the counter again and again (cgroupfs regenerates it). */
    uint64_t first = 0, second = 0;
    assert_int_equal(cgroup_self_oom_read(fd, &first, &err), 0);
    assert_int_equal(cgroup_self_oom_read(fd, &second, &err), 0);
    assert_true(second >= first);
    close(fd);
    char *dir = cgroup_self_memory_dir(&err);
    assert_non_null(dir);
    assert_true(access(dir, R_OK) == 0);
    free(dir);
}

/* A regular file with content, opened for reading (unlinked at once). */
static int file_with(const char *content)
{
    char path[] = "/tmp/kcr-oom-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    return fd;
}

static void test_oom_counter_formats(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    uint64_t n = 0;
    /* cgroup v1 memory.oom_control: oom_kill_disable comes first */
    int fd = file_with("oom_kill_disable 1\nunder_oom 0\noom_kill 7\n");
    assert_int_equal(cgroup_self_oom_read(fd, &n, &err), 0);
    assert_int_equal(n, 7);
    close(fd);
    /* cgroup v2 memory.events */
    fd = file_with("low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
    assert_int_equal(cgroup_self_oom_read(fd, &n, &err), 0);
    assert_int_equal(n, 2);
    close(fd);
    /* only the look-alike key: not a counter */
    fd = file_with("oom_kill_disable 0\nunder_oom 0\n");
    assert_int_equal(cgroup_self_oom_read(fd, &n, &err), -1);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_cgroup_self_oom_counter),
        cmocka_unit_test(test_oom_counter_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
