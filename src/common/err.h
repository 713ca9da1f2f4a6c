/* err — the error value every fallible kcr function fills (struct kcr_err).
 *
 * The error lives on the caller's stack; nothing to free. A function fails by
 * `return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "open '%s'", path);`, which
 * formats the message, appends strerror(errnum) when errnum != 0, and returns -1.
 * Callers add context on the way up with kcr_err_wrap(). */
#pragma once

#include <stddef.h>

enum kcr_err_kind {
    KCR_ERR_NONE = 0,
    KCR_ERR_INVALID,     /* the request or input is wrong: 400/422 */
    KCR_ERR_FORBIDDEN,   /* the caller may not do this: 403 */
    KCR_ERR_NOT_FOUND,   /* 404 */
    KCR_ERR_LIMIT,       /* a configured bound was hit: 413 */
    KCR_ERR_UNAVAILABLE, /* a dependency is down or not ready: 503 */
    KCR_ERR_BUSY,        /* capacity is full for now: 503 with Retry-After */
    KCR_ERR_TIMEOUT,     /* 504 */
    KCR_ERR_INTERNAL,    /* a bug or an unexpected system failure: 500 */
};

struct kcr_err {
    int errnum;
    enum kcr_err_kind kind;
    char msg[256];
};

/* Fills err (may be NULL) and returns -1. errnum 0 means "no errno to append". */
int kcr_err_set(struct kcr_err *err, int errnum, enum kcr_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes err->msg with "<context>: "; keeps errnum and kind. Returns -1. */
int kcr_err_wrap(struct kcr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to "no error". */
void kcr_err_clear(struct kcr_err *err);

/* Short name of a kind, for logs ("invalid", "not_found", ...). */
const char *kcr_err_kind_name(enum kcr_err_kind kind);
