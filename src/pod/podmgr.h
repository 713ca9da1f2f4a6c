/* podmgr — the privileged pod manager process of the local backend.
 *
 * Forked by pod_local_new() while kcr is root, it keeps root and does only
 * two typed operations, asked over a SOCK_SEQPACKET socketpair: CREATE a pod
 * for a language, DESTROY a pod by id. It validates every request (the other
 * side parses HTTP and is treated as compromised). When the socketpair closes
 * it destroys every pod it created and exits. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "pod/pod-local.h"

enum podmgr_op {
    PODMGR_CREATE = 1, /* arg: language code */
    PODMGR_DESTROY,    /* arg: pod id */
};

struct podmgr_req {
    uint32_t op;
    char arg[64]; /* NUL-terminated */
};

struct podmgr_resp {
    int32_t status; /* 0 or -1 */
    int32_t kind;   /* enum kcr_err_kind when status is -1 */
    int32_t errnum;
    char id[64];
    char socket[256];      /* sidecar unix socket (host path) */
    char working_dir[256]; /* host path of the pod's /mnt/data */
    char msg[256];
};

/* Forks the manager. Returns its pid and the caller's end of the socketpair
 * (ret_fd, O_CLOEXEC) after the manager reported its start-up: its setup error
 * becomes err. */
pid_t podmgr_start(const struct kcr_pod_local_config *cfg, int *ret_fd, struct kcr_err *err);

/* One request/response exchange on fd (not thread-safe: callers serialize). */
int podmgr_call(int fd, const struct podmgr_req *req, struct podmgr_resp *resp,
                struct kcr_err *err);
