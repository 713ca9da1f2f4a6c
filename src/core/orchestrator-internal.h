/* orchestrator-internal — the phases of one execution, for the two callers
 * that run programs in pods: orchestrator.c (POST /exec, one call to the
 * sidecar) and ptc.c (POST /exec/programmatic, a run that pauses between
 * calls). Both go through the same phases so that a programmatic run treats
 * sessions, files in, files out and output limits exactly as /exec does:
 *
 *   orch_admit    session, files[] found and adopted, an execution slot
 *   orch_pod_in   a pod (warm or new) with the inputs in it
 *   ...           the program runs (the caller talks to the sidecar)
 *   orch_pod_out  output limits and outcome, result files stored
 *   orch_run_end  the pod released, the slot left, everything freed
 */
#pragma once

#include <stdbool.h>

#include "core/orchestrator.h"
#include "core/session.h"
#include "pod/sidecar-client.h"

struct orch_mounted;

/* What one execution holds between its phases. Zero it before orch_admit. */
struct orch_run {
    struct kcr_session s;
    struct orch_mounted *m; /* files[] as mounted, nm of them */
    size_t nm;
    bool admitted;               /* holds an execution slot */
    struct kcr_pod *pod;         /* NULL until orch_pod_in, again after release */
    struct kcr_pod_files before; /* /mnt/data as the program found it */
    int timeout_s;               /* the program's wall-clock limit */
};

/* Chooses the session (res->session_id), resolves files[] and takes an
 * execution slot. Errors as orchestrator_exec's. */
int orch_admit(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
               struct kcr_exec_response *res, struct kcr_err *err);

/* Acquires a pod and puts the inputs (and, with state, the session's Python
 * state) into it. On failure the pod, if any, is released again. */
int orch_pod_in(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
                bool state, struct kcr_exec_response *res, struct kcr_err *err);

/* From the sidecar's result r: stdout/stderr with the API's limits and the
 * outcome, then the result files (and the state when want_state and the
 * program succeeded). The listing r carries (list_files) is taken from it
 * and used; without one the pod is asked GET /files. */
int orch_pod_out(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
                 struct kcr_exec_result *r, bool want_state, struct kcr_exec_response *res,
                 struct kcr_err *err);

/* Releases the pod (destroyed: pods are single-use), if any. */
void orch_pod_release(struct kcr_core *c, struct orch_run *run, struct kcr_exec_response *res);

/* orch_pod_release, the slot left, run freed (it may be zeroed again). */
void orch_run_end(struct kcr_core *c, struct orch_run *run, struct kcr_exec_response *res);

/* The wall-clock limit of req's program in seconds (config, language, client). */
int orch_timeout_s(const struct kcr_core *c, const struct kcr_exec_request *req);
