/* statestore — Python state blobs, for the /state endpoints and for the
 * globals an execution saves (core/pystate.h), each belonging to an owner.
 *
 * A state is named by (owner, id). The id is a session id or, through the
 * /state API, any 1..64 characters of [A-Za-z0-9_-]. For a caller p, an id
 * means the state of the session of that id when p owns the session, else
 * p's own state of that id; API keys also see states from before owners
 * existed. So one caller's POST /state/<id> never touches another caller's
 * state, whatever the id. Bytes are stored first, then the record. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "core/principal.h"
#include "store/meta.h"

/* Whether id is acceptable as a state id. */
bool statestore_id_ok(const char *id);

/* The live state id names for p; KCR_ERR_NOT_FOUND when there is none. */
int statestore_get(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                   struct kcr_state_meta *ret, struct kcr_err *err);

/* A read-only fd on the bytes of st (found by statestore_get*), size in *ret_size. */
int statestore_open(struct kcr_core *c, const struct kcr_state_meta *st, uint64_t *ret_size,
                    struct kcr_err *err);

/* Stores len bytes as the state id names for p; fills ret. KCR_ERR_NOT_FOUND
 * when id is not one of p's live sessions (nor, for a key, a state from
 * before owners). */
int statestore_save(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                    const void *data, size_t len, struct kcr_state_meta *ret, struct kcr_err *err);

/* Removes the state id names for p (none is fine). */
int statestore_delete(struct kcr_core *c, const struct kcr_principal *p, const char *id,
                      struct kcr_err *err);

/* The live state of session s (owned by the session's owner). */
int statestore_get_session(struct kcr_core *c, const struct kcr_session *s,
                           struct kcr_state_meta *ret, struct kcr_err *err);

/* Makes the content of fd (from offset 0) the state of session s; fills ret.
 * sha256: the content's hash (hex) when the caller has it already, or NULL. */
int statestore_commit_session(struct kcr_core *c, const struct kcr_session *s, int fd,
                              const char *sha256, struct kcr_state_meta *ret, struct kcr_err *err);

/* Removes the bytes of an unowned state of id (they live apart from the
 * session's directory); for the session reaper. */
/* Removes the states expired at now_ms (STATE_TTL_SECONDS): records, then
 * bytes. Returns how many. */
int statestore_reap(struct kcr_core *c, int64_t now_ms);

void statestore_remove_legacy(struct kcr_core *c, const char *id);
