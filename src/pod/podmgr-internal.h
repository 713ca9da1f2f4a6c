/* podmgr-internal — what the parts of the pod manager share. The manager
 * process is its own program, kcr-podmgr (main-podmgr.c), and runs as root:
 * podmgr-privileged.c (start-up, request loop, cleanup) and
 * podmgr-privileged-pods.c (creating and destroying pods); podmgr-client.c
 * is kcr's end (podmgr_start, podmgr_call); podmgr-config.c carries the
 * configuration from one to the other. Not for use outside src/pod. */
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

/* A CREATE whose pod is starting: answered when its start-up pipe reports. */
struct podmgr_starting {
    uint32_t tag; /* the request's */
    char id[64];
    char lang[16];
    int err_fd; /* the pod's start-up pipe (read end, non-blocking) */
    long long deadline_ms;
    char socket[256];
    char working_dir[256];
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
    struct forkserver *fs;      /* the py template, or NULL */
    struct forkserver *fs_lite; /* the py template that preloads nothing (lite pods), or NULL */
    bool fs_tried, fs_lite_tried;
    uint64_t start_time; /* ours (/proc/self/stat field 22): pods name their owner by it */
    struct podmgr_starting *starting; /* CREATEs not answered yet */
    size_t nstarting;
};

/* podmgr-privileged-pods.c */

/* Start time of pid (field 22 of /proc/<pid>/stat), or 0 when it is gone or a zombie. */
uint64_t podmgr_proc_start_time(pid_t pid);
/* Removes the pods left behind by managers that are gone. */
void podmgr_sweep_leftovers(struct podmgr *m);
/* CREATE, first half: starts a pod of language code (lite: its runner forks
 * from the template that preloads nothing) and describes it in st (all but
 * the tag). The pod is one of the manager's from now on. */
int podmgr_pod_create_start(struct podmgr *m, const char *code, bool lite,
                            struct podmgr_starting *st, struct kcr_err *err);
/* CREATE, second half, when st->err_fd is readable or st->deadline_ms has
 * passed: 1 = still starting; 0 = the sidecar listens (resp's id, socket and
 * working_dir filled); -1 = the start failed and the pod is gone (err). On
 * 0 and -1 st->err_fd is closed. */
int podmgr_pod_create_finish(struct podmgr *m, struct podmgr_starting *st, struct podmgr_resp *resp,
                             struct kcr_err *err);
/* DESTROY: tears down pod id (err may be NULL). */
int podmgr_pod_destroy(struct podmgr *m, const char *id, struct kcr_err *err);

/* podmgr-client.c: the client of a manager already running as pid and
 * talking on fd (owned from now on); podmgr_start's last step. */
struct podmgr_client *podmgr_client_new(int fd, pid_t pid);

/* The manager's end of the socketpair, as kcr-podmgr finds it. */
#define PODMGR_FD 3

/* podmgr-config.c: the configuration kcr hands the manager it execs, as the
 * first message on their socketpair. recv fills cfg (free it with
 * pod_local_config_done) or fails naming what is wrong. */
int podmgr_config_send(int fd, const struct kcr_pod_local_config *cfg, struct kcr_err *err);
int podmgr_config_recv(int fd, struct kcr_pod_local_config *cfg, struct kcr_err *err);

/* podmgr-privileged.c */

/* The manager process (kcr-podmgr's main): reads its configuration from fd,
 * serves requests on fd until it closes, then destroys every pod it made and
 * exits. Start-up errors go back to kcr as the hello's message. */
__attribute__((noreturn)) void podmgr_manager_main(int fd);
