/* seccomp — the system-call filter loaded last before user code runs.
 *
 * Default deny: a call not on the allowlist (seccomp.c, allowed[], measured
 * with scripts/seccomp-measure.py) answers ENOSYS, which libc and runtimes
 * treat as "not implemented here" and fall back from (clone3, faccessat2,
 * epoll_pwait2, landlock, ...), so a newer glibc or kernel still works.
 * The calls below answer EPERM (security.md item 14), allowlist or not:
 * kernel attack surface (ptrace, process_vm_*, bpf, perf_event_open, userfaultfd,
 * io_uring_*, keyctl/add_key/request_key, kexec_*, *_module), namespace and mount
 * changes (mount, umount2, pivot_root, open_tree, move_mount, fs*, mount_setattr,
 * unshare, setns, chroot), machine state (swapon/off, reboot, acct, quotactl,
 * clock_settime, settimeofday, clock_adjtime, adjtimex). Also:
 *   - socket()/socketpair() for any family but AF_UNIX: EPERM;
 *   - clone() with a CLONE_NEW* flag: EPERM; clone3(): ENOSYS, so libc falls
 *     back to clone(), whose flags a classic BPF filter can inspect;
 *   - personality() other than PER_LINUX (0) or the 0xffffffff query: EPERM;
 *   - every non-native architecture (i386 int 0x80, x32): the process is killed.
 * Needs no_new_privs (or CAP_SYS_ADMIN) set before. */
#pragma once

#include <stddef.h>

/* The main filter compiled to classic BPF (libseccomp's output, exactly what
 * seccomp_load would load). A process that starts many programs compiles it
 * once (the fork-server template): compiling allocates and frees a few
 * thousand small blocks, which in a fork child of a large heap writes to, and
 * so copies, pages all over it. */
#define KCR_SECCOMP_MAX_INSNS 4096 /* BPF_MAXINSNS */
struct kcr_seccomp_filter {
    unsigned len; /* instructions in insns */
    struct {
        unsigned short code;
        unsigned char jt, jf;
        unsigned k;
    } insns[KCR_SECCOMP_MAX_INSNS]; /* struct sock_filter */
};

/* Compiles the policy into *out. Allocates (libseccomp). Returns 0 or -errno. */
int seccomp_policy_compile(struct kcr_seccomp_filter *out);

/* Loads a compiled policy into the calling thread, plus the small stacked
 * personality() filter. Allocates nothing. Returns 0 or -errno. */
int seccomp_policy_load(const struct kcr_seccomp_filter *f);

/* Compiles and loads the policy. Allocates, so call it in a single-threaded
 * process. Returns 0 or -errno. */
int seccomp_apply_policy(void);

/* Writes the main filter as classic BPF (struct sock_filter array) to fd,
 * without loading it: tests evaluate it for inputs the kernel may never
 * produce (foreign architectures on a kernel without their emulation).
 * Returns 0 or -errno. */
int seccomp_policy_export_bpf(int fd);

/* The names of the calls refused outright with EPERM (for docs and tests). Borrowed. */
const char *const *seccomp_policy_denied(size_t *ret_count);

/* The names of the calls allowed without argument checks (for docs and
 * tests); clone, socket, socketpair and personality are allowed by
 * argument-checked rules and are not listed. Borrowed. */
const char *const *seccomp_policy_allowed(size_t *ret_count);
