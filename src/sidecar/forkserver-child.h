/* forkserver-child — the privileged steps of a fork-server child, in C.
 *
 * Built into kcr-forkserver.so, which the fork-server template (a Python
 * process holding preloaded modules, runtime/forkserver.py) loads with
 * ctypes. The template runs as root in a container-like mount namespace with
 * a bounding set of exactly what these steps need; it never runs user code.
 * For each request it checks the sender (forkserver_check) and starts an
 * *entrant* in the sender's namespaces, which forks the *program*
 * (forkserver_spawn); the program calls forkserver_drop and then runs
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

/* In the template, per request, in place of fork(): starts the *entrant*,
 * pid 2 of peer's pid namespace (pidfd from forkserver_check), as a vfork
 * child that shares the template's memory (no copy of it); the entrant moves
 * into pod id's cgroups, setns() into peer's mount, net, ipc, uts and cgroup
 * namespaces, forks the *program* (a copy of the template, suspended in this
 * call) and exits, which orphans the program to peer's init. Call it as
 * Python's os.fork() calls fork(): with the GIL held (ctypes PYFUNCTYPE),
 * between PyOS_BeforeFork and PyOS_AfterFork_Parent/Child. Returns 1 in the
 * program; in the template 0 once the entrant is gone (its failures went to
 * status_fd as struct forkserver_status) or -errno when none was started. */
KCR_FS_EXPORT int forkserver_spawn(int pidfd, const char *id, int status_fd);

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
