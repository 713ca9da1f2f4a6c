/* files — a session's files: storing uploads and outputs (bytes first, then
 * the record), resolving /exec file references, deleting, MIME types. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "core/core.h"
#include "store/meta.h"

/* A file reference from an /exec request; either shape of api-contract rule 2
 * (session_id is `session_id` or `storage_session_id`). Strings may be NULL. */
struct kcr_file_ref {
    const char *id;
    const char *session_id;
    const char *name;
};

/* Stores the content of fd (from offset 0, size bytes) as a new file of
 * session sid named name (already sanitised / a safe relative path). The
 * bytes are durable before the record is written. Fills ret. */
int files_store(struct kcr_core *c, const char *sid, const char *name, const char *content_type,
                enum kcr_file_kind kind, int fd, uint64_t size, struct kcr_file_meta *ret,
                struct kcr_err *err);

/* Resolves ref for an execution in session sid: by (ref session, id), then by
 * name (or id as a name) within that session. A file of another session is
 * copied into sid. KCR_ERR_NOT_FOUND when nothing matches. */
int files_resolve(struct kcr_core *c, const char *sid, const struct kcr_file_ref *ref,
                  struct kcr_file_meta *ret, struct kcr_err *err);

/* Opens a file's bytes read-only (size in *ret_size). */
int files_open(struct kcr_core *c, const struct kcr_file_meta *f, uint64_t *ret_size,
               struct kcr_err *err);

/* Deletes a file (record first, then bytes). KCR_ERR_NOT_FOUND if absent. */
int files_delete(struct kcr_core *c, const char *sid, const char *fid, struct kcr_err *err);

/* The MIME type for a file name, from its extension (borrowed string). */
const char *files_mime(const char *name);
