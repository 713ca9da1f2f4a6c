/* procscan — finding the main container's process in /proc.
 *
 * The sidecar shares the pod's pid namespace with the main container, whose
 * process idles in MAIN_PROCESS_NAME (`sleep infinity`). Processes come and go
 * while we scan, so EACCES, ESRCH and ENOENT on any /proc file just skip that
 * pid. A pid is identified by (pid, start time) so that a reused pid is noticed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct procscan_target {
    pid_t pid;
    uint64_t start_time; /* field 22 of /proc/PID/stat, clock ticks since boot */
};

/* Reads ppid and start time from /proc/PID/stat. Returns 0 or -errno. */
int procscan_stat(pid_t pid, pid_t *ret_ppid, uint64_t *ret_start);

/* True if basename(argv[0]) of pid's cmdline equals name. */
bool procscan_cmdline_matches(pid_t pid, const char *name);

/* Finds the oldest process named name that is not pid 1, not `self` and not a
 * descendant of `self` (user code runs its own `sleep`s). Fails with
 * KCR_ERR_UNAVAILABLE when none exists. */
int procscan_find(const char *name, pid_t self, struct procscan_target *ret, struct kcr_err *err);

/* True if t still names the same process (same start time, same name). */
bool procscan_still_valid(const struct procscan_target *t, const char *name);
