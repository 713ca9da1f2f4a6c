/* sidecar-files — the /files endpoints over the shared working directory.
 *
 * Every name comes from an untrusted party (the client or user code), so
 * each path is checked with names_is_safe*() and opened beneath the directory
 * fd with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS); FIFOs are opened
 * non-blocking and anything but a regular file is refused. */
#pragma once

#include "common/err.h"
#include "http/http.h"

struct sidecar_files {
    const char *dir; /* WORKING_DIR */
};

/* POST /files: multipart field "files" (repeatable). A name is a safe relative
 * path of at most 16 components ("notes/out.txt"); missing parent directories are
 * created (0755, owned by the sidecar's uid, which is user code's) one by one
 * without following symlinks. Every name, and what is already in the tree at each
 * name, is checked before anything is written: an unsafe name, a symlink or a file
 * where a directory is needed, or a target that is not a regular file is a 400. */
struct kcr_http_resp *sidecar_files_upload(struct kcr_http_req *req, void *ctx);
/* GET /files (top level) and GET /files?recursive=1 (bounded walk). */
struct kcr_http_resp *sidecar_files_list(struct kcr_http_req *req, void *ctx);

/* The body of GET /files?recursive=1 for dir: {"files": [{name, size, mtime_ns}],
 * "truncated"}, regular files only, symlinks never followed, at most 10 000
 * entries, depth 16 and 2 s. NULL (err set) when dir cannot be opened. */
json_t *sidecar_files_listing(const char *dir, struct kcr_err *err);

/* For an execution that asked for list_files: adds to its answer the listing
 * of dir once the program is over, as "listing" (sidecar_files_listing's
 * object) and "listing_ms" (the walk's time), or "listing_error" when dir
 * cannot be listed: the result stands either way, and the client then asks
 * GET /files itself. */
void sidecar_files_add_listing(json_t *answer, const char *dir);
/* GET /files/{path}[?max=BYTES]: the bytes of one regular file. */
struct kcr_http_resp *sidecar_files_get(struct kcr_http_req *req, void *ctx);
/* DELETE /files/{path}: a file or a directory tree (symlinks not followed). */
struct kcr_http_resp *sidecar_files_delete(struct kcr_http_req *req, void *ctx);

/* The ctx of these handlers is a struct sidecar_files; main-sidecar wraps them. */
struct kcr_http_resp *sidecar_files_error(int status, const char *msg, const char *field);

/* The answer of an execution (/execute, /programmatic) that failed before
 * its program ran, by err->kind: KCR_ERR_INVALID is 422 (working_dir does not
 * exist in the main container), KCR_ERR_UNAVAILABLE 503, anything else 500
 * with err->msg. The body has the shape of sidecar_files_error's. */
int sidecar_exec_error_status(const struct kcr_err *err);
json_t *sidecar_exec_error_body(const struct kcr_err *err);
