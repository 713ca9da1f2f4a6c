/* pod-init — the processes of a local pod, from inside: pod init (pid 1 of
 * the pod's namespaces), the main container and the sidecar. Runs in the child
 * the pod manager clones; nothing here returns (docs/local-pods.md). */
#pragma once

#include "common/lang.h"
#include "pod/pod-local.h"
#include "sandbox/cgroup.h"
#include "sandbox/rootfs.h"

#define POD_UID 65532
#define POD_GID 65532
/* The sidecar's copy of err_fd: KCR_READY_FD, closed once it listens. */
#define POD_SIDECAR_READY_FD 3

/* Everything a pod's processes need, prepared before clone so that the
 * children only make system calls and exec. */
struct pod_spawn {
    const struct kcr_pod_local_config *cfg; /* borrowed */
    const struct kcr_cgroup_mgr *cgm;       /* borrowed */
    const struct kcr_lang *lang;
    char *dir, *data_dir, *sock_path, *root_dir;
    struct kcr_rootfs_plan *plan;
    char **main_env; /* the main container's whole environment */
    char **sidecar_env;
    uid_t outer_uid; /* rootless: the manager's ids, which 65532 maps to */
    gid_t outer_gid;
    struct kcr_cgroup_join join; /* the pod's cgroup, entered by pod init itself */
    int release_fd;              /* read end: the parent writes one byte once the cgroup is set */
    /* Write end, O_CLOEXEC: a message here means failure, EOF success. Pod
     * init closes it once main sleeps, main's exec does, and the sidecar
     * (which gets it as POD_SIDECAR_READY_FD) once it listens. */
    int err_fd;
};

/* Pod init: waits for release_fd, joins its cgroup, then sets up the pod's
 * namespaces, forks the main container and the sidecar, and reaps. A failing
 * step writes "<who>: <what>" to err_fd and exits 127. EOF on err_fd means
 * the pod is up: main sleeps and the sidecar listens. */
__attribute__((noreturn)) void pod_init_run(struct pod_spawn *s);
