#include "common/buf.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void buf_init(struct kcr_buf *b, size_t cap)
{
    *b = (struct kcr_buf){.cap = cap};
}

static void reserve(struct kcr_buf *b, size_t need)
{
    if (need + 1 <= b->alloc)
        return;
    size_t n = b->alloc ? b->alloc : 256;
    while (n < need + 1)
        n *= 2;
    if (b->cap && n > b->cap + 1)
        n = b->cap + 1;
    b->data = xrealloc(b->data, n);
    b->alloc = n;
}

size_t buf_append(struct kcr_buf *b, const void *data, size_t n)
{
    size_t room = b->cap ? b->cap - b->len : n;
    if (n > room) {
        b->truncated = true;
        n = room;
    }
    reserve(b, b->len + n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

void buf_printf(struct kcr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = 0;
    char *s = xvasprintf(fmt, ap, &n);
    va_end(ap);
    buf_append(b, s, n);
    free(s);
}

char *buf_take(struct kcr_buf *b, size_t *ret_len)
{
    if (!b->data)
        reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (ret_len)
        *ret_len = b->len;
    size_t cap = b->cap;
    buf_init(b, cap);
    return p;
}

void buf_done(struct kcr_buf *b)
{
    free(b->data);
    buf_init(b, b->cap);
}
