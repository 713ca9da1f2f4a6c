/* userns — user namespace id maps for rootless pods. */
#pragma once

#include <sys/types.h>

#include "common/err.h"

/* Writes /proc/<pid>/{setgroups,uid_map,gid_map} (pid 0: /proc/self) so that
 * inside_uid/gid in pid's user namespace is outside_uid/gid outside. An
 * unprivileged caller can map exactly one id, its own (user_namespaces(7));
 * setgroups is denied first, as the kernel requires before an unprivileged
 * gid_map write. The files of a non-dumpable process belong to root: a
 * process mapping itself must be dumpable meanwhile. */
int userns_map_single(pid_t pid, uid_t inside_uid, uid_t outside_uid, gid_t inside_gid,
                      gid_t outside_gid, struct kcr_err *err);
