/* kcr-nsexec — runs one program inside the main container, as user code.
 *
 * The only privileged code of kcr (root, or the file capabilities
 * cap_sys_admin,cap_sys_chroot,cap_sys_ptrace+ep in images, plus
 * cap_dac_read_search against a main container of another uid;
 * docs/sidecar.md says why each is needed).
 * One-shot: it may die on any failure, reporting the step to the sidecar.
 *
 *   kcr-nsexec --target PID [--target-start TICKS] --wd DIR [--uid 65532]
 *              [--gid 65532] [--cpu SECONDS] [--fsize BYTES] [--nofile N]
 *              [--nproc N] [--report-fd FD] [--setenv K=V]... [--fork-server SOCKET]
 *              [--pass-fd N] -- PROG [ARGS...]
 *
 * The environment of PROG is exactly /proc/PID/environ of the target, plus
 * the --setenv entries (at most 16, replacing same-named variables).
 *
 * --fork-server: PROG is `python -c CODE`; ask the fork-server template at
 * SOCKET for it (nsexec-init.h). Unreachable or refusing: run PROG as usual.
 *
 * --pass-fd N: the one fd besides 0/1/2 that PROG gets, as fd N, not
 * close-on-exec, so that PROG's children inherit it too (the channel of
 * programmatic tool calling, sidecar-ptc.h). N > 2 and not the report fd; at
 * most one. kcr-nsexec and init close their copies once the program exists,
 * so the other end sees EOF when the program's processes are done with it.
 * Not with --fork-server (a usage error): only a freshly exec'd program has it.
 *
 * Exit status: the user program's (128+N when killed by signal N), 127 when a
 * setup step failed, 2 for bad arguments. With --report-fd, one
 * struct nsexec_report says the same precisely (sidecar/nsexec-report.h). */
#include "sidecar/nsexec-init.h"
#include "sidecar/nsexec-report.h"
#include "sidecar/nsexec-target.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct nsexec_opts {
    pid_t target;
    uint64_t target_start;
    int have_start;
    const char *wd;
    const char *forkserver;
    const char *setenv[16];
    size_t nsetenv;
    struct nsexec_plan plan;
};

static int report_fd = -1;
static int pass_fd = -1;

__attribute__((noreturn)) static void die_step(int step, int errnum)
{
    if (report_fd >= 0)
        (void)nsexec_report_write(report_fd, NSEXEC_FAILED, 0, step, errnum);
    else
        fprintf(stderr, "kcr-nsexec: %s: %s\n", nsexec_report_step_name(step), strerror(errnum));
    /* _exit: after unshare(CLONE_NEWPID) nothing may fork on the way out
     * (sanitizer exit hooks clone a tracer, which would land in the new pid
     * namespace and hang); stderr is unbuffered. */
    _exit(127);
}

__attribute__((noreturn)) static void usage(const char *msg)
{
    fprintf(stderr,
            "kcr-nsexec: %s\nusage: kcr-nsexec --target PID [--target-start TICKS] --wd DIR "
            "[--uid N] [--gid N] [--cpu S] [--fsize B] [--nofile N] [--nproc N] "
            "[--report-fd FD] [--setenv K=V]... [--fork-server SOCKET] [--pass-fd N] "
            "-- PROG [ARGS...]\n",
            msg);
    if (report_fd >= 0)
        (void)nsexec_report_write(report_fd, NSEXEC_FAILED, 0, NSEXEC_STEP_ARGS, EINVAL);
    exit(2);
}

static unsigned long long parse_num(const char *s, const char *what, unsigned long long max)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "bad %s '%s'", what, s);
        usage(msg);
    }
    return v;
}

static void parse_args(int argc, char **argv, struct nsexec_opts *o)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},  {"target-start", required_argument, NULL, 's'},
        {"wd", required_argument, NULL, 'w'},      {"uid", required_argument, NULL, 'u'},
        {"gid", required_argument, NULL, 'g'},     {"cpu", required_argument, NULL, 'c'},
        {"fsize", required_argument, NULL, 'f'},   {"nofile", required_argument, NULL, 'n'},
        {"nproc", required_argument, NULL, 'p'},   {"report-fd", required_argument, NULL, 'r'},
        {"setenv", required_argument, NULL, 'e'},  {"fork-server", required_argument, NULL, 'F'},
        {"pass-fd", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            o->target = (pid_t)parse_num(optarg, "pid", 4194304);
            break;
        case 's':
            o->target_start = parse_num(optarg, "start time", UINT64_MAX);
            o->have_start = 1;
            break;
        case 'w':
            o->wd = optarg;
            break;
        case 'u':
            o->plan.uid = (uid_t)parse_num(optarg, "uid", 0xfffffffeU);
            break;
        case 'g':
            o->plan.gid = (gid_t)parse_num(optarg, "gid", 0xfffffffeU);
            break;
        case 'c':
            o->plan.limits.cpu_s = parse_num(optarg, "cpu seconds", 1U << 30);
            break;
        case 'f':
            o->plan.limits.fsize = parse_num(optarg, "file size", UINT64_MAX);
            break;
        case 'n':
            o->plan.limits.nofile = parse_num(optarg, "nofile", 1U << 20);
            break;
        case 'p':
            o->plan.limits.nproc = parse_num(optarg, "nproc", 1U << 22);
            break;
        case 'r':
            report_fd = (int)parse_num(optarg, "fd", 1024);
            o->plan.report_fd = report_fd;
            break;
        case 'F':
            o->forkserver = optarg;
            break;
        case 'P':
            if (pass_fd >= 0)
                usage("at most one --pass-fd");
            pass_fd = (int)parse_num(optarg, "fd", 1024);
            o->plan.pass_fd = pass_fd;
            break;
        case 'e':
            if (o->nsetenv >= 16 || !strchr(optarg, '=') || optarg[0] == '=')
                usage("bad or too many --setenv");
            o->setenv[o->nsetenv++] = optarg;
            break;
        default:
            usage("unknown option");
        }
    }
    if (o->target <= 1)
        usage("--target PID is required");
    if (!o->wd || o->wd[0] != '/')
        usage("--wd must be an absolute path");
    if (optind >= argc)
        usage("no program given");
    o->plan.argv = argv + optind;
    if (o->forkserver && (argc - optind < 3 || strcmp(argv[optind + 1], "-c")))
        usage("--fork-server runs `python -c CODE` only");
    /* The template forks the program with its own fds: it would not get N. */
    if (o->forkserver && pass_fd >= 0)
        usage("--pass-fd cannot be used with --fork-server");
    if (pass_fd >= 0 && (pass_fd <= 2 || pass_fd == report_fd))
        usage("--pass-fd must be above 2 and not the report fd");
}

/* Connected now, in the sidecar's mount namespace, where the socket's path
 * is visible; the request goes out later, from init. -1: no fork-server. */
static int forkserver_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(a.sun_path))
        return -1;
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&a, sizeof(a));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Nothing of the sidecar crosses into user code: only 0/1/2, the report fd
 * and the pass fd stay open. The report fd is close-on-exec (init keeps it,
 * user code never gets it: its child closes every fd past 2 but the pass fd). */
static void sanitize_fds(void)
{
    if (report_fd >= 0 && report_fd <= 2)
        usage("--report-fd must be above 2");
    (void)nsexec_close_all_but(report_fd, pass_fd);
    if (report_fd >= 0 && fcntl(report_fd, F_SETFD, FD_CLOEXEC) < 0)
        usage("--report-fd is not open");
    if (pass_fd >= 0 && fcntl(pass_fd, F_GETFD) < 0)
        usage("--pass-fd is not open");
}

/* The target's variables with --setenv entries replacing or added. */
static char **merge_env(char **envp, const char *const *add, size_t nadd)
{
    size_t n = 0;
    while (envp[n])
        n++;
    char **out = xcalloc(n + nadd + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nadd; j++) {
            size_t kl = (size_t)(strchr(add[j], '=') - add[j]) + 1;
            replaced = replaced || !strncmp(envp[i], add[j], kl);
        }
        if (!replaced)
            out[k++] = envp[i];
    }
    for (size_t j = 0; j < nadd; j++)
        out[k++] = (char *)add[j];
    return out;
}

int main(int argc, char **argv)
{
    struct nsexec_opts o = {
        .plan = {.uid = 65532, .gid = 65532, .report_fd = -1, .forkserver_fd = -1, .pass_fd = -1}};
    struct nsexec_target t = {.ns_fd = -1, .root_fd = -1};
    int step = 0, r;

    /* Holding privilege and the main container's environment: no core
     * dumps, no ptrace by the same uid, /proc/self owned by root. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    parse_args(argc, argv, &o);
    sanitize_fds();
    o.plan.wd = o.wd;
    o.plan.forkserver_fd = forkserver_connect(o.forkserver);

    /* /proc/PID is read before setns: afterwards /proc is the target's. */
    if ((r = nsexec_target_read_environ(o.target, &t)) < 0)
        die_step(NSEXEC_STEP_ENVIRON, -r);
    if ((r = nsexec_target_open(&t, &step)) < 0)
        die_step(step, -r);
    /* Checked after everything was read and opened: if the pid still has the
     * start time the sidecar saw, all of it came from the main container. */
    if (o.have_start && (r = nsexec_target_verify(o.target, o.target_start)) < 0)
        die_step(NSEXEC_STEP_VERIFY_TARGET, -r);
    if ((r = nsexec_target_enter(&t, o.wd, &step)) < 0)
        die_step(step, -r);
    char **envp = merge_env(t.envp, o.setenv, o.nsetenv);
    o.plan.envp = envp;
    o.plan.path = nsexec_target_path(envp);

    int life[2];
    if (pipe2(life, O_CLOEXEC) < 0)
        die_step(NSEXEC_STEP_FORK, errno);
    /* The first child after unshare(CLONE_NEWPID) is pid 1 of the new namespace. */
    pid_t init = fork();
    if (init < 0)
        die_step(NSEXEC_STEP_FORK, errno);
    if (init == 0) {
        close(life[1]);
        o.plan.life_fd = life[0];
        nsexec_init_main(&o.plan);
    }
    close(life[0]);
    if (o.plan.forkserver_fd >= 0)
        close(o.plan.forkserver_fd);
    free(envp);
    nsexec_target_done(&t);
    if (report_fd >= 0)
        close(report_fd); /* init writes the report; EOF then reaches the sidecar */
    if (pass_fd >= 0)
        close(pass_fd); /* the program's: only its processes hold it from now on */
    /* The program's stdio too: the sidecar's EOF must not wait for this
     * process, which outlives init's report by init's teardown. */
    for (int fd = 0; fd <= 2; fd++)
        (void)close(fd);
    int st = 0;
    while (waitpid(init, &st, 0) < 0)
        if (errno != EINTR)
            _exit(127);
    _exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}
