/* files — a session's files: storing uploads and outputs (bytes first, then
 * the record), resolving /exec file references, deleting, MIME types. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "core/principal.h"
#include "core/session.h"
#include "store/meta.h"

/* A file reference from an /exec request; either shape of docs/api-contract.md rule 2
 * (session_id is `session_id` or `storage_session_id`). Strings may be NULL;
 * res is what the reference names (`kind`, `resource_id`, `version`). */
struct kcr_file_ref {
    const char *id;
    const char *session_id;
    const char *name;
    struct kcr_resource res;
};

/* Stores the content of fd (from offset 0, size bytes) as a new file described
 * by want: session_id, owner, res, name (already sanitised / a safe relative
 * path), content_type ("" = from the name's extension) and kind. The bytes are
 * durable before the record is written. Fills ret (may be NULL). */
int files_store(struct kcr_core *c, const struct kcr_file_meta *want, int fd, uint64_t size,
                struct kcr_file_meta *ret, struct kcr_err *err);

/* Finds ref for an execution of p in session s: by (ref session, id), then
 * by name (or id as a name) within that session, then within s; only files p
 * may read (principal_may_read) count. Copies nothing. KCR_ERR_NOT_FOUND when
 * nothing matches. */
int files_find(struct kcr_core *c, const struct kcr_principal *p, const struct kcr_session *s,
               const struct kcr_file_ref *ref, struct kcr_file_meta *ret, struct kcr_err *err);

/* f as a file of s: f itself when it is s's, else a copy stored in s. */
int files_adopt(struct kcr_core *c, const struct kcr_session *s, const struct kcr_file_meta *f,
                struct kcr_file_meta *ret, struct kcr_err *err);

/* files_find, then files_adopt. */
int files_resolve(struct kcr_core *c, const struct kcr_principal *p, const struct kcr_session *s,
                  const struct kcr_file_ref *ref, struct kcr_file_meta *ret, struct kcr_err *err);

/* How many files session sid holds. */
int files_count(struct kcr_core *c, const char *sid, size_t *ret, struct kcr_err *err);

/* Whether sid can take want more files under MAX_SESSION_FILES; KCR_ERR_LIMIT
 * (413) naming the numbers when not. */
int files_room(struct kcr_core *c, const char *sid, size_t want, struct kcr_err *err);

/* File fid of session sid when p may read it naming want (may be NULL);
 * KCR_ERR_NOT_FOUND otherwise, the same answer as for a missing file. */
int files_get_readable(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                       const char *fid, const struct kcr_resource *want, struct kcr_file_meta *ret,
                       struct kcr_err *err);

/* The files of live session sid that p may read naming want (may be NULL),
 * oldest first; none for an unknown session (*ret freed with free()). */
int files_list_readable(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                        const struct kcr_resource *want, struct kcr_file_meta **ret, size_t *ret_n,
                        struct kcr_err *err);

/* Opens a file's bytes read-only (size in *ret_size). */
int files_open(struct kcr_core *c, const struct kcr_file_meta *f, uint64_t *ret_size,
               struct kcr_err *err);

/* Deletes a file p owns (record first, then bytes). KCR_ERR_NOT_FOUND if
 * absent or another principal's. */
int files_delete(struct kcr_core *c, const struct kcr_principal *p, const char *sid,
                 const char *fid, struct kcr_err *err);

/* The MIME type for a file name, from its extension (borrowed string). */
const char *files_mime(const char *name);

/* At most this many orphans are removed by one sweep (the next takes more). */
#define FILES_SWEEP_BATCH 1000
/* Removes file blobs last written before before_ms that no file record
 * points to: what a crash between a blob's commit and its record left
 * (bytes first, record second). A metadata store that does not answer
 * removes nothing. Returns how many were removed. */
int files_sweep_orphans(struct kcr_core *c, int64_t before_ms);
