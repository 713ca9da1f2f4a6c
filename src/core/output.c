#include "core/output.h"
#include "common/buf.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is invalid
 * (overlongs, surrogates and code points past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    uint32_t cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static bool is_dropped_control(unsigned char c)
{
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

char *output_process(const char *data, size_t len, size_t cap_chars, bool is_stdout, bool truncated)
{
    struct kcr_buf out;
    buf_init(&out, 0);
    const unsigned char *p = (const unsigned char *)data;
    size_t chars = 0, i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (n == 1 && is_dropped_control(p[i])) {
            i++;
            continue;
        }
        if (chars == cap_chars) {
            truncated = true;
            break;
        }
        if (n == 0) {
            buf_append(&out, "\xef\xbf\xbd", 3);
            n = 1;
        } else {
            buf_append(&out, p + i, n);
        }
        chars++;
        i += n;
    }
    if (truncated)
        buf_append(&out, OUTPUT_TRUNCATED_MARK, strlen(OUTPUT_TRUNCATED_MARK));
    if (is_stdout && out.len > 0 && out.data[out.len - 1] != '\n')
        buf_append(&out, "\n", 1);
    return buf_take(&out, NULL);
}
