/* cgroup — front end: hierarchy detection from mountinfo, the backend choice,
 * file helpers shared by cgroup-v1.c and cgroup-v2.c, and garbage collection. */
#include "sandbox/cgroup.h"
#include "sandbox/cgroup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"

static const char *const ctrl_names[CG_NCTRL] = {
    [CG_MEMORY] = "memory",
    [CG_PIDS] = "pids",
    [CG_CPU] = "cpu",
    [CG_FREEZER] = "freezer",
};

/*** File helpers ***/

void cgroup_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cgroup_write(const char *dir, const char *file, const char *value, struct kcr_err *err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", path);
    size_t len = strlen(value);
    ssize_t n;
    do
        n = write(fd, value, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: write '%s' to '%s'", value,
                           path);
    return 0;
}

ssize_t cgroup_read(const char *dir, const char *file, char *buf, size_t size)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    return fs_read_file_at(AT_FDCWD, path, buf, size);
}

int cgroup_mkdir(const char *path, struct kcr_err *err)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: mkdir '%s'", path);
    return 0;
}

int cgroup_rmdir(const char *path, struct kcr_err *err)
{
    /* The last task's exit and the css going offline are asynchronous: rmdir
     * can see EBUSY for a moment after the cgroup became empty. */
    for (int i = 0; i < 200; i++) {
        if (rmdir(path) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            break;
        cgroup_sleep_ms(5);
    }
    return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "cgroup: rmdir '%s'", path);
}

/* Calls fn for each pid in dir/cgroup.procs; returns the count or -1. */
static long procs_each(const char *dir, bool kill_them)
{
    _cleanup_free_ char *path = xasprintf("%s/cgroup.procs", dir);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long n = 0, pid;
    while (fscanf(f, "%ld", &pid) == 1) {
        if (kill_them && pid > 0)
            (void)kill((pid_t)pid, SIGKILL);
        n++;
    }
    return n;
}

long cgroup_procs_count(const char *dir)
{
    return procs_each(dir, false);
}

long cgroup_procs_kill(const char *dir)
{
    return procs_each(dir, true);
}

int cgroup_v2_kill_dir(const char *dir, struct kcr_err *err)
{
    _cleanup_free_ char *kill_path = xasprintf("%s/cgroup.kill", dir);
    if (access(kill_path, F_OK) < 0)
        return -ENOENT;
    _cleanup_free_ char *events = xasprintf("%s/cgroup.events", dir);
    _cleanup_close_ int fd = open(events, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", events);
    if (cgroup_write(dir, "cgroup.kill", "1", err) < 0)
        return -1;
    /* cgroup.kill is asynchronous: tasks die when they next return to user
     * space. "populated 0" in cgroup.events says the last one is gone, and a
     * change of that file wakes poll() with POLLPRI: no sleeping in steps. */
    int64_t start = time_mono_ms();
    for (;;) {
        char buf[512];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n >= 0) {
            buf[n] = '\0';
            if (strstr(buf, "populated 0"))
                return 0;
        }
        long left = 2000 - (long)(time_mono_ms() - start);
        if (left <= 0)
            break;
        struct pollfd p = {.fd = fd, .events = POLLPRI};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && !(p.revents & POLLPRI))
            cgroup_sleep_ms(1); /* not kernfs (a test's plain file): poll says nothing */
    }
    return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "cgroup: '%s' still populated after kill", dir);
}

/*** Detection ***/

/* Decodes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static bool has_option(const char *opts, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = opts; p && *p;) {
        if (!strncmp(p, name, len) && (p[len] == ',' || p[len] == '\0'))
            return true;
        p = strchr(p, ',');
        if (p)
            p++;
    }
    return false;
}

/* One mountinfo line: records cgroup (v1) controller and cgroup2 mount points.
 * Format (proc(5)): id parent maj:min root mountpoint opts [optional...] - fstype source superopts
 */
static void parse_mount_line(char *line, struct kcr_cgroup_mgr *mgr)
{
    char *save = NULL, *fields[5] = {0};
    char *tok = strtok_r(line, " \n", &save);
    for (int i = 0; tok && i < 5; i++, tok = strtok_r(NULL, " \n", &save))
        fields[i] = tok;
    while (tok && strcmp(tok, "-") != 0)
        tok = strtok_r(NULL, " \n", &save);
    if (!tok || !fields[4])
        return;
    char *fstype = strtok_r(NULL, " \n", &save);
    (void)strtok_r(NULL, " \n", &save); /* source */
    char *superopts = strtok_r(NULL, " \n", &save);
    if (!fstype || !superopts)
        return;
    unescape(fields[4]);
    if (!strcmp(fstype, "cgroup2") && !mgr->v2) {
        mgr->v2 = xstrdup(fields[4]);
        return;
    }
    if (strcmp(fstype, "cgroup") != 0)
        return;
    for (int c = 0; c < CG_NCTRL; c++)
        if (!mgr->v1[c] && has_option(superopts, ctrl_names[c]))
            mgr->v1[c] = xstrdup(fields[4]);
}

static int parse_mountinfo(const char *path, struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", path);
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0)
        parse_mount_line(line, mgr);
    return 0;
}

/* v2 is usable when its root lists the memory and pids controllers. */
static bool v2_usable(struct kcr_cgroup_mgr *mgr)
{
    char buf[1024];
    if (!mgr->v2 || cgroup_read(mgr->v2, "cgroup.controllers", buf, sizeof(buf)) < 0)
        return false;
    char padded[1100];
    snprintf(padded, sizeof(padded), " %s ", buf);
    for (char *p = padded; *p; p++)
        if (*p == '\n')
            *p = ' ';
    mgr->v2_has_cpu = strstr(padded, " cpu ") != NULL;
    return strstr(padded, " memory ") && strstr(padded, " pids ");
}

struct kcr_cgroup_mgr *cgroup_mgr_new(const char *mountinfo_path, const char *parent,
                                      struct kcr_err *err)
{
    if (!names_is_safe(parent)) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "cgroup: parent name '%s' is not a safe name", parent);
        return NULL;
    }
    struct kcr_cgroup_mgr *mgr = xcalloc(1, sizeof(*mgr));
    mgr->parent = xstrdup(parent);
    if (parse_mountinfo(mountinfo_path ? mountinfo_path : "/proc/self/mountinfo", mgr, err) < 0)
        return cgroup_mgr_free(mgr);
    if (mgr->v1[CG_MEMORY] && mgr->v1[CG_PIDS]) {
        mgr->ops = &cgroup_v1_ops;
    } else if (v2_usable(mgr)) {
        mgr->ops = &cgroup_v2_ops;
    } else {
        kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                    "cgroup unavailable: need cgroup v1 memory and pids controllers or a "
                    "cgroup2 hierarchy offering memory and pids (v1 memory %s, v1 pids %s, "
                    "cgroup2 %s)",
                    mgr->v1[CG_MEMORY] ? "mounted" : "missing",
                    mgr->v1[CG_PIDS] ? "mounted" : "missing", mgr->v2 ? mgr->v2 : "missing");
        return cgroup_mgr_free(mgr);
    }
    return mgr;
}

struct kcr_cgroup_mgr *cgroup_mgr_new_disabled(void)
{
    struct kcr_cgroup_mgr *mgr = xcalloc(1, sizeof(*mgr));
    mgr->parent = xstrdup("kcr");
    return mgr;
}

struct kcr_cgroup_mgr *cgroup_mgr_free(struct kcr_cgroup_mgr *mgr)
{
    if (!mgr)
        return NULL;
    for (int c = 0; c < CG_NCTRL; c++)
        free(mgr->v1[c]);
    free(mgr->v2);
    free(mgr->parent);
    free(mgr);
    return NULL;
}

enum kcr_cgroup_mode cgroup_mgr_mode(const struct kcr_cgroup_mgr *mgr)
{
    return mgr->ops ? mgr->ops->mode : KCR_CGROUP_DISABLED;
}

const char *cgroup_mode_name(enum kcr_cgroup_mode mode)
{
    switch (mode) {
    case KCR_CGROUP_DISABLED:
        return "disabled";
    case KCR_CGROUP_V1:
        return "v1";
    case KCR_CGROUP_V2:
        return "v2";
    }
    return "unknown";
}

/*** A cgroup namespace's own view ***/

/* Replaces the mount at mp with a fresh read-only instance of fstype. A fresh
 * mount in a cgroup namespace is rooted at the namespace's root; mount(2)
 * refuses a superblock on top of its own root (EBUSY, do_add_mount), so the
 * inherited view is detached first. */
static int remount_fresh(const char *mp, const char *fstype, const char *data, struct kcr_err *err)
{
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (umount2(mp, MNT_DETACH) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: detach '%s'", mp);
    if (mount(fstype, mp, fstype, flags, data) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: mount %s at '%s'", fstype, mp);
    /* Read-only per mount: the superblock stays writable for the host. */
    if (mount(NULL, mp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: make '%s' read-only", mp);
    return 0;
}

int cgroup_mgr_mount_ns_view(const struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    if (!mgr->ops)
        return 0;
    if (mgr->v1[CG_MEMORY] && remount_fresh(mgr->v1[CG_MEMORY], "cgroup", "memory", err) < 0)
        return -1;
    if (mgr->v2 && remount_fresh(mgr->v2, "cgroup2", NULL, err) < 0)
        return -1;
    return 0;
}

/*** Pod cgroups ***/

int cgroup_mgr_setup(struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    if (!mgr->ops || mgr->is_setup)
        return 0;
    if (mgr->ops->setup(mgr, err) < 0)
        return -1;
    mgr->is_setup = true;
    return 0;
}

static void cgroup_free_struct(struct kcr_cgroup *cg)
{
    for (int i = 0; i <= CG_NCTRL; i++)
        free(cg->paths[i]);
    free(cg);
}

static void remove_dirs(const struct kcr_cgroup *cg, struct kcr_err *err)
{
    struct kcr_err tmp = {0};
    for (int i = 0; i <= CG_NCTRL; i++)
        if (cg->paths[i] && cgroup_rmdir(cg->paths[i], &tmp) < 0 && err &&
            err->kind == KCR_ERR_NONE)
            *err = tmp;
}

struct kcr_cgroup *cgroup_create(struct kcr_cgroup_mgr *mgr, const char *name,
                                 const struct kcr_cgroup_limits *limits, struct kcr_err *err)
{
    if (!names_is_safe(name) || strlen(name) >= sizeof(((struct kcr_cgroup *)0)->name)) {
        kcr_err_set(err, 0, KCR_ERR_INVALID, "cgroup: name '%s' is not a safe name", name);
        return NULL;
    }
    struct kcr_cgroup *cg = xcalloc(1, sizeof(*cg));
    cg->mgr = mgr;
    snprintf(cg->name, sizeof(cg->name), "%s", name);
    if (!mgr->ops)
        return cg;
    if (cgroup_mgr_setup(mgr, err) < 0 || mgr->ops->create(mgr, cg, limits, err) < 0) {
        remove_dirs(cg, NULL);
        cgroup_free_struct(cg);
        return NULL;
    }
    size_t n = 0;
    for (int i = 0; i <= CG_NCTRL; i++)
        if (cg->paths[i])
            cg->list[n++] = cg->paths[i];
    return cg;
}

int cgroup_attach(const struct kcr_cgroup *cg, pid_t pid, struct kcr_err *err)
{
    char value[32];
    snprintf(value, sizeof(value), "%d", (int)pid);
    for (int i = 0; i <= CG_NCTRL; i++)
        if (cg->paths[i] && cgroup_write(cg->paths[i], "cgroup.procs", value, err) < 0)
            return -1;
    return 0;
}

_Static_assert(KCR_CGROUP_MAX_TASKS >= CG_NCTRL, "one tasks file per v1 hierarchy");

static void join_reset(struct kcr_cgroup_join *j)
{
    j->dir_fd = -1;
    for (size_t i = 0; i < ARRAY_SIZE(j->tasks_fd); i++)
        j->tasks_fd[i] = -1;
}

int cgroup_join_open(const struct kcr_cgroup *cg, struct kcr_cgroup_join *j, struct kcr_err *err)
{
    join_reset(j);
    size_t n = 0;
    for (int i = 0; i < CG_NCTRL; i++) {
        if (!cg->paths[i])
            continue;
        _cleanup_free_ char *path = xasprintf("%s/tasks", cg->paths[i]);
        j->tasks_fd[n] = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (j->tasks_fd[n++] < 0) {
            kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", path);
            cgroup_join_close(j);
            return -1;
        }
    }
    const char *dir = cg->paths[CG_UNIFIED];
    if (dir && (j->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", dir);
        cgroup_join_close(j);
        return -1;
    }
    return 0;
}

int cgroup_join_finish(const struct kcr_cgroup *cg, const struct kcr_cgroup_join *j, pid_t pid,
                       bool in_dir, struct kcr_err *err)
{
    if (j->dir_fd < 0 || in_dir)
        return 0;
    char value[32];
    snprintf(value, sizeof(value), "%d", (int)pid);
    return cgroup_write(cg->paths[CG_UNIFIED], "cgroup.procs", value, err);
}

int cgroup_join_self(struct kcr_cgroup_join *j, struct kcr_err *err)
{
    for (size_t i = 0; j->tasks_fd[i] >= 0; i++) {
        ssize_t n;
        do
            n = write(j->tasks_fd[i], "0", 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE,
                               "cgroup: move into the pod's v1 cgroups (tasks)");
    }
    cgroup_join_close(j);
    return 0;
}

void cgroup_join_close(struct kcr_cgroup_join *j)
{
    (void)safe_close(j->dir_fd);
    for (size_t i = 0; i < ARRAY_SIZE(j->tasks_fd); i++)
        (void)safe_close(j->tasks_fd[i]);
    join_reset(j);
}

static int parent_fd_add(const char *mount, const char *parent, bool is_v1, int *fds, bool *v1,
                         size_t *n, size_t max, struct kcr_err *err)
{
    if (*n >= max)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "cgroup: more than %zu hierarchies", max);
    _cleanup_free_ char *dir = xasprintf("%s/%s", mount, parent);
    fds[*n] = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fds[*n] < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "cgroup: open '%s'", dir);
    v1[(*n)++] = is_v1;
    return 0;
}

int cgroup_mgr_parent_fds(const struct kcr_cgroup_mgr *mgr, int *fds, bool *v1, size_t max,
                          struct kcr_err *err)
{
    size_t n = 0;
    if (!mgr->ops)
        return 0;
    for (int c = 0; c < CG_NCTRL; c++) {
        bool dup = false;
        for (int k = 0; k < c; k++)
            dup |= mgr->v1[k] && mgr->v1[c] && !strcmp(mgr->v1[k], mgr->v1[c]);
        if (mgr->v1[c] && !dup &&
            parent_fd_add(mgr->v1[c], mgr->parent, true, fds, v1, &n, max, err) < 0)
            goto fail;
    }
    if (mgr->v2 && parent_fd_add(mgr->v2, mgr->parent, false, fds, v1, &n, max, err) < 0)
        goto fail;
    return (int)n;
fail:
    while (n > 0)
        (void)safe_close(fds[--n]);
    return -1;
}

int cgroup_kill(const struct kcr_cgroup *cg, struct kcr_err *err)
{
    if (!cg->mgr->ops)
        return 0;
    return cg->mgr->ops->kill(cg, err);
}

int cgroup_destroy(struct kcr_cgroup *cg, struct kcr_err *err)
{
    if (!cg)
        return 0;
    int r = cgroup_kill(cg, err);
    struct kcr_err rm = {0};
    remove_dirs(cg, &rm);
    if (r == 0 && rm.kind != KCR_ERR_NONE) {
        if (err)
            *err = rm;
        r = -1;
    }
    cgroup_free_struct(cg);
    return r;
}

size_t cgroup_paths(const struct kcr_cgroup *cg, const char *const **ret_paths)
{
    size_t n = 0;
    while (n <= CG_NCTRL && cg->list[n])
        n++;
    *ret_paths = cg->list;
    return n;
}

long cgroup_count_procs(const struct kcr_cgroup *cg)
{
    const char *dir = cg->paths[CG_PIDS] ? cg->paths[CG_PIDS] : cg->paths[CG_UNIFIED];
    return dir ? cgroup_procs_count(dir) : 0;
}

/*** Garbage collection ***/

/* The hierarchy roots whose <parent>/ directories hold pod cgroups. */
static size_t gc_bases(const struct kcr_cgroup_mgr *mgr, const char **bases)
{
    size_t n = 0;
    for (int c = 0; c < CG_NCTRL; c++) {
        bool dup = false;
        for (size_t j = 0; mgr->v1[c] && j < n; j++)
            dup |= !strcmp(bases[j], mgr->v1[c]);
        if (mgr->v1[c] && !dup && (mgr->ops == &cgroup_v1_ops))
            bases[n++] = mgr->v1[c];
    }
    if (mgr->v2)
        bases[n++] = mgr->v2;
    return n;
}

int cgroup_mgr_gc(struct kcr_cgroup_mgr *mgr, struct kcr_err *err)
{
    return cgroup_mgr_gc_named(mgr, NULL, err);
}

int cgroup_mgr_gc_named(struct kcr_cgroup_mgr *mgr, const char *only, struct kcr_err *err)
{
    if (!mgr->ops)
        return 0;
    const char *bases[CG_NCTRL + 1];
    size_t nbases = gc_bases(mgr, bases);
    int removed = 0;
    for (size_t b = 0; b < nbases; b++) {
        _cleanup_free_ char *dir = xasprintf("%s/%s", bases[b], mgr->parent);
        _cleanup_dir_ DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_type != DT_DIR || de->d_name[0] == '.' || (only && strcmp(de->d_name, only)))
                continue;
            struct kcr_cgroup *cg = xcalloc(1, sizeof(*cg));
            cg->mgr = mgr;
            snprintf(cg->name, sizeof(cg->name), "%s", de->d_name);
            /* One hierarchy at a time: a leftover may exist in some only. */
            int slot = bases[b] == mgr->v2 ? CG_UNIFIED : CG_PIDS;
            cg->paths[slot] = xasprintf("%s/%s", dir, de->d_name);
            if (slot == CG_PIDS &&
                !strcmp(bases[b], mgr->v1[CG_FREEZER] ? mgr->v1[CG_FREEZER] : ""))
                cg->paths[CG_FREEZER] = xstrdup(cg->paths[CG_PIDS]);
            struct kcr_err e = {0};
            if (cgroup_destroy(cg, &e) < 0) {
                if (err && err->kind == KCR_ERR_NONE)
                    *err = e;
            } else {
                removed++;
            }
        }
    }
    return (err && err->kind != KCR_ERR_NONE) ? -1 : removed;
}
