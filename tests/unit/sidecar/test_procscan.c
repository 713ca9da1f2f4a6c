/* Finding the main process in /proc, with real processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sidecar/nsexec-init.h"
#include "sidecar/procscan.h"

static char name[32];

/* Starts `sleep` under argv[0] = name. detached: double fork, so that it is
 * not our descendant (like the main container). Returns the child pid. */
static pid_t start_named(int detached)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t c = fork();
    if (c == 0) {
        if (detached && fork() > 0)
            _exit(0);
        pid_t self = getpid();
        (void)!write(p[1], &self, sizeof(self));
        execl("/bin/sleep", name, "30", (char *)NULL);
        _exit(127);
    }
    pid_t got = -1;
    (void)!read(p[0], &got, sizeof(got));
    close(p[0]);
    close(p[1]);
    if (detached)
        waitpid(c, NULL, 0);
    /* wait until the exec is visible */
    for (int i = 0; i < 200 && !procscan_cmdline_matches(got, name); i++)
        usleep(5000);
    return got;
}

static void test_stat_of_self(void **state)
{
    (void)state;
    pid_t ppid = 0;
    uint64_t start = 0;
    assert_int_equal(procscan_stat(getpid(), &ppid, &start), 0);
    assert_int_equal(ppid, getppid());
    assert_true(start > 0);
    assert_true(procscan_stat(4194303, NULL, NULL) < 0);
}

static void test_find_detached_skip_descendants(void **state)
{
    (void)state;
    snprintf(name, sizeof(name), "kcrscan-%d", getpid());
    struct procscan_target t;
    struct kcr_err err = {0};
    assert_int_equal(procscan_find(name, getpid(), &t, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);

    pid_t child = start_named(0);
    assert_true(child > 0);
    /* our own child is user code, not the main container */
    assert_int_equal(procscan_find(name, getpid(), &t, &err), -1);

    pid_t detached = start_named(1);
    assert_true(detached > 0);
    assert_int_equal(procscan_find(name, getpid(), &t, &err), 0);
    assert_int_equal(t.pid, detached);
    assert_true(procscan_still_valid(&t, name));
    struct procscan_target stale = t;
    stale.start_time++;
    assert_false(procscan_still_valid(&stale, name));
    assert_false(procscan_still_valid(&t, "other-name"));

    kill(detached, SIGKILL);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    for (int i = 0; i < 200 && procscan_still_valid(&t, name); i++)
        usleep(5000);
    assert_false(procscan_still_valid(&t, name));
}

static void test_resolve_program(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(nsexec_init_resolve("sh", "/nonexistent:/bin", out, sizeof(out)), 0);
    assert_string_equal(out, "/bin/sh");
    assert_int_equal(nsexec_init_resolve("/x/y", "/bin", out, sizeof(out)), 0);
    assert_string_equal(out, "/x/y");
    assert_int_equal(nsexec_init_resolve("no-such-prog-kcr", "/bin:/usr/bin", out, sizeof(out)),
                     -ENOENT);
    /* /etc/passwd exists but is not executable */
    assert_int_equal(nsexec_init_resolve("passwd", "/etc", out, sizeof(out)), -EACCES);
    assert_int_equal(nsexec_init_resolve("", "/bin", out, sizeof(out)), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat_of_self),
        cmocka_unit_test(test_find_detached_skip_descendants),
        cmocka_unit_test(test_resolve_program),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
