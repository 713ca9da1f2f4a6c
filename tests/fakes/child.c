/* child — forked children for unit tests (see child.h). */
#include "fakes/child.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int child_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int child_wait(pid_t pid, int timeout_s)
{
    int status = 0;
    if (timeout_s <= 0)
        return waitpid(pid, &status, 0) == pid ? child_status(status) : -1;
    for (int i = 0; i < timeout_s * 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return child_status(status);
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int child_run(int (*fn)(void), int timeout_s)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        _exit(fn());
    return child_wait(pid, timeout_s);
}

void child_run_as_root(int (*fn)(void), int timeout_s)
{
    if (geteuid() != 0)
        skip();
    assert_int_equal(child_run(fn, timeout_s), 0);
}
