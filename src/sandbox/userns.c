/* userns — single-id maps for rootless pods (no newuidmap: it is not installed
 * here and would need setuid helpers, which kcr avoids). */
#include "sandbox/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"

static int write_proc(pid_t pid, const char *file, const char *value, struct kcr_err *err)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/%s", file);
    else
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "user namespace: open '%s'", path);
    int r = fs_write_all(fd, value, strlen(value));
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "user namespace: write '%s'", path);
    return 0;
}

int userns_map_single(pid_t pid, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid,
                      gid_t outside_gid, struct kcr_err *err)
{
    char map[64];
    if (write_proc(pid, "setgroups", "deny", err) < 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)inside_uid, (unsigned)outside_uid);
    if (write_proc(pid, "uid_map", map, err) < 0)
        return -1;
    snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)inside_gid, (unsigned)outside_gid);
    return write_proc(pid, "gid_map", map, err);
}
