/* sidecar-client-internal (sc_) — the request machinery of sidecar-client.c, shared
 * with sidecar-client-ptc.c (programmatic runs). Not for other modules. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "pod/sidecar-client.h"

/* Time for the sidecar to write the code, kill a tree and answer, on top of
 * the program's own limit. */
#define EXEC_MARGIN_MS 15000L

struct sc_call {
    CURL *h;
    struct curl_slist *headers;
    struct kcr_buf body; /* reply body (capped) unless streaming to a file */
    /* Streaming a download: */
    int out_fd;
    uint64_t max, written;
    struct digest_sha256 *digest; /* optional: fed every byte written to out_fd */
    int write_errno;
    bool over_cap; /* the reply exceeded its cap: the callback aborted */
    char errbuf[CURL_ERROR_SIZE];
};

/* Sets up an easy handle for pod + path (already URL-escaped), with a
 * timeout and a cap on the reply body. */
int sc_call_init(struct sc_call *c, const struct kcr_pod *pod, const char *path, long timeout_ms,
                 size_t body_cap, struct kcr_err *err);
/* Runs the request; 0 when it completed with a 2xx status. */
int sc_call_perform(struct sc_call *c, const char *what, struct kcr_err *err);
/* The reply as a JSON object (new reference), or NULL with err set. */
json_t *sc_call_json(struct sc_call *c, const char *what, struct kcr_err *err);
void sc_call_done(struct sc_call *c);

/* Listings: the sidecar bounds count; this bounds what kcr will hold. An
 * execution's answer that may carry one gets this much more room. */
#define SC_LIST_BODY_CAP (4u << 20)

/* Bytes of /execute reply kcr accepts (without a listing). */
size_t sc_exec_body_cap(void);
/* The /execute body for req (new reference), or NULL (not UTF-8). */
json_t *sc_exec_body(const struct kcr_exec_req *req, struct kcr_err *err);
/* Fills res from an /execute reply (checked field by field), with the
 * listing when the reply carries a good one (res->listed). */
int sc_parse_exec(json_t *j, struct kcr_exec_result *res, struct kcr_err *err);
/* A listing object {"files": [...], "truncated"?} as GET /files?recursive=1
 * answers it, into ret: entries of the wrong type or with unsafe names are
 * dropped, at most 10 000 kept. -1 (KCR_ERR_UNAVAILABLE) when it is not one. */
int sc_parse_listing(json_t *j, const char *what, struct kcr_pod_files *ret, struct kcr_err *err);
