/* jwt — verification of LibreChat-minted JSON Web Tokens.
 *
 * LibreChat >= v0.8.6 authenticates to the code API with `Authorization: Bearer
 * <JWT>`: a compact JWS (header.payload.signature, base64url without padding)
 * signed with EdDSA (Ed25519) or RS256, carrying iss, aud, sub (the user id),
 * iat/nbf/exp (lifetime <= 300 s) and tenant_id (docs/auth.md, "LibreChat JWTs").
 * The verifier is configured from the reference
 * server's CODEAPI_JWT_* variables, refuses everything it does not positively
 * recognise (alg none, crit headers, unknown kids, HS256 unless a dedicated
 * secret is set) and remembers verified tokens by their SHA-256 until they
 * expire, so a client that reuses one token for 30 s pays one signature check. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

#define KCR_JWT_SUB_MAX    255 /* longest accepted sub, bytes */
#define KCR_JWT_TENANT_MAX 64  /* longest accepted tenant_id, bytes */

/* The CODEAPI_JWT_* settings. Strings are borrowed for the call to
 * jwt_verifier_new only; an empty string counts as NULL. */
struct kcr_jwt_config {
    /* CODEAPI_JWT_PUBLIC_KEY: a PEM public key or one JWK JSON object; NULL = none */
    const char *public_key;
    const char *jwks_json;        /* CODEAPI_JWT_JWKS_JSON: {"keys":[JWK,...]}; NULL = none */
    const char *keys_dir;         /* CODEAPI_JWT_PUBLIC_KEYS_DIR: one PEM per kid; NULL = none */
    const char *issuer;           /* CODEAPI_JWT_ISSUER, NULL = "librechat" */
    const char *audience;         /* CODEAPI_JWT_AUDIENCE, NULL = "codeapi" */
    const char *allowed_algs;     /* CODEAPI_JWT_ALLOWED_ALGS, comma list, NULL = "EdDSA,RS256" */
    const char *hs256_secret;     /* CODEAPI_JWT_HS256_SECRET, NULL = none */
    long clock_skew_s;            /* CODEAPI_JWT_CLOCK_SKEW_SECONDS (caller passes 30 by default) */
    long max_ttl_s;               /* CODEAPI_JWT_MAX_TTL_SECONDS (caller passes 300 by default) */
    const char *single_tenant_id; /* CODEAPI_JWT_SINGLE_TENANT_ID, NULL = "legacy" */
};

/* What a verified token says about its caller. */
struct kcr_jwt_claims {
    char sub[KCR_JWT_SUB_MAX + 1];
    char tenant[KCR_JWT_TENANT_MAX + 1]; /* tenant_id, else single_tenant_id */
    int64_t exp;                         /* seconds since the epoch */
};

struct kcr_jwt_verifier;

/* Builds a verifier (keys parsed, PEM files of keys_dir read lazily). Fails
 * with KCR_ERR_INVALID and a message naming the environment variable at fault
 * (e.g. "CODEAPI_JWT_PUBLIC_KEY: not a PEM public key or a JWK"). */
struct kcr_jwt_verifier *jwt_verifier_new(const struct kcr_jwt_config *cfg, struct kcr_err *err);
/* Frees v and its keys; accepts NULL, returns NULL. */
struct kcr_jwt_verifier *jwt_verifier_free(struct kcr_jwt_verifier *v);

/* True when at least one verification key or the HS256 secret is configured. */
bool jwt_verifier_enabled(const struct kcr_jwt_verifier *v);

/* Verifies token at time now_s (seconds since the epoch). 0 and *ret filled, or
 * -1 with KCR_ERR_INVALID and a one-line reason for the log in err->msg (never the
 * token itself). Thread-safe. */
int jwt_verify(struct kcr_jwt_verifier *v, const char *token, int64_t now_s,
               struct kcr_jwt_claims *ret, struct kcr_err *err);

/* Whether s has the shape of a compact JWS (three non-empty base64url segments), so a
 * Bearer value can be told from an API key without verifying it. */
bool jwt_looks_like_token(const char *s);
