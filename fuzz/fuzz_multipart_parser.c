/* Fuzzes the multipart/form-data parser (src/http/http-multipart.c) directly,
 * without a server. Input: the first byte picks the Content-Type (bit 7:
 * boundary "k" or "kcrfuzz") and a chunk size (bits 0-5: 1 to 64 bytes); the
 * rest is the body. It is parsed twice, in one call and in chunks of that
 * size. Properties (abort otherwise): both runs give the same result and the
 * same events (begin with its strings, data as one byte stream per part, end;
 * hashed); callbacks come in order (data and end only inside a part, data
 * never empty); strings are at most HTTP_MP_MAX_VALUE bytes; the data of all
 * parts together is no longer than the body. A part named "stop" makes
 * part_begin return -1, so the stop path is covered too. */
#include "fuzz.h"
#include "http/http-multipart.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct run {
    uint64_t hash;
    bool in_part;
    size_t data_total, part_len;
};

static void mix(struct run *r, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        r->hash = (r->hash ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
}

static void mix_str(struct run *r, const char *s)
{
    if (!s) {
        mix(r, "\xff", 1); /* NULL differs from "" */
        return;
    }
    size_t n = strlen(s);
    if (n > HTTP_MP_MAX_VALUE)
        abort();
    mix(r, s, n + 1);
}

static int on_begin(void *ctx, const char *name, const char *filename, const char *ctype)
{
    struct run *r = ctx;
    if (r->in_part || !name)
        abort();
    r->in_part = true;
    r->part_len = 0;
    mix(r, "B", 1);
    mix_str(r, name);
    mix_str(r, filename);
    mix_str(r, ctype);
    return strcmp(name, "stop") ? 0 : -1;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    struct run *r = ctx;
    if (!r->in_part || !len)
        abort();
    /* No marker per call: how the data was split must not show. */
    mix(r, data, len);
    r->part_len += len;
    r->data_total += len;
    return 0;
}

static int on_end(void *ctx)
{
    struct run *r = ctx;
    if (!r->in_part)
        abort();
    r->in_part = false;
    mix(r, "E", 1);
    mix(r, &r->part_len, sizeof(r->part_len));
    return 0;
}

static const struct http_mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses body in chunks of chunk bytes; returns the result, hash in *r. */
static int parse(const char *ct, const char *body, size_t len, size_t chunk, struct run *r)
{
    *r = (struct run){.hash = 0xcbf29ce484222325ull};
    struct http_mp *mp = http_mp_new(ct, &cbs, r);
    if (!mp)
        abort();
    int rc = HTTP_MP_OK;
    for (size_t off = 0; off < len; off += chunk) {
        int c = http_mp_feed(mp, body + off, len - off < chunk ? len - off : chunk);
        if (rc != HTTP_MP_OK && c != rc)
            abort(); /* errors stick */
        rc = c;
    }
    int fin = http_mp_finish(mp);
    if ((rc != HTTP_MP_OK && fin != rc) || (fin == HTTP_MP_OK && r->in_part))
        abort(); /* a complete body has no part left open */
    http_mp_free(mp);
    return fin;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *ct = data[0] & 0x80 ? "multipart/form-data; boundary=kcrfuzz"
                                    : "multipart/form-data; boundary=k";
    size_t chunk = (size_t)(data[0] & 0x3f) + 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct run whole, chunked;
    int r1 = parse(ct, body, len, len ? len : 1, &whole);
    int r2 = parse(ct, body, len, chunk, &chunked);
    if (r1 != r2 || whole.hash != chunked.hash || whole.data_total != chunked.data_total ||
        whole.data_total > len)
        abort();
    return 0;
}
