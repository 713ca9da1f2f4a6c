/* caps — dropping privileges for good: capabilities (all five sets) and ids.
 *
 * Used by kcr-nsexec between fork and exec, so every function here only makes
 * system calls (no allocation besides libcap's own) and reports -errno. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Empties the bounding set. Needs CAP_SETPCAP (root has it; file-capability
 * installs of kcr-nsexec must grant it). Returns 0 or -errno. */
int caps_drop_bounding(void);

/* Drops everything, in the only order that works:
 *   1. bounding set (needs CAP_SETPCAP, so before the uid change clears it);
 *   2. when running as uid 0: setgroups(0), setgid(gid), setuid(uid);
 *   3. inheritable, permitted and effective sets emptied with capset;
 *   4. ambient set cleared.
 * Sets *ret_step to a short name of the step that failed. Returns 0 or -errno. */
int caps_drop_all(uid_t uid, gid_t gid, const char **ret_step);

/* True if the calling thread has any capability in its permitted or effective
 * set (used by tests and by kcr-nsexec to decide whether ids must change). */
bool caps_have_any(void);
