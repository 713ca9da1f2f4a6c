/* session — choosing, creating and expiring sessions (docs/api-contract.md rule 3). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/id.h"
#include "core/core.h"
#include "core/principal.h"

/* Creates a session owned by p (entity_id/user_id may be NULL); fills ret. */
int session_create(struct kcr_core *c, const struct kcr_principal *p, const char *entity_id,
                   const char *user_id, struct kcr_session *ret, struct kcr_err *err);

/* Fills ret when sid names a live session p owns (principal_owns) and
 * refreshes its last activity; KCR_ERR_NOT_FOUND otherwise, also for another
 * principal's session. */
int session_get_owned(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                      struct kcr_session *ret, struct kcr_err *err);

/* The session for a request of p, among the sessions p owns: session_id if
 * it is one, else the first of file_sids that is one, else entity_id's latest
 * session, else a new one. Another principal's ids are passed over as if they
 * did not exist. */
int session_choose(struct kcr_core *c, const struct kcr_principal *p, const char *session_id,
                   const char *const *file_sids, size_t nfile_sids, const char *entity_id,
                   const char *user_id, struct kcr_session *ret, struct kcr_err *err);

/* What the store holds now (live sessions, the oldest, files and states with
 * their bytes), for the operator dashboard. */
int session_summary(struct kcr_core *c, struct kcr_store_summary *ret, struct kcr_err *err);

/* Deletes sessions expired at now_ms (records and bytes). Returns how many. */
int session_reap(struct kcr_core *c, int64_t now_ms);

/* A background thread that calls session_reap every cfg->cleanup_interval_s
 * when SESSION_TTL_HOURS > 0 (then statestore_reap, and files_sweep_orphans
 * for blobs older than 15 minutes without a record). */
struct kcr_session_reaper;
struct kcr_session_reaper *session_reaper_start(struct kcr_core *c, struct kcr_err *err);
/* Stops and joins the thread. Accepts NULL; returns NULL. */
struct kcr_session_reaper *session_reaper_stop(struct kcr_session_reaper *r);
