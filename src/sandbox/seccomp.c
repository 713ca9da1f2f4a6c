#include "sandbox/seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static const char *const denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsmount",
    "fspick",
    "fsconfig",
    "mount_setattr",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "clock_settime",
    "settimeofday",
    "clock_adjtime",
    "adjtimex",
    "chroot",
    "lookup_dcookie",
    "name_to_handle_at",
    "open_by_handle_at",
    "fanotify_init",
    "vm86",
    "vm86old",
    "uselib",
    "syslog",
    "iopl",
    "ioperm",
};

static const unsigned long clone_ns_flags[] = {
    CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
};

const char *const *seccomp_policy_denied(size_t *ret_count)
{
    *ret_count = sizeof(denied) / sizeof(denied[0]);
    return denied;
}

/* A name unknown to this architecture (vm86 on x86_64) is skipped. */
static int deny_name(scmp_filter_ctx ctx, const char *name, int errnum)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR || nr < 0)
        return 0;
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(errnum), nr, 0);
}

static int add_rules(scmp_filter_ctx ctx)
{
    int r;
    for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
        if ((r = deny_name(ctx, denied[i], EPERM)) < 0)
            return r;
    if ((r = deny_name(ctx, "clone3", ENOSYS)) < 0)
        return r;
    /* One rule per flag: libseccomp allows a single comparison per argument
     * in a rule, and rules for the same call are OR-ed. */
    for (size_t i = 0; i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++) {
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]));
        if (r < 0)
            return r;
    }
    r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1,
                         SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    if (r < 0)
        return r;
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1,
                            SCMP_A0(SCMP_CMP_NE, AF_UNIX));
}

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/* personality(): allow exactly 0 and the 0xffffffff query. libseccomp cannot
 * express "arg != a && arg != b" in a default-allow filter (one comparison per
 * argument per rule), so this small classic BPF program is stacked on top; the
 * kernel applies the most restrictive verdict of all filters. The kernel reads
 * the argument as unsigned int, so only its low 32 bits are compared. */
static int load_personality_filter(void)
{
#ifdef NATIVE_AUDIT_ARCH
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* the main filter kills it */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fprog = {.len = sizeof(prog) / sizeof(prog[0]), .filter = prog};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
        return -errno;
#endif
    return 0;
}

/* The libseccomp part of the policy (the personality filter is separate). */
static scmp_filter_ctx policy_new(int *ret)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        *ret = -ENOMEM;
        return NULL;
    }
    int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    /* no_new_privs is set by the caller as its own, earlier step. */
    if (r == 0)
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    if (r == 0)
        r = add_rules(ctx);
#ifndef NATIVE_AUDIT_ARCH
    if (r == 0)
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                             SCMP_A0(SCMP_CMP_NE, 0));
#endif
    *ret = r;
    if (r < 0) {
        seccomp_release(ctx);
        return NULL;
    }
    return ctx;
}

int seccomp_apply_policy(void)
{
    int r;
    scmp_filter_ctx ctx = policy_new(&r);
    if (!ctx)
        return r;
    r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0)
        return r;
    return load_personality_filter();
}

int seccomp_policy_export_bpf(int fd)
{
    int r;
    scmp_filter_ctx ctx = policy_new(&r);
    if (!ctx)
        return r;
    r = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    return r;
}
