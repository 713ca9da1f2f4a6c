/* cgroup-internal — what cgroup.c (front end) shares with its backends
 * cgroup-v1.c and cgroup-v2.c. Not for use outside src/sandbox/cgroup*.c. */
#pragma once

#include "sandbox/cgroup.h"

enum cgroup_ctrl {
    CG_MEMORY,
    CG_PIDS,
    CG_CPU,
    CG_FREEZER,
    CG_NCTRL,
};

/* Index of the cgroup2 directory in kcr_cgroup.paths (v1 "unified" or v2). */
#define CG_UNIFIED CG_NCTRL

struct kcr_cgroup_ops {
    enum kcr_cgroup_mode mode;
    int (*setup)(struct kcr_cgroup_mgr *mgr, struct kcr_err *err);
    /* Fills cg->paths for cg->name, creates the directories, writes limits. */
    int (*create)(struct kcr_cgroup_mgr *mgr, struct kcr_cgroup *cg,
                  const struct kcr_cgroup_limits *limits, struct kcr_err *err);
    int (*kill)(const struct kcr_cgroup *cg, struct kcr_err *err);
};

struct kcr_cgroup_mgr {
    const struct kcr_cgroup_ops *ops;
    char *parent;       /* "kcr" */
    char *v1[CG_NCTRL]; /* v1 mount point per controller, or NULL */
    char *v2;           /* cgroup2 mount point (v2 root, or v1's unified), or NULL */
    bool v2_has_cpu;    /* v2: "cpu" is in cgroup.controllers */
    bool is_setup;
};

struct kcr_cgroup {
    struct kcr_cgroup_mgr *mgr;
    char name[64];
    char *paths[CG_NCTRL + 1];      /* NULL for hierarchies not used */
    const char *list[CG_NCTRL + 1]; /* non-NULL paths, for cgroup_paths() */
};

extern const struct kcr_cgroup_ops cgroup_v1_ops;
extern const struct kcr_cgroup_ops cgroup_v2_ops;

/* Writes value to dir/file (no O_CREAT: cgroupfs files exist or the feature is missing). */
int cgroup_write(const char *dir, const char *file, const char *value, struct kcr_err *err);

/* Reads dir/file (at most size-1 bytes, NUL-terminated). Returns bytes or -errno. */
ssize_t cgroup_read(const char *dir, const char *file, char *buf, size_t size);

/* mkdir that accepts an existing directory. */
int cgroup_mkdir(const char *path, struct kcr_err *err);

/* rmdir retried briefly on EBUSY (css teardown lags the last exit); ENOENT is fine. */
int cgroup_rmdir(const char *path, struct kcr_err *err);

/* Number of pids listed in dir/cgroup.procs, or -1. */
long cgroup_procs_count(const char *dir);

/* SIGKILLs every pid in dir/cgroup.procs. Returns the number signalled, or -1. */
long cgroup_procs_kill(const char *dir);

/* cgroup2: writes 1 to cgroup.kill and waits for "populated 0" in cgroup.events.
 * Returns 0, -ENOENT when cgroup.kill does not exist, or -1 with err set. */
int cgroup_v2_kill_dir(const char *dir, struct kcr_err *err);

/* Sleeps ms milliseconds (EINTR-safe). */
void cgroup_sleep_ms(long ms);
