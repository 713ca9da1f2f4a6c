/* podmgr-client — the unprivileged side's end of the pod manager (podmgr.h):
 * forks the manager (podmgr-privileged.c) and exchanges one typed request and
 * response with it at a time. */
#include "pod/podmgr-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"

/*** Client side ***/

int podmgr_call(int fd, const struct podmgr_req *req, struct podmgr_resp *resp, struct kcr_err *err)
{
    ssize_t n;
    do
        n = send(fd, req, sizeof(*req), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*req))
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: send");
    do
        n = recv(fd, resp, sizeof(*resp), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(*resp))
        return kcr_err_set(err, n < 0 ? errno : 0, KCR_ERR_UNAVAILABLE,
                           "pod manager: no reply (it exited?)");
    resp->msg[sizeof(resp->msg) - 1] = '\0';
    resp->id[sizeof(resp->id) - 1] = '\0';
    resp->socket[sizeof(resp->socket) - 1] = '\0';
    resp->working_dir[sizeof(resp->working_dir) - 1] = '\0';
    if (resp->status < 0) {
        enum kcr_err_kind kind = resp->kind > 0 && resp->kind <= KCR_ERR_INTERNAL
                                     ? (enum kcr_err_kind)resp->kind
                                     : KCR_ERR_INTERNAL;
        return kcr_err_set(err, 0, kind, "%s", resp->msg);
    }
    return 0;
}

pid_t podmgr_start(const struct kcr_pod_local_config *cfg, int *ret_fd, struct kcr_err *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: socketpair");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        (void)safe_close(sv[0]);
        (void)safe_close(sv[1]);
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: fork");
    }
    if (pid == 0) {
        (void)safe_close(sv[0]);
        /* Nothing of kcr's (listening sockets, stores) may reach the manager
         * or, through it, a pod: keep stdio and the socketpair only. */
        int fd = sv[1];
        if (fd != 3) {
            fd = dup3(sv[1], 3, O_CLOEXEC);
            if (fd < 0)
                _exit(1);
        }
        (void)close_range(4, ~0U, 0);
        podmgr_manager_main(cfg, fd);
    }
    (void)safe_close(sv[1]);
    struct podmgr_resp hello;
    struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
    ssize_t n = -1;
    if (poll(&pfd, 1, 30000) == 1)
        n = recv(sv[0], &hello, sizeof(hello), 0);
    if (n != (ssize_t)sizeof(hello) || hello.status < 0) {
        hello.msg[sizeof(hello.msg) - 1] = '\0';
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod manager start-up: %s",
                    n == (ssize_t)sizeof(hello) ? hello.msg : "no answer");
        (void)safe_close(sv[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return -1;
    }
    *ret_fd = sv[0];
    return pid;
}
