/* cgroup — the per-pod control group: memory, pids and CPU limits, and a kill
 * that is instant and complete even against a fork bomb.
 *
 * The hierarchy layout is detected at run time from mountinfo: cgroup v1 (with
 * the optional cgroup2 "unified" mount used only for cgroup.kill), pure cgroup
 * v2, or disabled (rootless mode: no cgroup at all, every operation a no-op).
 * Pod cgroups live in a "kcr" directory at the hierarchy root, next to (never
 * inside) the cgroup of the process that creates them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

enum kcr_cgroup_mode {
    KCR_CGROUP_DISABLED,
    KCR_CGROUP_V1,
    KCR_CGROUP_V2,
};

struct kcr_cgroup_limits {
    uint64_t memory_bytes; /* 0 = no limit */
    uint64_t pids_max;     /* 0 = no limit */
    uint64_t cpu_quota_us; /* per cpu_period_us; 0 = no limit */
    uint64_t cpu_period_us;
};

struct kcr_cgroup_mgr;
struct kcr_cgroup;

/* Detects the layout from mountinfo_path (NULL: /proc/self/mountinfo) and
 * returns a manager for pod cgroups under <hierarchy>/<parent>/ (parent is one
 * safe name, e.g. "kcr"). Fails (KCR_ERR_UNAVAILABLE) naming what is missing
 * when neither a v1 memory+pids pair nor a v2 hierarchy with those controllers
 * is mounted. Free with cgroup_mgr_free. */
struct kcr_cgroup_mgr *cgroup_mgr_new(const char *mountinfo_path, const char *parent,
                                      struct kcr_err *err);

/* A manager whose cgroups do nothing (rootless mode). Never fails. */
struct kcr_cgroup_mgr *cgroup_mgr_new_disabled(void);

struct kcr_cgroup_mgr *cgroup_mgr_free(struct kcr_cgroup_mgr *mgr);

enum kcr_cgroup_mode cgroup_mgr_mode(const struct kcr_cgroup_mgr *mgr);

/* "disabled", "v1", "v2". */
const char *cgroup_mode_name(enum kcr_cgroup_mode mode);

/* For a pod's first process, after unshare(CLONE_NEWCGROUP) in a private
 * mount namespace: replaces the memory hierarchy's mount (v1) and the cgroup2
 * mount with fresh read-only ones rooted at the namespace's root, the view a
 * container runtime gives a container, so the sidecar finds its own cgroup
 * (cgroup-self.h). No-op when disabled. */
int cgroup_mgr_mount_ns_view(const struct kcr_cgroup_mgr *mgr, struct kcr_err *err);

/* Creates the parent directories (and, on v2, enables the controllers) once.
 * Idempotent; cgroup_create calls it. */
int cgroup_mgr_setup(struct kcr_cgroup_mgr *mgr, struct kcr_err *err);

/* Creates the cgroup <parent>/<name> in every hierarchy and writes limits.
 * name must be a safe single component. On failure nothing is left behind. */
struct kcr_cgroup *cgroup_create(struct kcr_cgroup_mgr *mgr, const char *name,
                                 const struct kcr_cgroup_limits *limits, struct kcr_err *err);

/* Moves pid into the cgroup (every hierarchy). Writing a pid to cgroup.procs
 * takes the kernel's global threadgroup lock for writing, which waits for an
 * RCU grace period (~10 ms) unless another write came just before: for a
 * new process, prefer the join below. */
int cgroup_attach(const struct kcr_cgroup *cg, pid_t pid, struct kcr_err *err);

/* A new process's way in without that lock: it is cloned straight into the
 * cgroup2 directory (ns_fork's cgroup_fd) and, on v1, moves itself by writing
 * "0" to each hierarchy's tasks file, which a single thread moving itself may
 * do without the global lock. */
#define KCR_CGROUP_MAX_TASKS 4
struct kcr_cgroup_join {
    int dir_fd;                             /* cgroup2 directory, or -1 */
    int tasks_fd[KCR_CGROUP_MAX_TASKS + 1]; /* v1 tasks files, -1 terminated */
};
#define KCR_CGROUP_JOIN_INIT                                                                       \
    {                                                                                              \
        .dir_fd = -1, .tasks_fd = { -1, -1, -1, -1, -1 }                                           \
    }

/* Before the clone: opens them (O_CLOEXEC). Every fd is -1 when disabled. */
int cgroup_join_open(const struct kcr_cgroup *cg, struct kcr_cgroup_join *j, struct kcr_err *err);

/* In the parent after the clone: when the clone did not start pid in dir_fd
 * (in_dir false), moves it there through cgroup.procs. */
int cgroup_join_finish(const struct kcr_cgroup *cg, const struct kcr_cgroup_join *j, pid_t pid,
                       bool in_dir, struct kcr_err *err);

/* In the child, still single-threaded, before it forks: moves itself into
 * every v1 hierarchy and closes the tasks files. */
int cgroup_join_self(struct kcr_cgroup_join *j, struct kcr_err *err);

/* Closes whatever is still open. */
void cgroup_join_close(struct kcr_cgroup_join *j);

/* For a process that joins pod cgroups by itself later (the fork-server
 * template, docs/local-pods.md): an O_PATH directory fd of <hierarchy>/<parent>
 * per hierarchy pod cgroups use, with v1[i] true where the file to write is
 * "tasks" (v1) rather than "cgroup.procs" (cgroup2). Returns how many (0 when
 * disabled), at most max, or -1 with err set (nothing left open). */
int cgroup_mgr_parent_fds(const struct kcr_cgroup_mgr *mgr, int *fds, bool *v1, size_t max,
                          struct kcr_err *err);

/* Kills every process in the cgroup and waits (bounded, about 2 s) until it is
 * empty: cgroup.kill where it exists, else freeze + SIGKILL + thaw rounds. */
int cgroup_kill(const struct kcr_cgroup *cg, struct kcr_err *err);

/* cgroup_kill, then removes the directories. Frees cg in every case; the
 * error says what could not be removed. Accepts NULL. */
int cgroup_destroy(struct kcr_cgroup *cg, struct kcr_err *err);

/* The directories of this cgroup (borrowed), for tests and diagnostics. */
size_t cgroup_paths(const struct kcr_cgroup *cg, const char *const **ret_paths);

/* Number of processes currently in the cgroup (0 when disabled), or -1. */
long cgroup_count_procs(const struct kcr_cgroup *cg);

/* Kills and removes every leftover cgroup under <parent>/ (a crashed run).
 * Returns the number removed, or -1 with err set for the first failure. */
int cgroup_mgr_gc(struct kcr_cgroup_mgr *mgr, struct kcr_err *err);

/* The same for the one cgroup <parent>/<name> (every hierarchy it is in). */
int cgroup_mgr_gc_named(struct kcr_cgroup_mgr *mgr, const char *name, struct kcr_err *err);
