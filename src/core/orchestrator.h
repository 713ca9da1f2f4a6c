/* orchestrator — one POST /exec: session, files in, pod, run, files out,
 * output processing (docs/architecture.md, "One execution"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/id.h"
#include "common/lang.h"
#include "core/core.h"
#include "core/files.h"
#include "core/principal.h"

struct kcr_exec_request {
    const struct kcr_principal *principal; /* who runs it: owns the session and outputs */
    const struct kcr_lang *lang;
    const char *code;
    const char *const *args;
    size_t nargs;
    const char *stdin_data; /* may be NULL */
    size_t stdin_len;
    long timeout_ms;        /* a client's own limit (LibreChat's PTC path), 0 = none; only lowers */
    const char *session_id; /* each may be NULL */
    const char *entity_id;
    const char *user_id;
    const struct kcr_file_ref *files;
    size_t nfiles;
};

struct kcr_exec_output_file {
    char id[KCR_ID_LEN + 1];
    char *name; /* relative path under /mnt/data */
};

/* Where one execution's wall-clock time went, in milliseconds (CLOCK_MONOTONIC,
 * for the request's log line and bench/bench_stages.py). A stage not reached
 * stays 0; when a dead warm pod is replaced, the pod stages add up both
 * attempts. What no stage covers (output processing, wrapping the code) is
 * total_ms minus the sum. */
struct kcr_exec_stages {
    double session_ms;     /* session_choose: metadata reads, an insert for a new session */
    double resolve_ms;     /* files[] looked up (a file of another session is copied) */
    double queue_ms;       /* waiting for an execution slot (MAX_CONCURRENT_EXECUTIONS) */
    double acquire_ms;     /* pool_acquire: a warm pod, or a pod created on demand */
    double files_in_ms;    /* uploads and the session's state sent to the sidecar */
    double list_before_ms; /* the sidecar's listing of /mnt/data before the run */
    double execute_ms;     /* the sidecar's POST /execute, as kcr waits for it */
    double list_after_ms;  /* the listing after the run */
    double state_ms;       /* py state fetched from the pod and committed */
    double outputs_ms;     /* result files fetched, stored and recorded */
    double release_ms;     /* pool_release (the pod is destroyed in the background) */
    double total_ms;       /* orchestrator_exec from start to return */
};

struct kcr_exec_response {
    char session_id[KCR_ID_LEN + 1];
    char *stdout_text;
    char *stderr_text;
    struct kcr_exec_output_file *files;
    size_t nfiles;
    const char *outcome; /* "completed", "failed", "timeout", "oom" (static) */
    int exit_code;
    long run_ms;    /* the program's own time as the sidecar measured it */
    bool has_state; /* py: the run saved its globals as the session's state */
    uint64_t state_size;
    char state_hash[65];
    struct kcr_exec_stages stages; /* also filled when orchestrator_exec fails */
};

/* Runs one execution. A failing, crashing or timed-out program is a response
 * (0), not an error. Errors: KCR_ERR_NOT_FOUND for file references that are
 * missing or not the caller's (404, the message names them), KCR_ERR_INVALID
 * for a name that is not a safe relative path (400), KCR_ERR_UNAVAILABLE when
 * the store or the pod backend is down (503), KCR_ERR_BUSY when no execution
 * slot came free within EXEC_QUEUE_TIMEOUT_SECONDS (503). Free res with
 * orchestrator_response_done, which keeps session_id and stages. */
int orchestrator_exec(struct kcr_core *c, const struct kcr_exec_request *req,
                      struct kcr_exec_response *res, struct kcr_err *err);
void orchestrator_response_done(struct kcr_exec_response *res);
