/* podmgr-internal — what the parts of the pod manager share. The manager
 * process runs as root: podmgr-privileged.c (start-up, request loop, cleanup)
 * and podmgr-privileged-pods.c (creating and destroying pods); podmgr-client.c
 * is the unprivileged side's end (podmgr_start, podmgr_call). Not for use
 * outside src/pod. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "pod/forkserver.h"
#include "pod/podmgr.h"
#include "sandbox/cgroup.h"

struct pod_entry {
    char id[64];
    pid_t init_pid;
    struct kcr_cgroup *cg;
};

struct podmgr {
    const struct kcr_pod_local_config *cfg;
    struct kcr_cgroup_mgr *cgm;
    char *pods_dir;
    int pods_dir_fd;
    char *bin_dir; /* this manager's private copy of kcr-nsexec lives here */
    char *nsexec;  /* what the sidecar gets as KCR_NSEXEC */
    struct pod_entry *pods;
    size_t npods, cap;
    struct forkserver *fs; /* the py template, or NULL */
    bool fs_tried;
    uint64_t start_time; /* ours (/proc/self/stat field 22): pods name their owner by it */
};

/* podmgr-privileged-pods.c */

/* Start time of pid (field 22 of /proc/<pid>/stat), or 0 when it is gone or a zombie. */
uint64_t podmgr_proc_start_time(pid_t pid);
/* Removes the pods left behind by managers that are gone. */
void podmgr_sweep_leftovers(struct podmgr *m);
/* CREATE: makes a pod of language code and fills resp. */
int podmgr_pod_create(struct podmgr *m, const char *code, struct podmgr_resp *resp,
                      struct kcr_err *err);
/* DESTROY: tears down pod id (err may be NULL). */
int podmgr_pod_destroy(struct podmgr *m, const char *id, struct kcr_err *err);

/* podmgr-privileged.c */

/* The manager process after the fork: serves requests on fd until it closes,
 * then destroys every pod it made and exits. */
__attribute__((noreturn)) void podmgr_manager_main(const struct kcr_pod_local_config *cfg, int fd);
