/* cgroup-self — the OOM-kill counter of the calling process's own memory cgroup.
 *
 * The sidecar reads it before and after an execution: user code runs in the
 * sidecar's cgroup (setns does not move it), so an increase means the kernel's
 * memory-cgroup OOM killer acted during the run. Works with cgroup v1
 * (memory.oom_control "oom_kill N") and v2 (memory.events "oom_kill N"); the
 * cgroup path comes from /proc/self/cgroup, the mount from /proc/self/mountinfo. */
#pragma once

#include <stdint.h>

#include "common/err.h"

/* Fills *ret with the oom_kill count. Fails (KCR_ERR_NOT_FOUND) when no memory
 * cgroup is visible or the kernel does not report the counter. */
int cgroup_self_oom_kills(uint64_t *ret, struct kcr_err *err);

/* The directory of the caller's memory cgroup (new string), or NULL with err set. */
char *cgroup_self_memory_dir(struct kcr_err *err);
