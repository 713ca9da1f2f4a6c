/* nsexec-init — the second half of kcr-nsexec: pid 1 of the fresh pid
 * namespace and the user program it starts.
 *
 *   kcr-nsexec (in the sidecar's pid ns, privileged, waits)
 *     └─ init: pid 1 of a new pid ns. Mounts a fresh /proc, forks the user
 *        program, drops its own privileges, reaps everything, reports how
 *        the user program ended and exits — the kernel then SIGKILLs every
 *        process left in the namespace. PR_SET_PDEATHSIG(SIGKILL) ties it to
 *        kcr-nsexec, so SIGKILL of kcr-nsexec (the sidecar's timeout) ends
 *        the whole tree.
 *          └─ user program: no fds but 0/1/2 (and the pass fd, when given),
 *             uid/gid 65532, no capabilities,
 *             no_new_privs, oom_score_adj 1000, lowered rlimits, seccomp, execve.
 *
 * With a fork-server (--fork-server), init asks the template for the user
 * program instead of forking it: a fork of a preloaded interpreter that
 * joins this namespace and drops exactly the same way (forkserver-child.h),
 * and becomes init's child when its short-lived parent exits. A refusal, or
 * a failure before the program exists, falls back to fork + exec. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "sandbox/rlimit.h"

struct nsexec_plan {
    uid_t uid;
    gid_t gid;
    struct kcr_rlimits limits;
    int report_fd;     /* -1 when absent */
    int life_fd;       /* read end of a pipe whose writer is kcr-nsexec */
    char *const *argv; /* program and arguments; argv[0] resolved via PATH */
    char *const *envp; /* exactly the main container's environment */
    const char *path;  /* PATH of that environment, or NULL */
    const char *wd;    /* working directory (a path in the main container) */
    int forkserver_fd; /* connected to the fork-server template, or -1 */
    int pass_fd;       /* kept open (not close-on-exec) for the program, or -1 */
};

/* Runs as pid 1 of the new pid namespace; never returns. */
__attribute__((noreturn)) void nsexec_init_main(const struct nsexec_plan *plan);

/* Closes every fd above 2 but a and b (either may be -1). Returns 0 or -errno. */
int nsexec_close_all_but(int a, int b);

/* Resolves name through path (a PATH value) like execvp: the first regular,
 * executable file. Writes it to out. Returns 0, -ENOENT or -EACCES. */
int nsexec_init_resolve(const char *name, const char *path, char *out, size_t size);
