/* caps_drop_all in a forked child: ids, all five capability sets, with and
 * without CAP_SETPCAP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fakes/child.h"
#include "sandbox/caps.h"

static int bounding_is_empty(void)
{
    for (unsigned long c = 0; c < 64; c++) {
        int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0)
            return 1;
        if (r == 1)
            return 0;
    }
    return 1;
}

static int drop_everything(void)
{
    const char *step = NULL;
    if (caps_drop_all(65532, 65532, &step) < 0)
        return 10;
    if (getuid() != 65532 || geteuid() != 65532 || getgid() != 65532 || getegid() != 65532)
        return 11;
    if (getgroups(0, NULL) != 0)
        return 12;
    if (caps_have_any())
        return 13;
    if (!bounding_is_empty())
        return 14;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 0, 0, 0) > 0)
        return 15;
    /* and it cannot come back */
    if (setuid(0) == 0)
        return 16;
    return 0;
}

static void test_drop_all(void **state)
{
    (void)state;
    child_run_as_root(drop_everything, 0);
}

static int unprivileged_cannot_drop_bounding(void)
{
    const char *step = NULL;
    if (caps_drop_all(65532, 65532, &step) < 0)
        return 10;
    /* now without CAP_SETPCAP: dropping again still works (nothing left) */
    return caps_drop_bounding() == 0 ? 0 : 20;
}

static void test_drop_is_idempotent(void **state)
{
    (void)state;
    child_run_as_root(unprivileged_cannot_drop_bounding, 0);
}

/* The Kubernetes sidecar's shape: uid 65532 holding only the guide's three
 * capabilities, so no CAP_SETPCAP for the bounding set. */
static int become_guide_sidecar(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    uint32_t three = (1u << CAP_SYS_ADMIN) | (1u << CAP_SYS_CHROOT) | (1u << CAP_SYS_PTRACE);
    data[0].permitted = data[0].effective = three;
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
        setresgid(65532, 65532, 65532) < 0 || setresuid(65532, 65532, 65532) < 0 ||
        syscall(SYS_capset, &hdr, data) < 0)
        return -1;
    return 0;
}

static int drop_without_setpcap(void)
{
    if (become_guide_sidecar() < 0)
        return 9;
    if (bounding_is_empty() || caps_drop_bounding() != -EPERM)
        return 10; /* the problem this path solves */
    const char *step = NULL;
    if (caps_drop_all(65532, 65532, &step) < 0)
        return 11;
    if (!bounding_is_empty() || caps_have_any())
        return 12;
    if (getuid() != 65532 || getgid() != 65532)
        return 13;
    char map[64] = "";
    FILE *f = fopen("/proc/self/uid_map", "re");
    if (!f || !fgets(map, sizeof(map), f))
        return 14;
    fclose(f);
    unsigned in = 0, out = 0, count = 0;
    if (sscanf(map, "%u %u %u", &in, &out, &count) != 3 || in != 65532 || out != 65532 ||
        count != 1)
        return 15;
    /* the uid change made us non-dumpable; writing the maps must not undo it */
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        return 16;
    return 0;
}

static void test_drop_without_setpcap_uses_own_userns(void **state)
{
    (void)state;
    child_run_as_root(drop_without_setpcap, 0);
}

/* unshare(CLONE_NEWUSER) refuses a chrooted caller: the drop fails, naming
 * the step, rather than running user code with a bounding set. */
static int drop_without_setpcap_in_chroot(void)
{
    char dir[] = "/tmp/kcr-caps-XXXXXX";
    if (!mkdtemp(dir) || chroot(dir) < 0 || chdir("/") < 0)
        return 9;
    (void)rmdir(dir); /* gone from the host; we stay inside it */
    if (become_guide_sidecar() < 0)
        return 10;
    const char *step = NULL;
    int r = caps_drop_all(65532, 65532, &step);
    if (r != -EPERM || !step || strcmp(step, "userns") != 0)
        return 11;
    return 0;
}

static void test_drop_without_setpcap_in_chroot_fails(void **state)
{
    (void)state;
    child_run_as_root(drop_without_setpcap_in_chroot, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drop_all),
        cmocka_unit_test(test_drop_is_idempotent),
        cmocka_unit_test(test_drop_without_setpcap_uses_own_userns),
        cmocka_unit_test(test_drop_without_setpcap_in_chroot_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
