#include "sandbox/cgroup-self.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The memory cgroup path of this process: the v1 line naming the "memory"
 * controller, else the v2 line ("0::/path"). *ret_v2 tells which. */
static char *self_cgroup_path(bool *ret_v2)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return NULL;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    char *v2 = NULL;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1;
        if (*ctrls == '\0' && !v2) {
            v2 = xstrdup(c2 + 1);
            continue;
        }
        _cleanup_free_ char *copy = xstrdup(ctrls);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "memory")) {
                free(v2);
                *ret_v2 = false;
                return xstrdup(c2 + 1);
            }
        }
    }
    *ret_v2 = true;
    return v2;
}

/* Finds the mount of the hierarchy (v1 with the memory option, or cgroup2) and
 * maps cgpath to a directory: mountpoint + (cgpath without the mount's root). */
static char *mount_dir_for(const char *cgpath, bool v2)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return NULL;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = '\0';
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char root[4096], mnt[4096];
        if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
            continue;
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        char fstype[64], source[256], opts[1024] = "";
        if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, opts) < 2)
            continue;
        bool match = false;
        if (v2) {
            match = !strcmp(fstype, "cgroup2");
        } else if (!strcmp(fstype, "cgroup")) {
            char *save = NULL;
            for (char *t = strtok_r(opts, ",", &save); t; t = strtok_r(NULL, ",", &save))
                match = match || !strcmp(t, "memory");
        }
        if (!match)
            continue;
        size_t rl = strlen(root);
        const char *rest = cgpath;
        if (strcmp(root, "/") != 0) {
            if (strncmp(cgpath, root, rl) != 0 || (cgpath[rl] != '/' && cgpath[rl] != '\0'))
                continue;
            rest = cgpath + rl;
        }
        return xasprintf("%s%s", mnt, rest);
    }
    return NULL;
}

char *cgroup_self_memory_dir(struct kcr_err *err)
{
    bool v2 = false;
    _cleanup_free_ char *cg = self_cgroup_path(&v2);
    if (!cg)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no memory cgroup in /proc/self/cgroup"),
               NULL;
    char *dir = mount_dir_for(cg, v2);
    if (!dir)
        kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "cgroup '%s' is not mounted here", cg);
    return dir;
}

/* The value of the line "oom_kill N" in buf (not "oom_kill_disable"). */
static int parse_oom_kill(const char *buf, uint64_t *ret)
{
    const char *line = buf;
    while (line && *line) {
        if (!strncmp(line, "oom_kill ", 9)) {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(line + 9, &end, 10);
            if (errno || end == line + 9)
                return -1;
            *ret = v;
            return 0;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

int cgroup_self_oom_read(int fd, uint64_t *ret, struct kcr_err *err)
{
    char buf[1024]; /* both files are well under 200 bytes */
    ssize_t n;
    do
        n = pread(fd, buf, sizeof(buf) - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "read the oom_kill counter");
    buf[n] = '\0';
    if (parse_oom_kill(buf, ret) < 0)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "no oom_kill line in the memory cgroup");
    return 0;
}

int cgroup_self_oom_open(struct kcr_err *err)
{
    _cleanup_free_ char *dir = cgroup_self_memory_dir(err);
    if (!dir)
        return -1;
    const char *files[] = {"memory.oom_control", "memory.events"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, files[i]);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        uint64_t v;
        struct kcr_err ignored;
        if (fd >= 0 && cgroup_self_oom_read(fd, &v, &ignored) == 0)
            return TAKE_FD(fd);
    }
    return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "no oom_kill counter in '%s'", dir);
}
