/* blob — the byte store for file contents and Python state archives.
 *
 * A backend is a `const struct kcr_blob_ops` (fs, s3); its instance
 * struct starts with `struct kcr_blob super`. Keys are "<dir>/<name>" with two
 * safe components ("<session>/<file>", "state/<session>"). A blob becomes
 * visible only complete and durable: commit writes into an unnamed or
 * temporary file, fsyncs it, then renames it into place and fsyncs the
 * directory, so a crash at any moment leaves either the old or the new bytes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct kcr_blob;

/* One blob seen by list: its key and when it became visible (wall clock, ms).
 * A non-zero return stops the listing (list returns 0). */
typedef int (*kcr_blob_list_fn)(const char *key, int64_t mtime_ms, void *ctx);

struct kcr_blob_ops {
    const char *name; /* "fs", "s3" */
    /* A new unnamed read-write file on the store's own filesystem, for bytes
     * that are about to be committed (outputs fetched from a pod). */
    int (*tmpfile)(struct kcr_blob *b, struct kcr_err *err);
    /* Makes the whole content of fd (from offset 0) the blob key, replacing
     * any old one. fd stays owned by the caller. */
    int (*commit)(struct kcr_blob *b, const char *key, int fd, struct kcr_err *err);
    int (*put)(struct kcr_blob *b, const char *key, const void *data, size_t len,
               struct kcr_err *err);
    /* A read-only fd on the blob and its size; KCR_ERR_NOT_FOUND if absent. */
    int (*open)(struct kcr_blob *b, const char *key, uint64_t *ret_size, struct kcr_err *err);
    /* Removes one blob (missing is fine). */
    int (*remove)(struct kcr_blob *b, const char *key, struct kcr_err *err);
    /* Removes every blob under dir (missing is fine). */
    int (*remove_dir)(struct kcr_blob *b, const char *dir, struct kcr_err *err);
    /* Calls fn for every blob under dir, or every blob when dir is NULL, in no
     * particular order (the orphan sweep, core/files.h). */
    int (*list)(struct kcr_blob *b, const char *dir, kcr_blob_list_fn fn, void *ctx,
                struct kcr_err *err);
    int (*ping)(struct kcr_blob *b, struct kcr_err *err);
    void (*free)(struct kcr_blob *b);
};

struct kcr_blob {
    const struct kcr_blob_ops *ops;
};

/* Frees any backend. Accepts NULL; returns NULL. */
struct kcr_blob *blob_free(struct kcr_blob *b);
