#include "sidecar/procscan.h"
#include "common/cleanup.h"
#include "common/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int procscan_stat(pid_t pid, pid_t *ret_ppid, uint64_t *ret_start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    ssize_t n = fs_read_file_at(AT_FDCWD, path, buf, sizeof(buf));
    if (n < 0)
        return (int)n;
    /* comm (field 2) may hold spaces and ')': fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    p++;
    /* p now points at " S ppid ..." : field 3 is the state. */
    char *save = NULL;
    int field = 3;
    pid_t ppid = -1;
    for (char *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save), field++) {
        if (field == 4)
            ppid = (pid_t)strtol(t, NULL, 10);
        if (field == 22) {
            if (ret_ppid)
                *ret_ppid = ppid;
            if (ret_start)
                *ret_start = strtoull(t, NULL, 10);
            return 0;
        }
    }
    return -EINVAL;
}

bool procscan_cmdline_matches(pid_t pid, const char *name)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    /* Kernel threads have an empty cmdline; argv[0] ends at the first NUL. */
    if (fs_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
        return false;
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    return strcmp(base, name) == 0;
}

/* Walks the ppid chain (bounded) to see whether pid descends from self. */
static bool descends_from(pid_t pid, pid_t self)
{
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        pid_t ppid = -1;
        if (procscan_stat(pid, &ppid, NULL) < 0)
            return false;
        if (ppid == self)
            return true;
        pid = ppid;
    }
    return false;
}

int procscan_find(const char *name, pid_t self, struct procscan_target *ret, struct kcr_err *err)
{
    _cleanup_dir_ DIR *d = opendir("/proc");
    if (!d)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "opendir '/proc'");
    struct procscan_target best = {0, UINT64_MAX};
    struct dirent *de;
    while ((de = readdir(d))) {
        char *end = NULL;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 1 || pid == self)
            continue;
        if (!procscan_cmdline_matches((pid_t)pid, name))
            continue;
        uint64_t start = 0;
        if (procscan_stat((pid_t)pid, NULL, &start) < 0)
            continue;
        if (descends_from((pid_t)pid, self))
            continue;
        /* The main container started before any user code: prefer the oldest. */
        if (start < best.start_time) {
            best.pid = (pid_t)pid;
            best.start_time = start;
        }
    }
    if (best.pid == 0)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "main container not found");
    *ret = best;
    return 0;
}

bool procscan_still_valid(const struct procscan_target *t, const char *name)
{
    uint64_t start = 0;
    if (t->pid <= 1 || procscan_stat(t->pid, NULL, &start) < 0 || start != t->start_time)
        return false;
    return procscan_cmdline_matches(t->pid, name);
}
