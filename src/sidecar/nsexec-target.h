/* nsexec-target — the first half of kcr-nsexec: reading the main container's
 * process and entering its mount namespace.
 *
 * Everything that reads /proc/PID must run before setns(): afterwards /proc
 * resolves inside the target's mount namespace, where pid numbers differ. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSEXEC_ENVIRON_MAX  (256 * 1024)
#define NSEXEC_ENVIRON_VARS 4096

struct nsexec_target {
    pid_t pid;
    char *environ_buf; /* NUL-separated "K=V" strings as read */
    char **envp;       /* NULL-terminated pointers into environ_buf */
    int ns_fd;         /* /proc/PID/ns/mnt */
    int root_fd;       /* /proc/PID/root */
};

/* Reads /proc/PID/environ (at most NSEXEC_ENVIRON_MAX bytes; a variable cut by
 * the bound is dropped) into t. Returns 0 or -errno. */
int nsexec_target_read_environ(pid_t pid, struct nsexec_target *t);

/* Opens the namespace and root fds of t->pid. Returns 0 or -errno; *ret_step
 * names what failed. */
int nsexec_target_open(struct nsexec_target *t, int *ret_step);

/* Fails with -ESRCH unless pid still has the given start time (pid reuse). */
int nsexec_target_verify(pid_t pid, uint64_t start_time);

/* setns into the mount namespace, then a private copy of it plus a new pid
 * namespace (for the next fork), entering the target's root if it only
 * chroot'ed, and chdir(wd). Returns 0 or -errno; *ret_step names the step. */
int nsexec_target_enter(const struct nsexec_target *t, const char *wd, int *ret_step);

/* The value of PATH in envp, or NULL. Borrowed. */
const char *nsexec_target_path(char *const *envp);

/* Frees what t holds (fds closed). */
void nsexec_target_done(struct nsexec_target *t);
