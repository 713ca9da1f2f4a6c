/* xalloc — allocation that aborts with a message on out-of-memory.
 * kcr treats OOM of its own process as fatal (h2o, redis, bubblewrap do the same). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* xasprintf of a va_list; the length (which counts any NUL the format wrote)
 * in *ret_len unless ret_len is NULL. */
char *xvasprintf(const char *fmt, va_list ap, size_t *ret_len)
    __attribute__((format(printf, 1, 0)));
