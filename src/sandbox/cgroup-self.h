/* cgroup-self — the OOM-kill counter of the calling process's own memory cgroup.
 *
 * The sidecar watches it while an execution runs: user code runs in the
 * sidecar's cgroup (setns does not move it), so an increase means the kernel's
 * memory-cgroup OOM killer acted during the run. Works with cgroup v1
 * (memory.oom_control "oom_kill N") and v2 (memory.events "oom_kill N"); the
 * cgroup path comes from /proc/self/cgroup, the mount from /proc/self/mountinfo.
 * Inside a cgroup namespace this needs a cgroup mount made inside it (what a
 * container runtime provides; cgroup_mgr_mount_ns_view for local pods). */
#pragma once

#include <stdint.h>

#include "common/err.h"

/* Opens the file holding the oom_kill counter (O_CLOEXEC; the caller closes
 * it). Fails (KCR_ERR_NOT_FOUND) when no memory cgroup is visible or the
 * kernel does not report the counter. */
int cgroup_self_oom_open(struct kcr_err *err);

/* Reads the counter through an fd from cgroup_self_oom_open: cgroupfs
 * regenerates the file on every read from offset 0, so one open serves many
 * reads. Fails (KCR_ERR_INTERNAL) when the read fails or the key is gone. */
int cgroup_self_oom_read(int fd, uint64_t *ret, struct kcr_err *err);

/* The directory of the caller's memory cgroup (new string), or NULL with err set. */
char *cgroup_self_memory_dir(struct kcr_err *err);
