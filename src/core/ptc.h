/* ptc — programmatic tool calling (POST /exec/programmatic, docs/ptc.md).
 *
 * The program calls its client's tools as functions; each time it does, the
 * sidecar pauses it and kcr answers the client with the calls and a
 * continuation token. The client runs the tools and sends the results with
 * the token; the same program, in the same pod, goes on. A run is one pod
 * held out of the pool from start to end (never reused), an execution slot,
 * and an entry in this module's table:
 *   - a token is 256 random bits, used once (each pause makes a new one) and
 *     only by the principal that started the run: anyone else is told "not
 *     found";
 *   - a paused run waits at most PTC_CONTINUATION_TIMEOUT_SECONDS, then its
 *     pod is destroyed (a reaper thread);
 *   - PTC_MAX_ROUND_TRIPS bounds the pauses of one run, PTC_MAX_PAUSED the
 *     runs in progress (running or paused) at once;
 *   - a run is found for cancelling by the request id its client sent
 *     (X-LibreChat-Code-Request-ID), again only by its principal.
 * Sessions, files in and out, and output limits are /exec's own
 * (orchestrator-internal.h); there is no Python state. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "core/orchestrator.h"

#define KCR_PTC_TOKEN_LEN      64  /* hex of 32 random bytes */
#define KCR_PTC_REQUEST_ID_MAX 128 /* longer client request ids are not kept */
#define KCR_PTC_MAX_TOOLS      128
#define KCR_PTC_MAX_CALLS      64 /* tool calls of one pause (SIDECAR_PTC_MAX_CALLS) */

struct kcr_ptc;

struct kcr_ptc_request {
    struct kcr_exec_request exec; /* lang is py or bash; files, session, timeout as /exec */
    const char *const *tools;     /* the tools' names, as the client sent them */
    size_t ntools;
    const char *request_id; /* the client's name for this request, or NULL */
};

enum kcr_ptc_status { KCR_PTC_TOOL_CALLS, KCR_PTC_COMPLETED, KCR_PTC_ERROR };

struct kcr_ptc_answer {
    enum kcr_ptc_status status;
    char token[KCR_PTC_TOKEN_LEN + 1]; /* tool calls: the continuation token */
    json_t *tool_calls;                /* tool calls: [{"id","name","input"}] (owned) */
    const char *error;                 /* error: what the client shows (in error_buf) */
    char error_buf[96];
    struct kcr_exec_response exec; /* session_id always; output and files when ended */
    bool too_many;                 /* ptc_start failed: PTC_MAX_PAUSED runs in progress */
    const char *lang;              /* the run's language code (static), once known */
};

/* The table for core c (borrowed); starts the reaper thread. */
struct kcr_ptc *ptc_new(struct kcr_core *c, long max_runs, struct kcr_err *err);
/* Ends every run (their pods destroyed) and stops the reaper. Accepts NULL. */
struct kcr_ptc *ptc_free(struct kcr_ptc *p);

/* Starts a run and takes it to its first pause or its end. A program that
 * fails, times out or runs out of memory is an answer (KCR_PTC_ERROR), not an
 * error. Errors as orchestrator_exec's, and KCR_ERR_LIMIT with too_many set.
 * Free ans with ptc_answer_done. */
int ptc_start(struct kcr_ptc *p, const struct kcr_ptc_request *req, struct kcr_ptc_answer *ans,
              struct kcr_err *err);

/* Resumes who's run paused under token with tool_results (borrowed; an array
 * of {call_id: string, result, is_error: bool, error_message?: string},
 * checked by the caller). KCR_ERR_NOT_FOUND for a token that is unknown, used,
 * expired, cancelled or someone else's. */
int ptc_continue(struct kcr_ptc *p, const struct kcr_principal *who, const char *token,
                 json_t *tool_results, const char *request_id, struct kcr_ptc_answer *ans,
                 struct kcr_err *err);

/* Ends who's run last named request_id: a paused one at once, a running one
 * as soon as its sidecar has stopped the program (its request answers with an
 * error). Returns whether there was such a run. */
bool ptc_cancel(struct kcr_ptc *p, const struct kcr_principal *who, const char *request_id);

void ptc_answer_done(struct kcr_ptc_answer *ans);

struct kcr_ptc_stats {
    long running, paused;
    uint64_t round_trips; /* pauses of all runs since start */
    uint64_t expired;     /* paused runs ended by PTC_CONTINUATION_TIMEOUT_SECONDS */
    long max_runs;
};
void ptc_stats(struct kcr_ptc *p, struct kcr_ptc_stats *ret);
