/* ns — Linux namespaces: creating a process in new namespaces and the setup a
 * namespace's first process does (private mounts, a fresh /proc, hostname). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"

/* fork(2) into new namespaces: flags is a set of CLONE_NEW* bits. Returns the
 * child's pid in the parent and 0 in the child, or -1 with err set (for
 * example EPERM without CAP_SYS_ADMIN). The child gets SIGCHLD semantics.
 * cgroup_fd >= 0 (a cgroup2 directory) asks for the child to start in that
 * cgroup (clone3 CLONE_INTO_CGROUP); *ret_in_cgroup says whether it did:
 * kernels before 5.7, seccomp profiles that hide clone3 and valgrind refuse
 * it, and the child then starts in the caller's cgroup. */
pid_t ns_fork(int flags, int cgroup_fd, bool *ret_in_cgroup, struct kcr_err *err);

/* unshare(2) with a message naming the namespaces. */
int ns_unshare(int flags, struct kcr_err *err);

/* Makes every mount of this mount namespace private (MS_REC|MS_PRIVATE), so
 * nothing mounted here propagates back to the host and vice versa. */
int ns_mounts_private(struct kcr_err *err);

/* Mounts a fresh proc (nosuid, nodev, noexec) at target: it shows the pid
 * namespace of the caller. */
int ns_mount_proc(const char *target, struct kcr_err *err);

/* Mounts a tmpfs at target with size_mb, mode and owner uid/gid, nosuid+nodev. */
int ns_mount_tmpfs(const char *target, unsigned size_mb, mode_t mode, uid_t uid, gid_t gid,
                   struct kcr_err *err);

/* sethostname(2) in the caller's uts namespace. */
int ns_set_hostname(const char *name, struct kcr_err *err);

/* "mnt pid net ipc uts" for a set of CLONE_NEW* flags, for messages. */
const char *ns_flags_name(int flags, char *buf, size_t size);
