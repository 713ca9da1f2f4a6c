/* cgroup-v1 — per-controller hierarchies (memory, pids, cpu, freezer), plus a
 * directory in the cgroup2 "unified" mount when one exists: it has no
 * controllers in hybrid mode, but its cgroup.kill and cgroup.events give an
 * atomic kill and a reliable "empty" signal that v1 lacks. */
#include "sandbox/cgroup-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

static int v1_setup(struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    for (int c = 0; c < CG_NCTRL; c++) {
        if (!mgr->v1[c])
            continue;
        _cleanup_free_ char *dir = xasprintf("%s/%s", mgr->v1[c], mgr->parent);
        if (cgroup_mkdir(dir, err) < 0)
            return -1;
    }
    if (mgr->v2) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", mgr->v2, mgr->parent);
        /* The unified mount is optional: without it we fall back to freezing. */
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            free(mgr->v2);
            mgr->v2 = NULL;
        }
    }
    return 0;
}

static int write_u64(const char *dir, const char *file, uint64_t v, struct kcr_err *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return cgroup_write(dir, file, buf, err);
}

static int v1_limits(const struct kcr_cgroup *cg, const struct kcr_cgroup_limits *lim,
                     struct kcr_err *err)
{
    const char *mem = cg->paths[CG_MEMORY], *pids = cg->paths[CG_PIDS], *cpu = cg->paths[CG_CPU];
    if (lim->memory_bytes) {
        if (write_u64(mem, "memory.limit_in_bytes", lim->memory_bytes, err) < 0)
            return -1;
        /* memsw (memory+swap) exists only with swap accounting; without it
         * swap is simply not charged, and there may be no swap at all. */
        _cleanup_free_ char *memsw = xasprintf("%s/memory.memsw.limit_in_bytes", mem);
        if (access(memsw, F_OK) == 0 &&
            write_u64(mem, "memory.memsw.limit_in_bytes", lim->memory_bytes, err) < 0)
            return -1;
    }
    if (lim->pids_max && write_u64(pids, "pids.max", lim->pids_max, err) < 0)
        return -1;
    if (cpu && lim->cpu_quota_us) {
        if (write_u64(cpu, "cpu.cfs_period_us", lim->cpu_period_us, err) < 0 ||
            write_u64(cpu, "cpu.cfs_quota_us", lim->cpu_quota_us, err) < 0)
            return -1;
    }
    return 0;
}

static int v1_create(struct kcr_cgroup_mgr *mgr, struct kcr_cgroup *cg,
                     const struct kcr_cgroup_limits *lim, struct kcr_err *err)
{
    for (int c = 0; c < CG_NCTRL; c++) {
        if (!mgr->v1[c])
            continue;
        /* cpu and cpuacct are often co-mounted: one directory serves both. */
        char *path = xasprintf("%s/%s/%s", mgr->v1[c], mgr->parent, cg->name);
        bool dup = false;
        for (int j = 0; j < c; j++)
            dup |= cg->paths[j] && !strcmp(cg->paths[j], path);
        if (dup) {
            free(path);
            continue;
        }
        cg->paths[c] = path;
        if (cgroup_mkdir(path, err) < 0)
            return -1;
    }
    if (mgr->v2) {
        cg->paths[CG_UNIFIED] = xasprintf("%s/%s/%s", mgr->v2, mgr->parent, cg->name);
        if (cgroup_mkdir(cg->paths[CG_UNIFIED], err) < 0)
            return -1;
    }
    return v1_limits(cg, lim, err);
}

/* Waits (bounded) until freezer.state reads want. */
static bool freezer_wait(const char *dir, const char *want)
{
    char buf[64];
    for (int i = 0; i < 500; i++) {
        if (cgroup_read(dir, "freezer.state", buf, sizeof(buf)) < 0)
            return false;
        if (!strncmp(buf, want, strlen(want)))
            return true;
        cgroup_sleep_ms(1);
    }
    return false;
}

/* Without cgroup.kill: freeze so that nothing can fork between reading
 * cgroup.procs and signalling, SIGKILL everyone, thaw so the signals are
 * delivered; repeat until empty. Without a freezer, plain SIGKILL rounds
 * (a fork bomb then needs several passes, as the feasibility notes saw). */
static int v1_kill_rounds(const struct kcr_cgroup *cg, struct kcr_err *err)
{
    const char *freezer = cg->paths[CG_FREEZER];
    const char *procs = cg->paths[CG_PIDS] ? cg->paths[CG_PIDS] : freezer;
    for (int c = 0; !procs && c < CG_NCTRL; c++)
        procs = cg->paths[c];
    if (!procs)
        return 0;
    for (int round = 0; round < 400; round++) {
        /* Usually nobody is left (cgroup.kill came first, or the pod had
         * ended): then no freeze. Freezing the first cgroup system-wide and
         * thawing the last one each patch the kernel's code on every CPU
         * (a static key): ~1 % of all CPU at 4 clients of print(1). */
        if (cgroup_procs_count(procs) == 0 &&
            (!freezer || freezer == procs || cgroup_procs_count(freezer) == 0))
            return 0;
        if (freezer && cgroup_write(freezer, "freezer.state", "FROZEN", NULL) == 0)
            (void)freezer_wait(freezer, "FROZEN");
        long n = cgroup_procs_kill(freezer ? freezer : procs);
        if (freezer)
            (void)cgroup_write(freezer, "freezer.state", "THAWED", NULL);
        if (n < 0)
            return errno == ENOENT ? 0
                                   : kcr_err_set(err, errno, KCR_ERR_INTERNAL,
                                                 "cgroup: read '%s/cgroup.procs'", procs);
        if (n == 0 && cgroup_procs_count(procs) == 0)
            return 0;
        cgroup_sleep_ms(round < 10 ? 1 : 5);
    }
    return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "cgroup: '%s' not empty after kill rounds", procs);
}

static int v1_kill(const struct kcr_cgroup *cg, struct kcr_err *err)
{
    if (cg->paths[CG_UNIFIED]) {
        int r = cgroup_v2_kill_dir(cg->paths[CG_UNIFIED], err);
        if (r == 0)
            return v1_kill_rounds(cg, err); /* normally finds nobody: confirms */
        if (r != -ENOENT)
            return -1;
    }
    return v1_kill_rounds(cg, err);
}

const struct kcr_cgroup_ops cgroup_v1_ops = {
    .mode = KCR_CGROUP_V1,
    .setup = v1_setup,
    .create = v1_create,
    .kill = v1_kill,
};
