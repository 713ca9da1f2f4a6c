/* orchestrator — one POST /exec: session, files in, pod, run, files out,
 * output processing (architecture.md, "One execution"). */
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
};

/* Runs one execution. A failing, crashing or timed-out program is a response
 * (0), not an error. Errors: KCR_ERR_NOT_FOUND for file references that are
 * missing or not the caller's (404, the message names them), KCR_ERR_INVALID
 * for a name that is not a safe relative path (400), KCR_ERR_UNAVAILABLE when
 * the store or the pod backend is down (503). Free res with
 * orchestrator_response_done. */
int orchestrator_exec(struct kcr_core *c, const struct kcr_exec_request *req,
                      struct kcr_exec_response *res, struct kcr_err *err);
void orchestrator_response_done(struct kcr_exec_response *res);
