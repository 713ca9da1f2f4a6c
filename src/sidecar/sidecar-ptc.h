/* sidecar-ptc — programmatic tool calling: a program that calls the agent's
 * tools, paused while the client runs them (docs/ptc-sandbox.md).
 *
 *   POST /programmatic {code, lang?, timeout?, working_dir?, tools: [name...],
 *                       args?, stdin?, list_files?}
 *   POST /programmatic/continue {tool_results: [{call_id, result, is_error,
 *                                                error_message?}]}
 *   POST /programmatic/cancel
 *
 * The program (sidecar-ptc-runner.h) gets one end of a socketpair made for
 * this run as fd 4 (kcr-nsexec --pass-fd 4), nothing else new. Its output is
 * pumped as /execute pumps it (sidecar-exec.h, sidecar_live_*) until it ends,
 * answered {"status":"done", ...the fields of /execute, with the listing when
 * the start asked for list_files}, or until it has sent
 * a message with calls of the client's tools, answered
 * {"status":"tool_call_required","tool_calls":[{"id":"call_<n>","name","input"}]}
 * while the program waits, blocked on its channel, with everything (pipes,
 * pid, output so far) kept here. /continue hands it the results and pumps
 * again. The time limit counts only time spent running.
 *
 * One run at a time (pods are single-use); while it exists /execute is
 * refused (sidecar_ptc_active). Cancel SIGKILLs the run from any thread
 * without waiting for the handler that pumps it, which then answers done
 * (exit 137, signal 9); a paused run is finished by the cancel itself and its
 * done answer kept for the next /continue. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"
#include "sidecar/sidecar-exec.h"
#include "sidecar/sidecar-ptc-runner.h"
#include "sidecar/sidecar-request.h"

struct sidecar_ptc;

struct sidecar_ptc *sidecar_ptc_new(void);
/* Kills and reaps a run left over. Accepts NULL; returns NULL. */
struct sidecar_ptc *sidecar_ptc_free(struct sidecar_ptc *ptc);

/* True while a run exists that has not ended (running or paused). */
bool sidecar_ptc_active(struct sidecar_ptc *ptc);

/* The body of POST /programmatic: /execute's fields (sidecar-request.h;
 * lang must be py or bash) and tools. */
struct sidecar_ptc_request {
    struct sidecar_request req;
    char **tools; /* NULL-terminated */
    size_t ntools;
    enum ptc_dialect dialect;
};

/* Returns 0, or -1 with e filled (400: not JSON, code or tools missing, a
 * language without a runner; 422: a field's type or range, tools whose
 * identifiers collide). */
int sidecar_ptc_request_parse(const char *body, size_t len, const char *default_lang,
                              long max_timeout, struct sidecar_ptc_request *ret,
                              struct sidecar_request_error *e);
void sidecar_ptc_request_done(struct sidecar_ptc_request *r);

/* POST /programmatic, the request parsed (r is taken in every case) and p
 * made for its main container: claims the one run (409 while another
 * exists), writes the code file and starts the program. The caller holds
 * the execution lock for this (the code file, the pre-started runner).
 * Returns NULL when the run is started: then sidecar_ptc_answer, without
 * that lock, pumps it and answers. Otherwise the error response. */
struct kcr_http_resp *sidecar_ptc_begin(struct sidecar_ptc *ptc, struct kcr_http_req *req,
                                        const struct sidecar_exec_params *p,
                                        struct sidecar_ptc_request *r);
struct kcr_http_resp *sidecar_ptc_answer(struct sidecar_ptc *ptc, struct kcr_http_req *req);

/* POST /programmatic/continue: 409 when no run is paused, 400 for a
 * malformed body (the run stays paused). */
struct kcr_http_resp *sidecar_ptc_continue(struct sidecar_ptc *ptc, struct kcr_http_req *req);

/* POST /programmatic/cancel: {"cancelled": true} when a run was killed. */
struct kcr_http_resp *sidecar_ptc_cancel(struct sidecar_ptc *ptc, struct kcr_http_req *req);
