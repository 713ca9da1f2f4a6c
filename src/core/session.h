/* session — choosing, creating and expiring sessions (api-contract rule 3). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/id.h"
#include "core/core.h"

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t session_now_ms(void);

/* Creates a session (entity_id/user_id may be NULL) and writes its id. */
int session_create(struct kcr_core *c, const char *entity_id, const char *user_id,
                   char ret_id[KCR_ID_LEN + 1], struct kcr_err *err);

/* True if sid names a live session; refreshes its last activity. */
bool session_exists(struct kcr_core *c, const char *sid);

/* The session for a request: session_id if it exists, else the first of
 * file_sids that exists, else entity_id's latest session, else a new one. */
int session_choose(struct kcr_core *c, const char *session_id, const char *const *file_sids,
                   size_t nfile_sids, const char *entity_id, const char *user_id,
                   char ret_id[KCR_ID_LEN + 1], struct kcr_err *err);

/* Deletes sessions expired at now_ms (records and bytes). Returns how many. */
int session_reap(struct kcr_core *c, int64_t now_ms);

/* A background thread that calls session_reap every cfg->cleanup_interval_s
 * when SESSION_TTL_HOURS > 0. */
struct kcr_session_reaper;
struct kcr_session_reaper *session_reaper_start(struct kcr_core *c, struct kcr_err *err);
/* Stops and joins the thread. Accepts NULL; returns NULL. */
struct kcr_session_reaper *session_reaper_stop(struct kcr_session_reaper *r);
