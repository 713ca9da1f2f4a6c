/* podmgr — the privileged pod manager process of the local backend.
 *
 * Exec'd by pod_local_new() while kcr is root (the program kcr-podmgr), it
 * keeps root and does only two typed operations, asked over a SOCK_SEQPACKET
 * socketpair: CREATE a pod for a language, DESTROY a pod by id. Several
 * requests may be in flight; creations overlap while their pods start. It
 * validates every request (the other side parses HTTP and is treated as
 * compromised). When the socketpair closes it destroys every pod it created
 * and exits. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "pod/pod-local.h"

enum podmgr_op {
    PODMGR_CREATE = 1, /* arg: language code */
    PODMGR_DESTROY,    /* arg: pod id */
};

/* CREATE's flags. */
#define PODMGR_LITE 1u /* the runner forks from the template that preloads nothing */

struct podmgr_req {
    uint32_t op;
    uint32_t tag;   /* echoed in the response */
    uint32_t flags; /* PODMGR_LITE (CREATE only) */
    char arg[64];   /* NUL-terminated */
};

struct podmgr_resp {
    uint32_t tag;
    int32_t status; /* 0 or -1 */
    int32_t kind;   /* enum kcr_err_kind when status is -1 */
    int32_t errnum;
    char id[64];
    char socket[256];      /* sidecar unix socket (host path) */
    char working_dir[256]; /* host path of the pod's /mnt/data */
    char msg[256];
};

struct podmgr_client;

/* Execs the manager (cfg->podmgr_bin) and hands it cfg. Returns once the
 * manager reported its start-up: its setup error becomes err. */
struct podmgr_client *podmgr_start(const struct kcr_pod_local_config *cfg, struct kcr_err *err);

/* One request and its answer. Thread-safe: concurrent calls are in flight
 * together (pods are created in parallel) and each gets its own answer. */
int podmgr_call(struct podmgr_client *c, enum podmgr_op op, uint32_t flags, const char *arg,
                struct podmgr_resp *resp, struct kcr_err *err);

/* Whether the manager process still runs. */
bool podmgr_alive(struct podmgr_client *c);

/* Closes the socket, which makes the manager destroy every pod and exit, and
 * waits for it. No call may be in flight. Returns NULL. */
struct podmgr_client *podmgr_stop(struct podmgr_client *c);
