#include "sandbox/caps.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_drop_bounding(void)
{
    /* PR_CAPBSET_READ answers EINVAL past the kernel's last capability, so the
     * loop adapts to kernels newer than our headers. */
    for (unsigned long cap = 0; cap < 64; cap++) {
        int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (r < 0) {
            if (errno == EINVAL)
                break;
            return -errno;
        }
        if (r == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return -errno;
    }
    return 0;
}

/* capset(2) directly: libcap would allocate, and this runs after fork in a
 * process that must stay async-signal-safe. */
static int caps_clear_sets(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capset, &hdr, data) < 0)
        return -errno;
    return 0;
}

bool caps_have_any(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capget, &hdr, data) < 0)
        return true; /* cannot tell: assume privileged, the caller drops anyway */
    return data[0].permitted || data[1].permitted || data[0].effective || data[1].effective;
}

int caps_drop_all(uid_t uid, gid_t gid, const char **ret_step)
{
    int r;
    *ret_step = "capbset";
    if ((r = caps_drop_bounding()) < 0)
        return r;
    /* Only root changes ids: a file-capability kcr-nsexec already runs as the
     * unprivileged user and has no CAP_SETUID. */
    if (getuid() == 0 || geteuid() == 0) {
        *ret_step = "setgroups";
        if (setgroups(0, NULL) < 0)
            return -errno;
        *ret_step = "setgid";
        if (setresgid(gid, gid, gid) < 0)
            return -errno;
        *ret_step = "setuid";
        if (setresuid(uid, uid, uid) < 0)
            return -errno;
    }
    *ret_step = "capset";
    if ((r = caps_clear_sets()) < 0)
        return r;
    *ret_step = "ambient";
    /* EINVAL: kernel without ambient capabilities (< 4.3): nothing to clear. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;
    *ret_step = NULL;
    return 0;
}
