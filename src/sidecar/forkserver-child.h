/* forkserver-child — the privileged steps of a fork-server child, in C.
 *
 * Built into kcr-forkserver.so, which the fork-server template (a Python
 * process holding preloaded modules, runtime/forkserver.py) loads with
 * ctypes. The template runs as root in a container-like mount namespace with
 * a bounding set of exactly what these steps need; it never runs user code.
 * For each request it checks the sender (forkserver_check) and forks an
 * *entrant* into the sender's pid namespace (forkserver_pidns), which calls
 * forkserver_enter and forks the *program*, which calls forkserver_drop and then runs
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

/* In the template, per request: checks that peer (the requesting
 * kcr-nsexec init, as the kernel's credentials name it) is not root, holds
 * CAP_SYS_ADMIN (only kcr-nsexec does in a pod) and sits in a <parent>/<id>
 * cgroup, whose id it copies to id. Returns a pidfd of peer, or -errno. */
KCR_FS_EXPORT int forkserver_check(int peer, char *id, int id_size);

/* In the template: the pid namespace of the next fork becomes peer's (its
 * pidfd), or again the template's own (pidfd -1). Returns 0 or -errno. */
KCR_FS_EXPORT int forkserver_pidns(int pidfd);

/* In the entrant (pid 2 of peer's pid namespace, single-threaded, root):
 * moves itself into pod id's cgroups, then setns() into peer's mount, net,
 * ipc, uts and cgroup namespaces. Returns 0 or -1 (status written). */
KCR_FS_EXPORT int forkserver_enter(int pidfd, const char *id, int status_fd);

/* In the program (the entrant's child, pid N of init's namespace): writes the
 * hello, makes in/out/err its stdio, closes every other fd, drops to uid/gid
 * (neither 0) with no capabilities, no_new_privs, oom_score_adj 1000, the
 * rlimits, chdir(wd), seccomp — kcr-nsexec's order — and closes status_fd.
 * Returns 0 or -1. */
KCR_FS_EXPORT int forkserver_drop(int status_fd, int in, int out, int err, const char *wd,
                                  unsigned uid, unsigned gid, unsigned long long cpu_s,
                                  unsigned long long fsize, unsigned long long nofile,
                                  unsigned long long nproc);

/* In the program, when it is done (stdio flushed): closes its stdio, tells
 * init its exit status (NSEXEC_DONE_SIGNAL, nsexec-report.h) and exits with
 * it, so the run is reported before the teardown of its address space. */
KCR_FS_EXPORT __attribute__((noreturn)) void forkserver_exit(int status);
