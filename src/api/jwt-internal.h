/* jwt-internal — what jwt.c (tokens, claims, the verified-token cache) shares
 * with jwt-keys.c (the verification key set): limits, algorithm names,
 * base64url decoding and JSON string helpers. Not for use outside src/api/jwt*.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"

#define KID_MAX      128   /* longest accepted kid, bytes */
#define KEY_TEXT_MAX 65536 /* a key file, a JWK member: a 16384-bit RSA PEM is ~3 KiB */

/* Every refusal of a token is KCR_ERR_INVALID with a short reason. */
#define REFUSE(err, ...) kcr_err_set((err), 0, KCR_ERR_INVALID, __VA_ARGS__)

enum jwt_alg {
    ALG_EDDSA = 1u << 0,
    ALG_RS256 = 1u << 1,
    ALG_HS256 = 1u << 2,
};

/* The algorithm named name ("EdDSA", "RS256", "HS256"), or 0. */
enum jwt_alg jwt_alg_bit(const char *name);
/* The name of one algorithm bit, "?" for anything else. A static string. */
const char *jwt_alg_name(enum jwt_alg bit);

/* Whether a configuration string is given: non-NULL and non-empty. */
bool jwt_is_set(const char *s);

/* The string value of j when it is a string of at most max bytes without an
 * embedded NUL; NULL otherwise. Borrowed from j. */
const char *jwt_json_cstr(const json_t *j, size_t max);

/* Whether c is a base64url character: [A-Za-z0-9_-]. */
bool jwt_b64url_char(unsigned char c);

/* Decodes len bytes of unpadded base64url into a new buffer (the caller frees
 * it) and sets *ret_len. NULL for a byte outside [A-Za-z0-9_-] (so also '='), a
 * length no encoding has, or more than KEY_TEXT_MAX bytes of input. */
unsigned char *jwt_b64url_decode(const char *s, size_t len, size_t *ret_len);
