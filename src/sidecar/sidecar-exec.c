#include "sidecar/sidecar-exec.h"
#include "sidecar/nsexec-report.h"
#include "sidecar/sidecar-runner.h"
#include "sandbox/cgroup-self.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define READ_CHUNK    65536
#define KILL_GRACE_MS 3000
#define NSEXEC_ARGV   48
#define OOM_POLL_MS   50
#define PASS_FD       4 /* the fd a program with a channel finds it on */

/* How one kcr-nsexec run ended. */
struct step_outcome {
    bool timed_out;
    bool oom;    /* the OOM killer acted during the step, which was then stopped */
    bool killed; /* stopped on request (a cancel, a channel's KILL verdict) */
    bool have_report;
    struct nsexec_report report;
    int wait_status;
};

char *sidecar_exec_write_code(int dirfd, const struct sidecar_request *req, char *ret_class,
                              size_t class_size, struct kcr_err *err)
{
    _cleanup_free_ char *name = lang_code_file(req->lang, req->code, ret_class, class_size);
    /* User code may have left anything under that name (a symlink to
     * /etc/shadow, a FIFO): remove it and create a fresh file exclusively. */
    if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "remove old '%s'", name), NULL;
    _cleanup_close_ int fd =
        fs_open_beneath(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd < 0)
        return kcr_err_set(err, -fd, KCR_ERR_INTERNAL, "create '%s'", name), NULL;
    int r = fs_write_all(fd, req->code, req->code_len);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "write '%s'", name), NULL;
    return TAKE_PTR(name);
}

/*** One kcr-nsexec process ***/

struct step_io {
    int in_w, out_r, err_r, rep_r;
    const char *stdin_data;
    size_t stdin_len, stdin_off;
    size_t rep_len;
    int oom_fd; /* -1: not watched */
    uint64_t oom_base;
    /* The pump's own state, kept between the calls of a paused run. */
    int64_t grace_end, next_oom;
    bool stopping;
};

static void close_pair(int p[2])
{
    p[0] = safe_close(p[0]);
    p[1] = safe_close(p[1]);
}

/* The nsexec command line: options, then "--" and the step's argv. */
static char **nsexec_argv(const struct sidecar_exec_params *p, const char *wd, long cpu_s,
                          bool forked, bool pass, char **argv, char store[][32])
{
    size_t n = 0, nargs = 0, nenv = 0;
    while (argv[nargs])
        nargs++;
    while (p->setenv && p->setenv[nenv])
        nenv++;
    char **v = xcalloc(NSEXEC_ARGV + 2 * nenv + nargs + 1, sizeof(char *));
    snprintf(store[0], 32, "%d", (int)p->target);
    snprintf(store[1], 32, "%" PRIu64, p->target_start);
    snprintf(store[2], 32, "%ld", p->uid);
    snprintf(store[3], 32, "%ld", cpu_s);
    snprintf(store[4], 32, "%" PRIu64, p->max_file_write);
    snprintf(store[5], 32, "%ld", p->max_pids);
    v[n++] = (char *)p->nsexec_path;
    v[n++] = "--target", v[n++] = store[0];
    v[n++] = "--target-start", v[n++] = store[1];
    v[n++] = "--wd", v[n++] = (char *)wd;
    v[n++] = "--uid", v[n++] = store[2];
    v[n++] = "--gid", v[n++] = store[2];
    v[n++] = "--cpu", v[n++] = store[3];
    v[n++] = "--nofile", v[n++] = "4096";
    if (p->max_file_write)
        v[n++] = "--fsize", v[n++] = store[4];
    if (p->max_pids)
        v[n++] = "--nproc", v[n++] = store[5];
    v[n++] = "--report-fd", v[n++] = "3";
    for (size_t i = 0; i < nenv; i++)
        v[n++] = "--setenv", v[n++] = (char *)p->setenv[i];
    if (forked)
        v[n++] = "--fork-server", v[n++] = (char *)p->forkserver;
    if (pass)
        v[n++] = "--pass-fd", v[n++] = "4";
    v[n++] = "--";
    for (size_t i = 0; i < nargs; i++)
        v[n++] = argv[i];
    v[n] = NULL;
    return v;
}

/* posix_spawn (vfork-like, safe in our multi-threaded server) with exactly
 * fds 0..nfds-1 (0-3, or 0-4 with a channel) and an empty environment:
 * kcr-nsexec reads the user environment from the main container and nothing
 * of ours may reach user code. Signal dispositions are reset: SIG_IGN (our
 * SIGPIPE) would survive execve. */
static int spawn_nsexec(char **argv, const int *fds, int nfds, pid_t *ret_pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    char *envp[] = {NULL};
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    for (int i = 0; i < nfds; i++)
        posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    int r = posix_spawn(ret_pid, argv[0], &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return -r;
}

/* Reads what is there; the buffer keeps up to its cap and drops the rest, so
 * the program never blocks on a full pipe and our memory stays bounded.
 * Returns false at EOF or on error. */
static bool drain(int fd, struct kcr_buf *b)
{
    char chunk[READ_CHUNK];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n > 0) {
            buf_append(b, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static bool feed_stdin(struct step_io *io)
{
    while (io->stdin_off < io->stdin_len) {
        ssize_t n = write(io->in_w, io->stdin_data + io->stdin_off, io->stdin_len - io->stdin_off);
        if (n > 0) {
            io->stdin_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN; /* EPIPE: the program stopped reading */
    }
    return false; /* all written: close to signal EOF */
}

static bool read_report(int fd, struct step_io *io, struct step_outcome *o)
{
    for (;;) {
        char *dst = (char *)&o->report + io->rep_len;
        size_t room = sizeof(o->report) - io->rep_len;
        char sink[64];
        ssize_t n = room ? read(fd, dst, room) : read(fd, sink, sizeof(sink));
        if (n > 0) {
            if (room)
                io->rep_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        o->have_report = io->rep_len == sizeof(o->report) && nsexec_report_valid(&o->report);
        return n < 0 && errno == EAGAIN;
    }
}

/* True when the OOM killer has killed a process of our cgroup since base. */
static bool oom_since(int fd, uint64_t base)
{
    uint64_t n;
    struct kcr_err ignored;
    return fd >= 0 && cgroup_self_oom_read(fd, &n, &ignored) == 0 && n > base;
}

/* SIGKILL kcr-nsexec once and keep draining for a grace period while the
 * namespace dies. */
static void stop_step(pid_t pid, struct step_io *io, int64_t now)
{
    io->stopping = true;
    (void)kill(pid, SIGKILL);
    io->grace_end = now + KILL_GRACE_MS;
    io->in_w = safe_close(io->in_w);
}

/* The poll loop: until stdout, stderr and the report pipe reach EOF (every
 * process holding them is gone). At the deadline, once the OOM killer has
 * killed any process of the run, or when *kill_req is set (another thread
 * killed the step: a cancel), stop the step. The OOM killer picks one
 * process, not necessarily the one we wait for: a parent whose child it
 * killed would otherwise sleep on to the deadline. Like Kubernetes'
 * memory.oom.group, one OOM kill ends the run (cgroup v1 offers no counter to
 * poll: sample it).
 *
 * chan (may be NULL) is one more fd served in the same loop, the channel of
 * programmatic tool calling: its verdict can pause the loop (return false;
 * the step runs on, and a later call resumes with io and o as they were) or
 * kill the step. Returns true when the step is over. */
static bool pump(pid_t pid, struct step_io *io, int64_t deadline, struct sidecar_chan *chan,
                 atomic_bool *kill_req, struct sidecar_result *res, struct step_outcome *o)
{
    while (io->out_r >= 0 || io->err_r >= 0 || io->rep_r >= 0) {
        int64_t now = time_mono_ms();
        if (!io->stopping && now >= io->next_oom) {
            o->oom = oom_since(io->oom_fd, io->oom_base);
            io->next_oom = now + OOM_POLL_MS;
        }
        if (!io->stopping && kill_req && atomic_load(kill_req))
            o->killed = true;
        if (!io->stopping && (o->oom || o->killed || now >= deadline)) {
            o->timed_out = !o->oom && !o->killed;
            stop_step(pid, io, now);
        }
        if (io->stopping && now >= io->grace_end)
            break;
        bool serve = chan && !io->stopping && chan->fd >= 0 && chan->events;
        struct pollfd pf[5] = {
            {.fd = io->out_r, .events = POLLIN},
            {.fd = io->err_r, .events = POLLIN},
            {.fd = io->rep_r, .events = POLLIN},
            {.fd = io->in_w, .events = POLLOUT},
            {.fd = serve ? chan->fd : -1, .events = serve ? chan->events : 0},
        };
        int64_t until = io->stopping ? io->grace_end : deadline;
        if (!io->stopping && io->oom_fd >= 0 && io->next_oom < until)
            until = io->next_oom;
        int r = poll(pf, 5, (int)(until > now ? until - now : 0));
        if (r < 0 && errno != EINTR)
            break;
        if (r <= 0)
            continue;
        if (pf[0].revents && !drain(io->out_r, &res->out))
            io->out_r = safe_close(io->out_r);
        if (pf[1].revents && !drain(io->err_r, &res->err))
            io->err_r = safe_close(io->err_r);
        if (pf[2].revents && !read_report(io->rep_r, io, o))
            io->rep_r = safe_close(io->rep_r);
        if (pf[3].revents && !feed_stdin(io))
            io->in_w = safe_close(io->in_w);
        if (pf[4].revents) {
            enum sidecar_chan_verdict v = chan->ready(chan, pf[4].revents);
            if (v == SIDECAR_CHAN_PAUSE)
                return false;
            if (v == SIDECAR_CHAN_KILL)
                o->killed = true;
        }
    }
    /* A kill from another thread (a cancel) can end the step before the loop
     * looks at the request again: kcr-nsexec dies, every pipe reaches EOF and
     * no report comes. That is the cancel, not a broken sandbox. */
    if (kill_req && atomic_load(kill_req) && !o->have_report)
        o->killed = true;
    return true;
}

/* A spawned kcr-nsexec and our ends of its pipes (non-blocking). */
struct step_proc {
    pid_t pid;
    int in_w, out_r, err_r, rep_r;
};

static void step_proc_close(struct step_proc *sp)
{
    sp->in_w = safe_close(sp->in_w), sp->out_r = safe_close(sp->out_r);
    sp->err_r = safe_close(sp->err_r), sp->rep_r = safe_close(sp->rep_r);
}

/* pass_fd >= 0: given to the program as fd 4 (kcr-nsexec --pass-fd 4). */
static int spawn_step(const struct sidecar_exec_params *p, char **argv, const char *wd, long cpu_s,
                      bool forked, int pass_fd, struct step_proc *ret, struct kcr_err *err)
{
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1}, prep[2] = {-1, -1};
    if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0 ||
        pipe2(prep, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(pin), close_pair(pout), close_pair(perr), close_pair(prep);
        return kcr_err_set(err, e, KCR_ERR_INTERNAL, "pipe");
    }
    char store[6][32];
    _cleanup_free_ char **nargv = nsexec_argv(p, wd, cpu_s, forked, pass_fd >= 0, argv, store);
    int child_fds[5] = {pin[0], pout[1], perr[1], prep[1], pass_fd};
    pid_t pid = -1;
    int r = spawn_nsexec(nargv, child_fds, pass_fd >= 0 ? PASS_FD + 1 : PASS_FD, &pid);
    pin[0] = safe_close(pin[0]), pout[1] = safe_close(pout[1]);
    perr[1] = safe_close(perr[1]), prep[1] = safe_close(prep[1]);
    *ret = (struct step_proc){pid, pin[1], pout[0], perr[0], prep[0]};
    if (r < 0) {
        step_proc_close(ret);
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "spawn '%s'", p->nsexec_path);
    }
    int ours[4] = {ret->in_w, ret->out_r, ret->err_r, ret->rep_r};
    for (int i = 0; i < 4; i++)
        (void)fcntl(ours[i], F_SETFL, O_NONBLOCK);
    return 0;
}

/* Moves sp's pipes into io (sp keeps the pid), with what to feed to stdin. */
static void step_io_take(struct step_io *io, struct step_proc *sp, const char *in, size_t in_len,
                         int oom_fd, uint64_t oom_base)
{
    *io = (struct step_io){
        .in_w = sp->in_w,
        .out_r = sp->out_r,
        .err_r = sp->err_r,
        .rep_r = sp->rep_r,
        .stdin_data = in,
        .stdin_len = in ? in_len : 0,
        .oom_fd = oom_fd,
        .oom_base = oom_base,
    };
    *sp = (struct step_proc){sp->pid, -1, -1, -1, -1};
    if (!in || in_len == 0)
        io->in_w = safe_close(io->in_w);
}

static void *reap_thread(void *arg)
{
    pid_t pid = (pid_t)(intptr_t)arg;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* With the report in, kcr-nsexec only waits for its namespace to go: the
 * teardown of the program's address space, milliseconds for a preloaded
 * interpreter, which is not the run's time. A thread reaps it. */
static bool reap_later(pid_t pid, int *ret_status)
{
    pid_t r = waitpid(pid, ret_status, WNOHANG);
    if (r != 0)
        return r == pid;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &attr, reap_thread, (void *)(intptr_t)pid) == 0;
    pthread_attr_destroy(&attr);
    return ok;
}

/* Once the pump is over: closes what is left of io and reaps kcr-nsexec
 * (killed first if the step was stopped: the grace may have run out). */
static void step_reap(struct step_proc *sp, struct step_io *io, struct step_outcome *o)
{
    io->in_w = safe_close(io->in_w), io->out_r = safe_close(io->out_r);
    io->err_r = safe_close(io->err_r), io->rep_r = safe_close(io->rep_r);
    if (o->timed_out || o->oom || o->killed)
        (void)kill(sp->pid, SIGKILL);
    else if (o->have_report && reap_later(sp->pid, &o->wait_status)) {
        sp->pid = 0;
        return;
    }
    while (waitpid(sp->pid, &o->wait_status, 0) < 0 && errno == EINTR)
        ;
    sp->pid = 0; /* reaped: the number may be reused */
}

/* Feeds in, collects output until the step ends (or is stopped), reaps it.
 * Takes the pipes of sp. */
static void finish_step(struct step_proc *sp, const char *in, size_t in_len, int64_t deadline,
                        int oom_fd, uint64_t oom_base, struct sidecar_result *res,
                        struct step_outcome *o)
{
    struct step_io io;
    step_io_take(&io, sp, in, in_len, oom_fd, oom_base);
    pump(sp->pid, &io, deadline, NULL, NULL, res, o);
    step_reap(sp, &io, o);
}

static int run_nsexec(const struct sidecar_exec_params *p, char **argv, const char *wd,
                      const char *in, size_t in_len, int64_t deadline, uint64_t oom_base,
                      struct sidecar_result *res, struct step_outcome *o, struct kcr_err *err)
{
    struct step_proc sp;
    long cpu_s = (long)((deadline - time_mono_ms()) / 1000) + 2;
    if (spawn_step(p, argv, wd, cpu_s, false, -1, &sp, err) < 0)
        return -1;
    finish_step(&sp, in, in_len, deadline, p->oom_fd, oom_base, res, o);
    return 0;
}

/*** Steps and the result ***/

/* Maps a setup failure inside kcr-nsexec to a result (program not found) or an error. */
static int failed_step(const struct nsexec_report *rep, const char *prog,
                       struct sidecar_result *res, bool *ret_done, struct kcr_err *err)
{
    const char *step = nsexec_report_step_name(rep->step);
    *ret_done = true;
    switch ((enum nsexec_step)rep->step) {
    case NSEXEC_STEP_RESOLVE:
    case NSEXEC_STEP_EXEC:
        /* The shell convention: 127 not found, 126 found but not runnable. */
        res->exit_code = rep->errnum == ENOENT ? 127 : 126;
        buf_printf(&res->err, "%s: %s\n", prog, strerror(rep->errnum));
        return 0;
    case NSEXEC_STEP_CHDIR:
        return kcr_err_set(err, rep->errnum, KCR_ERR_INVALID, "working_dir");
    case NSEXEC_STEP_ENVIRON:
    case NSEXEC_STEP_OPEN_NS:
    case NSEXEC_STEP_OPEN_ROOT:
    case NSEXEC_STEP_VERIFY_TARGET:
        /* EACCES/EPERM here is a deployment error (missing capabilities), not a gone pod. */
        if (rep->errnum == ESRCH || rep->errnum == ENOENT)
            return kcr_err_set(err, rep->errnum, KCR_ERR_UNAVAILABLE, "main container is gone (%s)",
                               step);
        break;
    case NSEXEC_STEP_NONE:
    case NSEXEC_STEP_SETNS:
    case NSEXEC_STEP_UNSHARE:
    case NSEXEC_STEP_MAKE_PRIVATE:
    case NSEXEC_STEP_CHROOT:
    case NSEXEC_STEP_FORK:
    case NSEXEC_STEP_PDEATHSIG:
    case NSEXEC_STEP_MOUNT_PROC:
    case NSEXEC_STEP_CLOSE_FDS:
    case NSEXEC_STEP_DROP_PRIVS:
    case NSEXEC_STEP_NO_NEW_PRIVS:
    case NSEXEC_STEP_OOM_ADJ:
    case NSEXEC_STEP_RLIMIT:
    case NSEXEC_STEP_SECCOMP:
    case NSEXEC_STEP_ARGS:
    case NSEXEC_STEP_CGROUP:
    case NSEXEC_STEP_MASK_PROC:
    case NSEXEC_STEP__MAX:
        break;
    }
    return kcr_err_set(err, rep->errnum, KCR_ERR_INTERNAL, "kcr-nsexec: %s", step);
}

/* Fills res from how one step ended; *ret_done is true when no further step runs. */
static int apply_outcome(const struct step_outcome *o, const char *prog, long timeout_s,
                         struct sidecar_result *res, bool *ret_done, struct kcr_err *err)
{
    *ret_done = true;
    if (o->timed_out) {
        res->timed_out = true;
        res->exit_code = 124;
        if (res->err.len && res->err.data[res->err.len - 1] != '\n')
            buf_append(&res->err, "\n", 1);
        buf_printf(&res->err, "Execution timed out after %ld seconds", timeout_s);
        return 0;
    }
    if (o->oom) {
        res->oom_killed = true;
        res->signal = SIGKILL;
        res->exit_code = 128 + SIGKILL;
        return 0;
    }
    /* Killed on request before the program ended by itself (which would
     * have left a report): what a SIGKILL of the program would show. */
    if (o->killed && !o->have_report) {
        res->signal = SIGKILL;
        res->exit_code = 128 + SIGKILL;
        return 0;
    }
    if (!o->have_report) {
        if (WIFSIGNALED(o->wait_status))
            return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "kcr-nsexec killed by signal %d",
                               WTERMSIG(o->wait_status));
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "kcr-nsexec exited %d without a report",
                           WEXITSTATUS(o->wait_status));
    }
    switch ((enum nsexec_outcome)o->report.outcome) {
    case NSEXEC_EXITED:
        res->exit_code = o->report.code;
        *ret_done = o->report.code != 0;
        return 0;
    case NSEXEC_SIGNALED:
        res->signal = o->report.code;
        res->exit_code = 128 + o->report.code;
        return 0;
    case NSEXEC_FAILED:
        return failed_step(&o->report, prog, res, ret_done, err);
    }
    return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "bad report from kcr-nsexec");
}

static int run_steps(const struct sidecar_exec_params *p, const struct sidecar_request *req,
                     const char *file_path, const char *cls, int64_t deadline, uint64_t oom_base,
                     struct sidecar_result *res, struct kcr_err *err)
{
    int nsteps = lang_nsteps(req->lang);
    for (int i = 0; i < nsteps; i++) {
        bool last = i == nsteps - 1, done = false;
        if (i > 0 && time_mono_ms() >= deadline) {
            /* the budget went to the earlier steps: no point starting this one */
            struct step_outcome late = {.timed_out = true};
            return apply_outcome(&late, "", req->timeout_s, res, &done, err);
        }
        char **argv =
            lang_expand(req->lang, i, file_path, cls, (const char *const *)req->args, req->nargs);
        struct step_outcome o = {0};
        int r = run_nsexec(p, argv, req->working_dir, last ? req->stdin_data : NULL, req->stdin_len,
                           deadline, oom_base, res, &o, err);
        if (r == 0)
            r = apply_outcome(&o, argv[0], req->timeout_s, res, &done, err);
        lang_argv_free(argv);
        if (r < 0 || done)
            return r;
    }
    return 0;
}

/*** A step started ahead of its request ***/

struct sidecar_prestart {
    struct step_proc proc;
    const struct kcr_lang *lang;
    pid_t target;
    uint64_t target_start;
    char *wd;
};

struct sidecar_prestart *sidecar_prestart_new(const struct sidecar_exec_params *p,
                                              const struct kcr_lang *lang, const char *wd,
                                              long max_timeout_s, struct kcr_err *err)
{
    const char *const *argv = sidecar_runner_argv(lang);
    if (!argv)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no runner for '%s'", lang->code), NULL;
    struct sidecar_prestart *ps = xcalloc(1, sizeof(*ps));
    /* RLIMIT_CPU is fixed at spawn: the longest run the sidecar accepts.
     * The runner is `python -c`: a fork-server can provide it preloaded
     * (without --setenv entries, which the template's environment lacks). */
    bool forked = p->forkserver && !p->setenv;
    /* The runner's one argument: what to import while it waits. */
    char *run_argv[8] = {NULL};
    size_t n = 0;
    for (; argv[n] && n < 6; n++)
        run_argv[n] = (char *)argv[n];
    if (p->preload && *p->preload)
        run_argv[n++] = (char *)p->preload;
    if (spawn_step(p, run_argv, wd, max_timeout_s + 2, forked, -1, &ps->proc, err) < 0) {
        free(ps);
        return NULL;
    }
    ps->lang = lang;
    ps->target = p->target;
    ps->target_start = p->target_start;
    ps->wd = xstrdup(wd);
    return ps;
}

struct sidecar_prestart *sidecar_prestart_free(struct sidecar_prestart *ps)
{
    if (!ps)
        return NULL;
    step_proc_close(&ps->proc);
    /* kcr-nsexec's death takes its pid namespace, the runner, with it. */
    if (ps->proc.pid > 0) {
        (void)kill(ps->proc.pid, SIGKILL);
        while (waitpid(ps->proc.pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    free(ps->wd);
    free(ps);
    return NULL;
}

/* Still waiting, in the main container the request is for (pid reuse: the
 * start time; a restarted main container is a new one). */
static bool prestart_usable(struct sidecar_prestart *ps, const struct sidecar_exec_params *p)
{
    int status;
    if (ps->target != p->target || ps->target_start != p->target_start)
        return false;
    if (waitpid(ps->proc.pid, &status, WNOHANG) == 0)
        return true;
    ps->proc.pid = 0; /* it ended (killed?) and is reaped now */
    char err[256] = "";
    ssize_t n = read(ps->proc.err_r, err, sizeof(err) - 1);
    log_msg(KCR_LOG_WARN, NULL, "pre-started runner ended before its request (status %d): %.*s",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), n > 0 ? (int)n : 0,
            err);
    return false;
}

/* The program of req through a waiting runner, which this consumes. */
static int run_prestarted(struct sidecar_prestart *ps, const struct sidecar_exec_params *p,
                          const struct sidecar_request *req, const char *file_path,
                          int64_t deadline, uint64_t oom_base, struct sidecar_result *res,
                          struct kcr_err *err)
{
    size_t len = 0;
    _cleanup_free_ char *in =
        sidecar_runner_input(file_path, (const char *const *)req->args, req->nargs, req->stdin_data,
                             req->stdin_len, &len);
    struct step_outcome o = {0};
    bool done = false;
    finish_step(&ps->proc, in, len, deadline, p->oom_fd, oom_base, res, &o);
    return apply_outcome(&o, ps->lang->steps[0][0], req->timeout_s, res, &done, err);
}

char *sidecar_exec_place_code(const struct sidecar_exec_params *p,
                              const struct sidecar_request *req, char *ret_class, size_t class_size,
                              struct kcr_err *err)
{
    _cleanup_close_ int dirfd = open(p->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "open '%s'", p->data_dir), NULL;
    _cleanup_free_ char *name = sidecar_exec_write_code(dirfd, req, ret_class, class_size, err);
    if (!name)
        return NULL;
    return xasprintf("%s%s%s", req->working_dir,
                     req->working_dir[strlen(req->working_dir) - 1] == '/' ? "" : "/", name);
}

/* The OOM counter now: a kill counts once it exceeds this. No baseline, no
 * watch: nothing exceeds UINT64_MAX. */
static uint64_t oom_baseline(int oom_fd)
{
    uint64_t base = UINT64_MAX;
    struct kcr_err ignored;
    if (oom_fd >= 0 && cgroup_self_oom_read(oom_fd, &base, &ignored) < 0)
        base = UINT64_MAX;
    return base;
}

int sidecar_exec_run(const struct sidecar_exec_params *p, const struct sidecar_request *req,
                     struct sidecar_prestart **runner, struct sidecar_result *res,
                     struct kcr_err *err)
{
    sidecar_result_init(res, p->max_output);
    int64_t start = time_mono_ms();
    int64_t deadline = start + req->timeout_s * 1000;
    char cls[128];
    _cleanup_free_ char *file_path = sidecar_exec_place_code(p, req, cls, sizeof(cls), err);
    if (!file_path)
        return -1;
    uint64_t oom_base = oom_baseline(p->oom_fd);
    int r;
    if (runner && *runner && !prestart_usable(*runner, p))
        *runner = sidecar_prestart_free(*runner);
    if (runner && *runner && (*runner)->lang == req->lang &&
        !strcmp((*runner)->wd, req->working_dir)) {
        r = run_prestarted(*runner, p, req, file_path, deadline, oom_base, res, err);
        *runner = sidecar_prestart_free(*runner);
    } else {
        r = run_steps(p, req, file_path, cls, deadline, oom_base, res, err);
    }
    res->execution_time_ms = (long)(time_mono_ms() - start);
    /* A kill the watch had no time to see (the step ended first) is still
     * reported; the program's exit status stays what it was. */
    if (r == 0 && !res->timed_out && oom_since(p->oom_fd, oom_base))
        res->oom_killed = true;
    return r;
}

/*** A program that can pause (programmatic tool calling) ***/

struct sidecar_live {
    struct step_proc proc; /* its pid: guarded by lock (a cancel kills it from another thread) */
    struct step_io io;
    struct step_outcome o;
    pthread_mutex_t lock;
    atomic_bool kill_req;
    char *prog; /* argv[0], for "not found" */
    long timeout_s;
    int64_t left_ms; /* of the wall-clock budget: it runs down only while pumping */
    int64_t ran_ms;
    bool over;
};

struct sidecar_live *sidecar_live_start(const struct sidecar_exec_params *p, char **argv,
                                        const char *wd, const struct sidecar_request *req,
                                        int pass_fd, struct kcr_err *err)
{
    struct sidecar_live *l = xcalloc(1, sizeof(*l));
    /* RLIMIT_CPU as /execute sets it: the whole budget (pauses cost no CPU). */
    if (spawn_step(p, argv, wd, req->timeout_s + 2, false, pass_fd, &l->proc, err) < 0) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    atomic_init(&l->kill_req, false);
    step_io_take(&l->io, &l->proc, req->stdin_data, req->stdin_len, p->oom_fd,
                 oom_baseline(p->oom_fd));
    l->prog = xstrdup(argv[0]);
    l->timeout_s = req->timeout_s;
    l->left_ms = req->timeout_s * 1000;
    return l;
}

int sidecar_live_pump(struct sidecar_live *l, struct sidecar_chan *chan, struct sidecar_result *res,
                      struct kcr_err *err)
{
    if (l->over)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "the program has ended");
    int64_t start = time_mono_ms();
    bool ended = pump(l->proc.pid, &l->io, start + l->left_ms, chan, &l->kill_req, res, &l->o);
    int64_t spent = time_mono_ms() - start;
    l->ran_ms += spent;
    l->left_ms = l->left_ms > spent ? l->left_ms - spent : 0;
    if (!ended)
        return 0;
    l->over = true;
    /* From here the pid may be reused: a cancel must not signal it. */
    pthread_mutex_lock(&l->lock);
    struct step_proc sp = l->proc;
    l->proc.pid = 0;
    pthread_mutex_unlock(&l->lock);
    step_reap(&sp, &l->io, &l->o);
    bool done;
    int r = apply_outcome(&l->o, l->prog, l->timeout_s, res, &done, err);
    res->execution_time_ms = (long)l->ran_ms;
    if (r == 0 && !res->timed_out && oom_since(l->io.oom_fd, l->io.oom_base))
        res->oom_killed = true;
    return r < 0 ? -1 : 1;
}

void sidecar_live_kill(struct sidecar_live *l)
{
    pthread_mutex_lock(&l->lock);
    atomic_store(&l->kill_req, true);
    if (l->proc.pid > 0)
        (void)kill(l->proc.pid, SIGKILL);
    pthread_mutex_unlock(&l->lock);
}

struct sidecar_live *sidecar_live_free(struct sidecar_live *l)
{
    if (!l)
        return NULL;
    if (!l->over) {
        /* Never finished: kill and reap, output and outcome unwanted. */
        l->o.killed = true;
        step_reap(&l->proc, &l->io, &l->o);
    }
    pthread_mutex_destroy(&l->lock);
    free(l->prog);
    free(l);
    return NULL;
}
