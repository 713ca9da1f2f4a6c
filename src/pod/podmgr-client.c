/* podmgr-client — the unprivileged side's end of the pod manager (podmgr.h):
 * starts the manager (kcr-podmgr, main-podmgr.c) and exchanges typed
 * requests and responses with it. Calls from several threads are in flight
 * together (the manager creates pods concurrently); each answer carries its
 * request's tag, and whichever caller is receiving hands it to its owner. */
#include "pod/podmgr-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

/*** Calls ***/

/* A call in flight, on the caller's stack while it waits. */
struct waiter {
    uint32_t tag;
    bool done;
    struct podmgr_resp *resp;
    struct waiter *next;
};

struct podmgr_client {
    int fd;
    pid_t pid;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* an answer was delivered, or the reader left */
    uint32_t next_tag;
    bool reading; /* one caller at a time receives, for everyone */
    bool broken;  /* the manager is gone or spoke out of turn: every call fails */
    struct waiter *waiting;
};

static struct waiter **waiter_slot(struct podmgr_client *c, uint32_t tag)
{
    struct waiter **w = &c->waiting;
    while (*w && (*w)->tag != tag)
        w = &(*w)->next;
    return w;
}

/* Receives one answer and hands it to its caller (called by the reader,
 * without the mutex). False when the manager is gone or answered a call
 * nobody made. */
static bool receive_one(struct podmgr_client *c)
{
    struct podmgr_resp resp;
    ssize_t n;
    do
        n = recv(c->fd, &resp, sizeof(resp), 0);
    while (n < 0 && errno == EINTR);
    pthread_mutex_lock(&c->mu);
    struct waiter *w = n == (ssize_t)sizeof(resp) ? *waiter_slot(c, resp.tag) : NULL;
    if (w && !w->done) {
        *w->resp = resp;
        w->done = true;
    }
    pthread_mutex_unlock(&c->mu);
    return w != NULL;
}

int podmgr_call(struct podmgr_client *c, enum podmgr_op op, uint32_t flags, const char *arg,
                struct podmgr_resp *resp, struct kcr_err *err)
{
    struct podmgr_req req = {.op = op, .flags = flags};
    snprintf(req.arg, sizeof(req.arg), "%s", arg);
    pthread_mutex_lock(&c->mu);
    req.tag = ++c->next_tag;
    struct waiter me = {.tag = req.tag, .resp = resp, .next = c->waiting};
    c->waiting = &me;
    ssize_t n = -1;
    int send_errno = 0;
    if (!c->broken) {
        /* One datagram: concurrent sends never interleave. */
        do
            n = send(c->fd, &req, sizeof(req), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        send_errno = n < 0 ? errno : 0;
    }
    bool sent = n == (ssize_t)sizeof(req);
    while (sent && !me.done && !c->broken) {
        if (c->reading) {
            pthread_cond_wait(&c->cond, &c->mu);
            continue;
        }
        c->reading = true;
        pthread_mutex_unlock(&c->mu);
        bool ok = receive_one(c);
        pthread_mutex_lock(&c->mu);
        c->reading = false;
        if (!ok)
            c->broken = true;
        pthread_cond_broadcast(&c->cond);
    }
    *waiter_slot(c, me.tag) = me.next;
    pthread_mutex_unlock(&c->mu);
    if (!sent && send_errno)
        return kcr_err_set(err, send_errno, KCR_ERR_UNAVAILABLE, "pod manager: send");
    if (!me.done)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod manager: no reply (it exited?)");
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

struct podmgr_client *podmgr_client_new(int fd, pid_t pid)
{
    struct podmgr_client *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->pid = pid;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

bool podmgr_alive(struct podmgr_client *c)
{
    return waitpid(c->pid, NULL, WNOHANG) == 0;
}

struct podmgr_client *podmgr_stop(struct podmgr_client *c)
{
    if (!c)
        return NULL;
    /* Closing the socket makes the manager destroy every pod and exit. */
    (void)safe_close(c->fd);
    while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cond);
    free(c);
    return NULL;
}

/*** Start ***/

/* The manager binary, opened once and checked: kcr is root, and what it
 * execs as root must be writable by root only. Rootless, it runs as kcr's own
 * user and no check adds anything. */
static int open_manager(const struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    int fd = open(cfg->podmgr_bin, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "kcr-podmgr '%s' (KCR_PODMGR_BIN)",
                           cfg->podmgr_bin);
    if (geteuid() == 0 &&
        fs_check_root_owned(fd, "kcr-podmgr (KCR_PODMGR_BIN)", cfg->podmgr_bin, err) < 0) {
        (void)safe_close(fd);
        return -1;
    }
    return fd;
}

/* The child: the socketpair becomes fd 3, the binary fd 4 (closed by the
 * exec), every other fd but stdio is closed (nothing of kcr's, such as
 * listening sockets or stores, may reach the manager or, through it, a pod),
 * and the manager is exec'd with kcr's environment. An exec that fails is
 * reported as the hello. */
__attribute__((noreturn)) static void exec_manager(int exe_fd, int sock)
{
    /* Both out of the way first: either may be 3 or 4 now. */
    int exe = fcntl(exe_fd, F_DUPFD_CLOEXEC, PODMGR_FD + 2);
    int s = fcntl(sock, F_DUPFD_CLOEXEC, PODMGR_FD + 2);
    int out = sock;
    if (exe >= 0 && s >= 0 && dup2(s, PODMGR_FD) == PODMGR_FD) { /* dup2: not close-on-exec */
        out = PODMGR_FD;
        if (dup3(exe, PODMGR_FD + 1, O_CLOEXEC) == PODMGR_FD + 1) {
            (void)close_range(PODMGR_FD + 2, ~0U, 0);
            char *argv[] = {"kcr-podmgr", NULL};
            fexecve(PODMGR_FD + 1, argv, environ);
        }
    }
    struct podmgr_resp resp = {.status = -1, .kind = KCR_ERR_UNAVAILABLE, .errnum = errno};
    snprintf(resp.msg, sizeof(resp.msg), "exec kcr-podmgr: %s", strerror(errno));
    (void)send(out, &resp, sizeof(resp), MSG_NOSIGNAL);
    _exit(127);
}

struct podmgr_client *podmgr_start(const struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    _cleanup_close_ int exe = open_manager(cfg, err);
    if (exe < 0)
        return NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: socketpair");
        return NULL;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        (void)safe_close(sv[0]);
        (void)safe_close(sv[1]);
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: fork");
        return NULL;
    }
    if (pid == 0)
        exec_manager(exe, sv[1]);
    (void)safe_close(sv[1]);
    /* The hello is read even when the configuration could not be sent: a
     * manager that could not be exec'd has said why before it exited. */
    struct kcr_err send_err = {0};
    bool sent = podmgr_config_send(sv[0], cfg, &send_err) == 0;
    struct podmgr_resp hello;
    struct pollfd pfd = {.fd = sv[0], .events = POLLIN};
    ssize_t n = -1;
    if (poll(&pfd, 1, sent ? 30000 : 1000) == 1)
        n = recv(sv[0], &hello, sizeof(hello), 0);
    bool got = n == (ssize_t)sizeof(hello);
    if (!got || hello.status < 0 || !sent) {
        hello.msg[sizeof(hello.msg) - 1] = '\0';
        if (got && hello.status < 0)
            kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod manager start-up: %s", hello.msg);
        else if (!sent && err)
            *err = send_err;
        else
            kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod manager start-up: no answer");
        (void)safe_close(sv[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return NULL;
    }
    return podmgr_client_new(sv[0], pid);
}
