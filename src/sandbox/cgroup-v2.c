/* cgroup-v2 — one unified hierarchy: <root>/<parent>/<pod> with memory.max,
 * memory.swap.max, pids.max and cpu.max, killed with cgroup.kill. */
#include "sandbox/cgroup-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* Moves every process of dir into dir/<leaf>, so that dir may delegate
 * controllers ("no internal processes" rule, cgroup-v2.rst): this happens when
 * kcr runs at the root of a delegated subtree, as in a container. */
static int evacuate(const char *dir, const char *leaf, struct kcr_err *err)
{
    _cleanup_free_ char *leaf_dir = xasprintf("%s/%s", dir, leaf);
    if (cgroup_mkdir(leaf_dir, err) < 0)
        return -1;
    _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
    _cleanup_fclose_ FILE *f = fopen(procs, "re");
    if (!f)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", procs);
    long pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        char value[32];
        snprintf(value, sizeof(value), "%ld", pid);
        struct kcr_err ignore = {0};
        (void)cgroup_write(leaf_dir, "cgroup.procs", value, &ignore); /* may have exited */
    }
    return 0;
}

static int enable_controllers(const char *dir, const char *list, struct kcr_err *err)
{
    struct kcr_err first = {0};
    if (cgroup_write(dir, "cgroup.subtree_control", list, &first) == 0)
        return 0;
    if (first.errnum != EBUSY) {
        if (err)
            *err = first;
        return -1;
    }
    if (evacuate(dir, "kcr-supervisor", err) < 0)
        return -1;
    return cgroup_write(dir, "cgroup.subtree_control", list, err);
}

static int v2_setup(struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    const char *list = mgr->v2_has_cpu ? "+memory +pids +cpu" : "+memory +pids";
    _cleanup_free_ char *parent = xasprintf("%s/%s", mgr->v2, mgr->parent);
    if (cgroup_mkdir(parent, err) < 0)
        return -1;
    if (enable_controllers(mgr->v2, list, err) < 0)
        return kcr_err_wrap(err, "cgroup v2: enable controllers in '%s'", mgr->v2);
    /* <parent> holds no processes, only pod cgroups: plain write. */
    if (cgroup_write(parent, "cgroup.subtree_control", list, err) < 0)
        return kcr_err_wrap(err, "cgroup v2: enable controllers in '%s'", parent);
    return 0;
}

static int v2_create(struct kcr_cgroup_mgr *mgr, struct kcr_cgroup *cg,
                     const struct kcr_cgroup_limits *lim, struct kcr_err *err)
{
    char buf[64];
    const char *dir = cg->paths[CG_UNIFIED] = xasprintf("%s/%s/%s", mgr->v2, mgr->parent, cg->name);
    if (cgroup_mkdir(dir, err) < 0)
        return -1;
    if (lim->memory_bytes) {
        snprintf(buf, sizeof(buf), "%" PRIu64, lim->memory_bytes);
        if (cgroup_write(dir, "memory.max", buf, err) < 0)
            return -1;
        /* A pod must not page out to get past its limit. memory.swap.max is
         * absent when the kernel has no swap accounting: nothing to limit. */
        struct kcr_err swap = {0};
        if (cgroup_write(dir, "memory.swap.max", "0", &swap) < 0 && swap.errnum != ENOENT) {
            if (err)
                *err = swap;
            return -1;
        }
    }
    if (lim->pids_max) {
        snprintf(buf, sizeof(buf), "%" PRIu64, lim->pids_max);
        if (cgroup_write(dir, "pids.max", buf, err) < 0)
            return -1;
    }
    if (lim->cpu_quota_us && mgr->v2_has_cpu) {
        snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64, lim->cpu_quota_us, lim->cpu_period_us);
        if (cgroup_write(dir, "cpu.max", buf, err) < 0)
            return -1;
    }
    return 0;
}

static int v2_kill(const struct kcr_cgroup *cg, struct kcr_err *err)
{
    const char *dir = cg->paths[CG_UNIFIED];
    int r = cgroup_v2_kill_dir(dir, err);
    if (r != -ENOENT)
        return r;
    /* Kernels before 5.14 have no cgroup.kill: SIGKILL rounds over cgroup.procs. */
    for (int round = 0; round < 400; round++) {
        long n = cgroup_procs_kill(dir);
        if (n <= 0)
            return 0;
        cgroup_sleep_ms(round < 10 ? 1 : 5);
    }
    return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "cgroup: '%s' not empty after kill rounds", dir);
}

const struct kcr_cgroup_ops cgroup_v2_ops = {
    .mode = KCR_CGROUP_V2,
    .setup = v2_setup,
    .create = v2_create,
    .kill = v2_kill,
};
