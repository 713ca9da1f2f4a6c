/* sidecar-files — the /files endpoints over the shared working directory.
 *
 * Every name comes from an untrusted party (the client or user code), so
 * each path is checked with names_is_safe*() and opened beneath the directory
 * fd with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS); FIFOs are opened
 * non-blocking and anything but a regular file is refused. */
#pragma once

#include "http/http.h"

struct sidecar_files {
    const char *dir; /* WORKING_DIR */
};

/* POST /files: multipart field "files" (repeatable). All names are checked
 * before anything is written. */
struct kcr_http_resp *sidecar_files_upload(struct kcr_http_req *req, void *ctx);
/* GET /files (top level) and GET /files?recursive=1 (bounded walk). */
struct kcr_http_resp *sidecar_files_list(struct kcr_http_req *req, void *ctx);
/* GET /files/{path}[?max=BYTES]: the bytes of one regular file. */
struct kcr_http_resp *sidecar_files_get(struct kcr_http_req *req, void *ctx);
/* DELETE /files/{path}: a file or a directory tree (symlinks not followed). */
struct kcr_http_resp *sidecar_files_delete(struct kcr_http_req *req, void *ctx);

/* The ctx of these handlers is a struct sidecar_files; main-sidecar wraps them. */
struct kcr_http_resp *sidecar_files_error(int status, const char *msg, const char *field);
