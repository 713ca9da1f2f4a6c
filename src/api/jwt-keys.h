/* jwt-keys — the set of keys a JWT verifier checks EdDSA and RS256 signatures
 * with: CODEAPI_JWT_PUBLIC_KEY (a PEM or one JWK), CODEAPI_JWT_JWKS_JSON, and the
 * per-kid PEM files of CODEAPI_JWT_PUBLIC_KEYS_DIR, read lazily, kept in a
 * bounded cache and read again when a file changes. Each load of a dir key gets
 * a new generation, so a verified-token cache can tell when its key changed.
 * Not for use outside src/api/jwt*.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <openssl/types.h>

#include "api/jwt-internal.h"
#include "api/jwt.h"
#include "common/err.h"

struct jwt_keys;

/* Loads cfg's public_key and jwks_json and opens keys_dir (its files are read
 * on first use); the other fields of cfg are not looked at. NULL with
 * KCR_ERR_INVALID and a message naming the environment variable at fault. */
struct jwt_keys *jwt_keys_new(const struct kcr_jwt_config *cfg, struct kcr_err *err);
/* Frees ks and every key it holds; accepts NULL, returns NULL. */
struct jwt_keys *jwt_keys_free(struct jwt_keys *ks);

/* True when ks holds or may load at least one key (ks may be NULL). */
bool jwt_keys_enabled(const struct jwt_keys *ks);

/* The one key kid selects for an EdDSA or RS256 token, and in *ret_gen its dir
 * generation (0 for a key that never changes). A new reference the caller frees
 * with EVP_PKEY_free, or NULL with KCR_ERR_INVALID and a reason. Thread-safe. */
EVP_PKEY *jwt_keys_select(struct jwt_keys *ks, enum jwt_alg alg, const char *kid, uint64_t *ret_gen,
                          struct kcr_err *err);

/* Whether the key file of kid is still the one loaded as generation gen.
 * Thread-safe. */
bool jwt_keys_current(struct jwt_keys *ks, const char *kid, uint64_t gen);
