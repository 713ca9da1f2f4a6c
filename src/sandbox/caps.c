#include "sandbox/caps.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_drop_bounding_except(const int *keep, size_t nkeep)
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
        bool kept = false;
        for (size_t i = 0; i < nkeep; i++)
            kept |= (unsigned long)keep[i] == cap;
        if (r == 1 && !kept && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return -errno;
    }
    return 0;
}

int caps_drop_bounding(void)
{
    return caps_drop_bounding_except(NULL, 0);
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

static bool have_effective(int cap)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    return (data[cap / 32].effective >> (cap % 32)) & 1;
}

static int write_self(const char *file, const char *value, size_t len)
{
    int fd = open(file, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n;
    do
        n = write(fd, value, len);
    while (n < 0 && errno == EINTR);
    int e = n < 0 ? errno : 0;
    close(fd);
    return n == (ssize_t)len ? 0 : -(e ? e : EIO);
}

/* Formats "<id> <id> 1\n" without stdio (this runs between fork and exec). */
static size_t format_map(unsigned id, char *buf)
{
    char digits[12];
    size_t n = 0, len = 0;
    do
        digits[n++] = (char)('0' + id % 10);
    while ((id /= 10) && n < sizeof(digits));
    for (int copy = 0; copy < 2; copy++) {
        for (size_t i = n; i > 0; i--)
            buf[len++] = digits[i - 1];
        buf[len++] = ' ';
    }
    buf[len++] = '1';
    buf[len++] = '\n';
    return len;
}

int caps_enter_own_userns(void)
{
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER) < 0)
        return -errno;
    /* A non-dumpable process's /proc/self files belong to root, which is not
     * mapped here: not even our full capability set may write them. Dumpable
     * for three writes exposes nothing (unshare has just ended every
     * privilege we held outside the new namespace), and the old state comes
     * back: kcr-nsexec's pid-ns init stays non-dumpable. */
    int was_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return -errno;
    char map[32];
    int r;
    if ((r = write_self("/proc/self/setgroups", "deny", 4)) < 0 ||
        (r = write_self("/proc/self/uid_map", map, format_map((unsigned)uid, map))) < 0 ||
        (r = write_self("/proc/self/gid_map", map, format_map((unsigned)gid, map))) < 0)
        return r;
    if (was_dumpable >= 0 && prctl(PR_SET_DUMPABLE, was_dumpable, 0, 0, 0) < 0)
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
    /* The bounding set is emptied with CAP_SETPCAP, which root has but the
     * guide's sidecar capabilities (SYS_ADMIN, SYS_CHROOT, SYS_PTRACE) do
     * not. The kernel checks it in the caller's own user namespace
     * (cap_prctl_drop), where a process that just created one holds it. */
    if (!have_effective(CAP_SETPCAP)) {
        *ret_step = "userns";
        if ((r = caps_enter_own_userns()) < 0)
            return r;
    }
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
