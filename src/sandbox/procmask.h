/* procmask — what container runtimes hide of a fresh procfs.
 *
 * kcr-nsexec mounts a procfs of its own for every step (its pid namespace's),
 * which shows every file of /proc afresh: the runtime's masks of the
 * container's /proc do not carry over. These are the masks containerd and
 * runc apply by default (kernel state a sandbox has no use for, some of it
 * readable by anyone), so user code sees the same /proc on either backend. */
#pragma once

/* Masks the procfs mounted at proc (e.g. "/proc"): /dev/null over the
 * files, an empty read-only tmpfs over the directories, and the writable
 * kernel interfaces read-only. Paths this kernel lacks are skipped. Returns
 * 0 or -errno; *ret_path (may be NULL) names the path that failed. */
int procmask_apply(const char *proc, const char **ret_path);
