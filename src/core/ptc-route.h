/* ptc-route — programmatic runs across replicas (docs/ptc.md, "Several
 * replicas"). A paused run lives in the memory of the `kcr serve` that
 * started it; with KCR_REPLICA_URL set, that replica also writes continuation
 * records to the metadata store, so that a continuation or a cancel that a
 * load balancer sends to another replica reaches it:
 *   - a record is keyed by a sha256 of its continuation token (or of its
 *     owner and the client's request id), never the token itself, and holds
 *     the owner, the holder's own URL and an expiry (the continuation
 *     timeout);
 *   - a replica that does not hold the run looks the record up and forwards
 *     the request (same body, the caller's credential headers, marked as
 *     forwarded) to the holder, which authenticates the caller again, and
 *     relays the answer; a forwarded request is never forwarded again;
 *   - no record, an expired one, another owner's, or a holder that is gone
 *     (its record is then deleted) is "not found", as for one replica.
 * The URL a request goes to only ever comes from a record, and only http(s).
 * Without KCR_REPLICA_URL every function here is a no-op (or "not found"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "core/ratelimit.h"
#include "core/principal.h"

/* Marks a request one replica forwarded to another (never forwarded again). */
#define KCR_PTC_FORWARDED_HEADER "X-Kcr-Forwarded"

/*** Records (the holder's side): failures are logged, never fatal ***/

/* who's run now pauses under token until expires_wall_ms; its request id
 * (may be NULL) names it for cancels until the continuation's step ends. */
void ptc_route_paused(struct kcr_core *c, const char *owner, const char *token,
                      const char *request_id, int64_t expires_wall_ms);
/* The run named request_id (may be NULL) is running a step. */
void ptc_route_running(struct kcr_core *c, const char *owner, const char *request_id);
/* token was used (or its run ended): its record goes. */
void ptc_route_token_gone(struct kcr_core *c, const char *token);
/* The run named request_id (may be NULL) ended: its record goes, if still
 * this replica's. */
void ptc_route_ended(struct kcr_core *c, const char *owner, const char *request_id);

/*** Forwarding (the receiving side) ***/

enum kcr_ptc_route_kind { KCR_PTC_ROUTE_TOKEN, KCR_PTC_ROUTE_REQUEST_ID };

struct kcr_ptc_forward {
    const char *path; /* "/exec/programmatic" or "/exec/programmatic/cancel" */
    const char *body;
    size_t body_len;
    const char *const *headers; /* "Name: value" lines: the caller's credentials */
    size_t nheaders;
    /* The request's count against the caller's rate limit here (NULL: not
     * counted). The holder counts it too, so it is taken back before the
     * request is sent: a forwarded request counts once. */
    struct kcr_rate_state *rate;
};

struct kcr_ptc_relayed {
    long status;
    char *body; /* owned: free() */
    size_t len;
    char content_type[128];
    char retry_after[16]; /* "" when none */
    /* The holder's RateLimit-Limit, -Remaining and -Reset ("" when none). */
    char rate_limit[24], rate_remaining[24], rate_reset[24];
};

/* Finds who's run named id (a continuation token or a request id) on another
 * replica and sends f there; ret gets its answer. Fails with
 * KCR_ERR_NOT_FOUND when no replica holds such a run of who's (no records,
 * expired, another owner's, this replica's own, or its holder is gone: its
 * record is then deleted), KCR_ERR_UNAVAILABLE when the store or the holder
 * does not answer in time. Free ret with ptc_route_relayed_done. */
int ptc_route_relay(struct kcr_core *c, const struct kcr_principal *who,
                    enum kcr_ptc_route_kind kind, const char *id, const struct kcr_ptc_forward *f,
                    struct kcr_ptc_relayed *ret, struct kcr_err *err);
void ptc_route_relayed_done(struct kcr_ptc_relayed *r);
