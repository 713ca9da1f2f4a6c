/* buf — a growable byte buffer with a hard cap.
 *
 * Appends beyond `cap` are dropped and set `truncated`; the buffer never grows
 * past cap + 1 bytes (one for the NUL kept after the data). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct kcr_buf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t alloc;
    size_t cap;     /* 0 = unbounded (only for data kcr produced itself) */
    bool truncated; /* something was dropped because of cap */
};

/* Initialises an empty buffer with the given cap. */
void buf_init(struct kcr_buf *b, size_t cap);
/* Appends n bytes (up to the cap). Returns the number of bytes kept. */
size_t buf_append(struct kcr_buf *b, const void *data, size_t n);
/* Appends a formatted string (up to the cap). */
void buf_printf(struct kcr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the data to the caller (who frees it) and resets the buffer. Never NULL. */
char *buf_take(struct kcr_buf *b, size_t *ret_len);
/* Frees the contents; the buffer can be reused after buf_init. */
void buf_done(struct kcr_buf *b);
