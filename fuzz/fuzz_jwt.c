/* Fuzzes JWT verification (src/api/jwt*.c) as `Authorization: Bearer` feeds
 * it: each input is a token, verified with a fixed key set (one Ed25519 JWK,
 * kid "fuzz-1", and an HS256 secret) at a fixed time. fuzz/jwt-seeds.py made
 * the seeds with the same keys, so mutations start from tokens that verify.
 * Properties (abort otherwise): verification answers 0 or -1; 0 gives a
 * non-empty sub and tenant within their bounds and an exp not yet past; -1 is
 * KCR_ERR_INVALID, and its message never quotes the token; a verified token
 * has the shape jwt_looks_like_token accepts. */
#include "fuzz.h"
#include "api/jwt-internal.h"
#include "api/jwt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1767225600 /* fuzz/jwt-seeds.py */
static const char jwks[] =
    "{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": "
    "\"4aPb0md9OzyGmOuFO__j333kmDql3eh-uV25f2zsz5g\", \"kid\": \"fuzz-1\"}]}";
static struct kcr_jwt_verifier *verifier;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct kcr_jwt_config cfg = {
        .jwks_json = jwks,
        .allowed_algs = "EdDSA,HS256",
        .hs256_secret = "kcr-fuzz-hs256-secret-0123456789abcdef",
        .clock_skew_s = 30,
        .max_ttl_s = 300,
    };
    struct kcr_err err = {0};
    verifier = jwt_verifier_new(&cfg, &err);
    if (!verifier) {
        fprintf(stderr, "jwt_verifier_new: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = strndup((const char *)data, size);
    struct kcr_jwt_claims c;
    struct kcr_err err = {0};
    int r = jwt_verify(verifier, tok, NOW, &c, &err);
    if (r == 0 &&
        (!c.sub[0] || strlen(c.sub) > KCR_JWT_SUB_MAX || !c.tenant[0] ||
         strlen(c.tenant) > KCR_JWT_TENANT_MAX || c.exp + 30 < NOW || !jwt_looks_like_token(tok)))
        abort();
    if (r != 0 &&
        (r != -1 || err.kind != KCR_ERR_INVALID || (strlen(tok) >= 16 && strstr(err.msg, tok))))
        abort();
    size_t n;
    free(jwt_b64url_decode(tok, strlen(tok), &n));
    free(tok);
    return 0;
}
