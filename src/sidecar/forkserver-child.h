/* forkserver-child — the privileged steps of a fork-server child, in C.
 *
 * Built into kcr-forkserver.so, which the fork-server template (a Python
 * process holding preloaded modules, runtime/forkserver.py) loads with
 * ctypes. The template runs as root in a container-like mount namespace with
 * a bounding set of exactly what these steps need; it never runs user code.
 * For each request it forks an *entrant*, which calls forkserver_enter and
 * forks the *program*, which calls forkserver_drop and then runs
 * `python -c CODE` semantics in Python (docs/local-pods.md, "Fork-server").
 *
 * Failures are written to the status pipe as struct forkserver_status
 * (forkserver-proto.h) before -1 is returned; the caller then _exits. */
#pragma once

#define KCR_FS_EXPORT __attribute__((visibility("default")))

/* Once, in the template: the cgroup parent name ("kcr") and, per hierarchy,
 * an O_PATH fd of <mount>/<parent> and whether it is v1 (tasks) or cgroup2
 * (cgroup.procs). n at most 8. Returns 0 or -EINVAL. */
KCR_FS_EXPORT int forkserver_config(const char *parent, const int *dir_fds, const int *is_v1,
                                    int n);

/* In the entrant (single-threaded, root): checks that peer (the requesting
 * kcr-nsexec init, by the kernel's credentials) is a pod process holding
 * CAP_SYS_ADMIN in a <parent>/<id> cgroup, moves itself into that pod's
 * cgroups, then setns() into all of peer's namespaces but the user namespace
 * (its pid namespace for the next child). Returns 0 or -1. */
KCR_FS_EXPORT int forkserver_enter(int peer, int status_fd);

/* In the program (the entrant's child, pid N of init's namespace): writes the
 * hello, makes in/out/err its stdio, closes every other fd, drops to uid/gid
 * (neither 0) with no capabilities, no_new_privs, oom_score_adj 1000, the
 * rlimits, chdir(wd), seccomp — kcr-nsexec's order — and closes status_fd.
 * Returns 0 or -1. */
KCR_FS_EXPORT int forkserver_drop(int status_fd, int in, int out, int err, const char *wd,
                                  unsigned uid, unsigned gid, unsigned long long cpu_s,
                                  unsigned long long fsize, unsigned long long nofile,
                                  unsigned long long nproc);
