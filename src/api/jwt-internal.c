#include "api/jwt-internal.h"

#include <string.h>

#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

static const struct {
    const char *name;
    enum jwt_alg bit;
} alg_names[] = {{"EdDSA", ALG_EDDSA}, {"RS256", ALG_RS256}, {"HS256", ALG_HS256}};

enum jwt_alg jwt_alg_bit(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(alg_names); i++)
        if (strcmp(name, alg_names[i].name) == 0)
            return alg_names[i].bit;
    return 0;
}

const char *jwt_alg_name(enum jwt_alg bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(alg_names); i++)
        if (alg_names[i].bit == bit)
            return alg_names[i].name;
    return "?";
}

bool jwt_is_set(const char *s)
{
    return s && *s;
}

/* The string value of j when it is a string of at most max bytes without an
 * embedded NUL (which would make C comparisons see a different string). */
const char *jwt_json_cstr(const json_t *j, size_t max)
{
    const char *s = json_string_value(j);
    size_t len = json_string_length(j);
    return s && len <= max && strlen(s) == len ? s : NULL;
}

/*** base64url (RFC 7515 §2), decoded by OpenSSL ***/

bool jwt_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Decodes len bytes of unpadded base64url into a new buffer.
 * NULL for a byte outside [A-Za-z0-9_-] (so also '='), or a length no encoding has. */
unsigned char *jwt_b64url_decode(const char *s, size_t len, size_t *ret_len)
{
    if (len % 4 == 1 || len > KEY_TEXT_MAX)
        return NULL;
    size_t pad = (4 - len % 4) % 4;
    _cleanup_free_ char *in = xmalloc(len + pad + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!jwt_b64url_char(c))
            return NULL;
        in[i] = c == '-' ? '+' : c == '_' ? '/' : (char)c;
    }
    memset(in + len, '=', pad);
    /* EVP_DecodeBlock counts the bytes the padding stands for as decoded zeros. */
    size_t full = (len + pad) / 4 * 3;
    _cleanup_free_ unsigned char *out = xmalloc(full + 1);
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)(len + pad));
    if (n < 0 || (size_t)n != full)
        return NULL;
    *ret_len = full - pad;
    return TAKE_PTR(out);
}
