#include "sandbox/procmask.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

/* Kernel state: timers and their callers, keys, memory, hardware. */
static const char *const masked[] = {
    "acpi",       "asound",      "kcore",       "keys", "latency_stats",
    "timer_list", "timer_stats", "sched_debug", "scsi",
};

/* Kernel interfaces a write to would change the machine (root only, but
 * nothing in a sandbox needs them writable). */
static const char *const read_only[] = {"bus", "fs", "irq", "sys", "sysrq-trigger"};

#define FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static int mask_one(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY | FLAGS, "size=0")
                                : mount("/dev/null", path, NULL, MS_BIND, NULL);
    return r < 0 ? -errno : 0;
}

static int read_only_one(const char *path)
{
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | FLAGS, NULL) < 0)
        return -errno;
    return 0;
}

int procmask_apply(const char *proc, const char **ret_path)
{
    static char path[256];
    int r = 0;
    for (size_t i = 0; r == 0 && i < sizeof(masked) / sizeof(masked[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", proc, masked[i]);
        r = mask_one(path);
    }
    for (size_t i = 0; r == 0 && i < sizeof(read_only) / sizeof(read_only[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", proc, read_only[i]);
        r = read_only_one(path);
    }
    if (ret_path)
        *ret_path = r < 0 ? path : NULL;
    return r;
}
