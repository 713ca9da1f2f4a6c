#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kcr_err_set(struct kcr_err *err, int errnum, enum kcr_err_kind kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (errnum != 0 && n >= 0 && (size_t)n < sizeof(err->msg))
        snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
    err->errnum = errnum;
    err->kind = kind;
    return -1;
}

int kcr_err_wrap(struct kcr_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char old[sizeof(err->msg)];
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    if (err->kind == KCR_ERR_NONE)
        err->kind = KCR_ERR_INTERNAL;
    return -1;
}

void kcr_err_clear(struct kcr_err *err)
{
    if (!err)
        return;
    err->errnum = 0;
    err->kind = KCR_ERR_NONE;
    err->msg[0] = '\0';
}

const char *kcr_err_kind_name(enum kcr_err_kind kind)
{
    switch (kind) {
    case KCR_ERR_NONE:
        return "none";
    case KCR_ERR_INVALID:
        return "invalid";
    case KCR_ERR_FORBIDDEN:
        return "forbidden";
    case KCR_ERR_NOT_FOUND:
        return "not_found";
    case KCR_ERR_LIMIT:
        return "limit";
    case KCR_ERR_UNAVAILABLE:
        return "unavailable";
    case KCR_ERR_BUSY:
        return "busy";
    case KCR_ERR_TIMEOUT:
        return "timeout";
    case KCR_ERR_INTERNAL:
        return "internal";
    }
    return "internal";
}
