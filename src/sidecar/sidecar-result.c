#include "sidecar/sidecar-result.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <stdint.h>
#include <string.h>

void sidecar_result_init(struct sidecar_result *res, size_t max_output)
{
    memset(res, 0, sizeof(*res));
    buf_init(&res->out, max_output);
    buf_init(&res->err, max_output);
}

void sidecar_result_done(struct sidecar_result *res)
{
    buf_done(&res->out);
    buf_done(&res->err);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

char *sidecar_result_utf8(const char *s, size_t len, size_t *ret_len)
{
    /* Worst case: every byte becomes 3 bytes. */
    char *out = xmalloc(len * 3 + 1);
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(p + i, len - i);
        if (n == 0) {
            memcpy(out + w, "\xef\xbf\xbd", 3);
            w += 3;
            i++;
            continue;
        }
        memcpy(out + w, p + i, n);
        w += n;
        i += n;
    }
    out[w] = '\0';
    *ret_len = w;
    return out;
}

static json_t *stream_json(const struct kcr_buf *b)
{
    size_t n = 0;
    _cleanup_free_ char *clean = sidecar_result_utf8(b->data ? b->data : "", b->len, &n);
    if (!b->truncated)
        return json_stringn(clean, n);
    /* Built with memcpy: the output may contain NUL bytes. */
    _cleanup_free_ char *marker =
        xasprintf("\n[output truncated: limit of %zu bytes reached]\n", b->cap);
    size_t ml = strlen(marker);
    _cleanup_free_ char *marked = xmalloc(n + ml + 1);
    memcpy(marked, clean, n);
    memcpy(marked + n, marker, ml + 1);
    return json_stringn(marked, n + ml);
}

json_t *sidecar_result_to_json(const struct sidecar_result *res)
{
    json_t *o = json_object();
    json_object_set_new(o, "exit_code", json_integer(res->exit_code));
    json_object_set_new(o, "stdout", stream_json(&res->out));
    json_object_set_new(o, "stderr", stream_json(&res->err));
    json_object_set_new(o, "execution_time_ms", json_integer(res->execution_time_ms));
    json_object_set_new(o, "timed_out", json_boolean(res->timed_out));
    json_object_set_new(o, "oom_killed", json_boolean(res->oom_killed));
    json_object_set_new(o, "signal", res->signal ? json_integer(res->signal) : json_null());
    return o;
}
