/* caps — dropping privileges for good: capabilities (all five sets) and ids.
 *
 * Used by kcr-nsexec between fork and exec, so every function here only makes
 * system calls (no allocation besides libcap's own) and reports -errno. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Empties the bounding set. Needs CAP_SETPCAP in the caller's user namespace
 * (root has it; caps_enter_own_userns gives it). Returns 0 or -errno. */
int caps_drop_bounding(void);

/* The same, keeping the nkeep capabilities in keep. Returns 0 or -errno. */
int caps_drop_bounding_except(const int *keep, size_t nkeep);

/* unshare(CLONE_NEWUSER), mapping only the caller's euid and egid to
 * themselves (setgroups denied, as the kernel requires for an unprivileged
 * gid map). Afterwards the caller holds every capability inside the new
 * namespace and none outside it. Fails with EPERM in a chroot
 * (unshare(2)) or where user namespaces are disabled. Returns 0 or -errno. */
int caps_enter_own_userns(void);

/* Drops everything, in the only order that works:
 *   0. without CAP_SETPCAP: caps_enter_own_userns (ids stay what they were);
 *   1. bounding set (needs CAP_SETPCAP, so before the uid change clears it);
 *   2. when running as uid 0: setgroups(0), setgid(gid), setuid(uid);
 *   3. inheritable, permitted and effective sets emptied with capset;
 *   4. ambient set cleared.
 * Sets *ret_step to a short name of the step that failed. Returns 0 or -errno. */
int caps_drop_all(uid_t uid, gid_t gid, const char **ret_step);

/* True if the calling thread has any capability in its permitted or effective
 * set (used by tests and by kcr-nsexec to decide whether ids must change). */
bool caps_have_any(void);
