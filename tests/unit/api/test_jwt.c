/* Unit tests for api/jwt: verification of LibreChat-minted JWTs. Keys are made
 * here with OpenSSL (Ed25519, RSA-2048, and RSA-1024 and P-256 for refusals),
 * tokens are signed here, and every refusal is checked by its exact reason, so
 * a check that goes missing makes a test fail rather than pass for another
 * reason. Times are fixed (NOW); each token carries a fresh jti so that the
 * verifier's cache of verified tokens never answers for a check under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "api/jwt.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

#define NOW    1780000000LL
#define KID    "lc-codeapi-2026-05"
#define SECRET "a-development-hs256-secret-of-40-bytes!!"

static EVP_PKEY *ed_a, *ed_b, *ed_c, *rsa_a, *rsa_small, *ec_key;
static char *pem_ed_a, *pem_ed_b, *pem_ed_c, *pem_rsa_a;

/*** Keys ***/

static char *pem_of(EVP_PKEY *key, bool private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    if (private)
        assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
    long n = BIO_get_mem_data(bio, &data);
    char *pem = xstrndup(data, (size_t)n);
    BIO_free(bio);
    return pem;
}

static char *b64url(const void *data, size_t len)
{
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    return out;
}

static json_t *b64url_json(const unsigned char *data, size_t len)
{
    char *s = b64url(data, len);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *bn_param(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, name, &bn), 1);
    unsigned char buf[1024];
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url_json(buf, (size_t)n);
}

/* The public JWK of key; kid and alg when non-NULL; a private "d" when asked. */
static json_t *jwk_obj(EVP_PKEY *key, const char *kid, const char *alg, bool with_d)
{
    json_t *j = json_object();
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        unsigned char raw[32];
        size_t n = sizeof(raw);
        assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &n), 1);
        json_object_set_new(j, "kty", json_string("OKP"));
        json_object_set_new(j, "crv", json_string("Ed25519"));
        json_object_set_new(j, "x", b64url_json(raw, n));
    } else {
        json_object_set_new(j, "kty", json_string("RSA"));
        json_object_set_new(j, "n", bn_param(key, OSSL_PKEY_PARAM_RSA_N));
        json_object_set_new(j, "e", bn_param(key, OSSL_PKEY_PARAM_RSA_E));
    }
    if (kid)
        json_object_set_new(j, "kid", json_string(kid));
    if (alg)
        json_object_set_new(j, "alg", json_string(alg));
    if (with_d)
        json_object_set_new(j, "d", json_string("AAAA"));
    return j;
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static char *jwk(EVP_PKEY *key, const char *kid, const char *alg, bool with_d)
{
    return dump(jwk_obj(key, kid, alg, with_d));
}

/* {"keys":[a, b]} (b may be NULL); takes the references. */
static char *jwks(json_t *a, json_t *b)
{
    json_t *keys = json_array();
    json_array_append_new(keys, a);
    if (b)
        json_array_append_new(keys, b);
    return dump(json_pack("{s:o}", "keys", keys));
}

/*** Tokens ***/

/* Signs header.payload as given: with an Ed25519 key EdDSA, with an RSA key
 * RS256, with a secret HMAC-SHA256, with neither an empty signature. The
 * header's alg is whatever the caller wrote, so mismatches can be built. */
static char *sign_text(const char *header, const char *payload, EVP_PKEY *key, const char *secret)
{
    char *h = b64url(header, strlen(header)), *p = b64url(payload, strlen(payload));
    char *input = xasprintf("%s.%s", h, p);
    unsigned char sig[1024];
    size_t sig_len = 0;
    if (key) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? EVP_sha256() : NULL;
        sig_len = sizeof(sig);
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key), 1);
        assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)input, strlen(input)),
                         1);
        EVP_MD_CTX_free(ctx);
    } else if (secret) {
        unsigned int n = 0;
        assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)input,
                             strlen(input), sig, &n));
        sig_len = n;
    }
    char *s = b64url(sig, sig_len);
    char *token = xasprintf("%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return token;
}

/* Takes the references to header and claims. */
static char *token_of(json_t *header, json_t *claims, EVP_PKEY *key, const char *secret)
{
    char *h = dump(header), *c = dump(claims);
    char *token = sign_text(h, c, key, secret);
    free(h);
    free(c);
    return token;
}

static json_t *hdr(const char *alg, const char *kid)
{
    json_t *h = json_pack("{s:s, s:s}", "alg", alg, "typ", "JWT");
    if (kid)
        json_object_set_new(h, "kid", json_string(kid));
    return h;
}

/* LibreChat's claims at time now (ttl 300 s), each set with its own jti. */
static json_t *claims_at(int64_t now)
{
    static int jti;
    char id[32];
    snprintf(id, sizeof(id), "jti-%d", ++jti);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "iss", "librechat",
                     "aud", "codeapi", "sub", "user-1", "iat", (json_int_t)now, "nbf",
                     (json_int_t)now, "exp", (json_int_t)(now + 300), "jti", id, "tenant_id",
                     "acme", "role", "USER", "principal_source", "librechat_jwt",
                     "auth_context_hash", "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
}

static json_t *with(json_t *claims, const char *name, json_t *value)
{
    json_object_set_new(claims, name, value);
    return claims;
}

static json_t *without(json_t *claims, const char *name)
{
    json_object_del(claims, name);
    return claims;
}

/* An EdDSA token by ed_a with kid KID. */
static char *tok_ed(json_t *claims)
{
    return token_of(hdr("EdDSA", KID), claims, ed_a, NULL);
}

static char *tok_times(int64_t iat, int64_t nbf, int64_t exp)
{
    json_t *c = with(claims_at(iat), "exp", json_integer(exp));
    return tok_ed(nbf ? with(c, "nbf", json_integer(nbf)) : without(c, "nbf"));
}

/*** Verifiers and expectations ***/

static struct kcr_jwt_config cfg_base(void)
{
    return (struct kcr_jwt_config){.clock_skew_s = 30, .max_ttl_s = 300};
}

static struct kcr_jwt_verifier *verifier(struct kcr_jwt_config cfg)
{
    struct kcr_err err = {0};
    struct kcr_jwt_verifier *v = jwt_verifier_new(&cfg, &err);
    if (!v)
        fail_msg("jwt_verifier_new: %s", err.msg);
    return v;
}

static struct kcr_jwt_verifier *verifier_key(const char *public_key)
{
    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = public_key;
    return verifier(cfg);
}

static void new_fails(struct kcr_jwt_config cfg, const char *prefix)
{
    struct kcr_err err = {0};
    assert_null(jwt_verifier_new(&cfg, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("got '%s', want a message starting '%s'", err.msg, prefix);
}

/* Verifies token (freed here) at now and expects sub and tenant. */
static void ok(struct kcr_jwt_verifier *v, char *token, int64_t now, const char *sub,
               const char *tenant)
{
    struct kcr_err err = {0};
    struct kcr_jwt_claims c;
    memset(&c, 0x5a, sizeof(c));
    if (jwt_verify(v, token, now, &c, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_string_equal(c.sub, sub);
    assert_string_equal(c.tenant, tenant);
    free(token);
}

/* Verifies token (freed here) at now and expects the refusal reason, which
 * must not quote the token or any sizable part of it. */
static void refused(struct kcr_jwt_verifier *v, char *token, int64_t now, const char *reason)
{
    struct kcr_err err = {0};
    struct kcr_jwt_claims c;
    assert_int_equal(jwt_verify(v, token, now, &c, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_string_equal(err.msg, reason);
    for (const char *seg = token; seg && *seg;
         seg = strchr(seg, '.') ? strchr(seg, '.') + 1 : NULL) {
        size_t len = strcspn(seg, ".");
        char part[16];
        if (len < sizeof(part))
            continue;
        memcpy(part, seg, sizeof(part) - 1);
        part[sizeof(part) - 1] = '\0';
        assert_null(strstr(err.msg, part));
    }
    free(token);
}

/*** Tests: valid tokens ***/

static void test_valid_eddsa(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    assert_true(jwt_verifier_enabled(v));
    char *token = tok_ed(claims_at(NOW));
    struct kcr_jwt_claims c;
    struct kcr_err err = {0};
    assert_int_equal(jwt_verify(v, token, NOW + 10, &c, &err), 0);
    assert_string_equal(c.sub, "user-1");
    assert_string_equal(c.tenant, "acme");
    assert_int_equal(c.exp, NOW + 300);
    free(token);
    /* No tenant_id: the single-tenant default. No kid: the one public key. */
    ok(v, tok_ed(without(claims_at(NOW), "tenant_id")), NOW, "user-1", "legacy");
    ok(v, token_of(hdr("EdDSA", NULL), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    /* UTF-8 in sub is fine; only control bytes are refused. */
    ok(v, tok_ed(with(claims_at(NOW), "sub", json_string("us\xc3\xa9r"))), NOW, "us\xc3\xa9r",
       "acme");
    jwt_verifier_free(v);

    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.single_tenant_id = "solo";
    v = verifier(cfg);
    ok(v, tok_ed(without(claims_at(NOW), "tenant_id")), NOW, "user-1", "solo");
    jwt_verifier_free(v);
}

static void test_valid_rs256(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_rsa_a);
    char *token = token_of(hdr("RS256", KID), claims_at(NOW), rsa_a, NULL);
    struct kcr_jwt_claims c;
    struct kcr_err err = {0};
    assert_int_equal(jwt_verify(v, token, NOW, &c, &err), 0);
    assert_string_equal(c.sub, "user-1");
    assert_int_equal(c.exp, NOW + 300);
    free(token);
    /* An RSA key never checks an EdDSA token, an Ed25519 key never an RS256 one. */
    refused(v, tok_ed(claims_at(NOW)), NOW, "key does not fit algorithm 'EdDSA'");
    jwt_verifier_free(v);
    v = verifier_key(pem_ed_a);
    refused(v, token_of(hdr("RS256", KID), claims_at(NOW), ed_a, NULL), NOW,
            "key does not fit algorithm 'RS256'");
    jwt_verifier_free(v);
}

/*** Tests: claims ***/

static void test_audience(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    ok(v, tok_ed(with(claims_at(NOW), "aud", json_pack("[s, s]", "other", "codeapi"))), NOW,
       "user-1", "acme");
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_pack("[s, s]", "x", "y"))), NOW,
            "wrong audience");
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_pack("[i]", 1))), NOW, "wrong audience");
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_string("other"))), NOW, "wrong audience");
    /* jansson refuses "\u0000" (no JSON_ALLOW_NUL), so "codeapi\0x" never compares as "codeapi". */
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_stringn("codeapi\0x", 9))), NOW,
            "malformed payload");
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_string("codeapi "))), NOW, "wrong audience");
    refused(v, tok_ed(with(claims_at(NOW), "aud", json_integer(7))), NOW, "wrong audience");
    refused(v, tok_ed(without(claims_at(NOW), "aud")), NOW, "missing aud");
    jwt_verifier_free(v);

    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.audience = "kcr";
    v = verifier(cfg);
    ok(v, tok_ed(with(claims_at(NOW), "aud", json_string("kcr"))), NOW, "user-1", "acme");
    refused(v, tok_ed(claims_at(NOW)), NOW, "wrong audience");
    jwt_verifier_free(v);
}

static void test_issuer(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, tok_ed(with(claims_at(NOW), "iss", json_string("mallory"))), NOW, "wrong issuer");
    refused(v, tok_ed(with(claims_at(NOW), "iss", json_string("librechat2"))), NOW, "wrong issuer");
    refused(v, tok_ed(with(claims_at(NOW), "iss", json_integer(1))), NOW, "wrong issuer");
    refused(v, tok_ed(without(claims_at(NOW), "iss")), NOW, "missing iss");
    jwt_verifier_free(v);

    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.issuer = "https://chat.example";
    v = verifier(cfg);
    ok(v, tok_ed(with(claims_at(NOW), "iss", json_string("https://chat.example"))), NOW, "user-1",
       "acme");
    refused(v, tok_ed(claims_at(NOW)), NOW, "wrong issuer");
    jwt_verifier_free(v);
}

static void test_sub(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    char longest[KCR_JWT_SUB_MAX + 2];
    memset(longest, 'u', sizeof(longest));
    longest[KCR_JWT_SUB_MAX] = '\0';
    ok(v, tok_ed(with(claims_at(NOW), "sub", json_string(longest))), NOW, longest, "acme");
    longest[KCR_JWT_SUB_MAX] = 'u';
    longest[KCR_JWT_SUB_MAX + 1] = '\0';
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_string(longest))), NOW, "bad sub");
    refused(v, tok_ed(without(claims_at(NOW), "sub")), NOW, "missing sub");
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_string(""))), NOW, "bad sub");
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_string("a\nb"))), NOW, "bad sub");
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_string("a\x7f"))), NOW, "bad sub");
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_stringn("a\0b", 3))), NOW,
            "malformed payload");
    refused(v, tok_ed(with(claims_at(NOW), "sub", json_integer(42))), NOW, "bad sub");
    jwt_verifier_free(v);
}

static void test_tenant(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    char longest[KCR_JWT_TENANT_MAX + 2];
    memset(longest, 't', sizeof(longest));
    longest[KCR_JWT_TENANT_MAX] = '\0';
    ok(v, tok_ed(with(claims_at(NOW), "tenant_id", json_string(longest))), NOW, "user-1", longest);
    longest[KCR_JWT_TENANT_MAX] = 't';
    longest[KCR_JWT_TENANT_MAX + 1] = '\0';
    refused(v, tok_ed(with(claims_at(NOW), "tenant_id", json_string(longest))), NOW,
            "bad tenant_id");
    refused(v, tok_ed(with(claims_at(NOW), "tenant_id", json_string(""))), NOW, "bad tenant_id");
    refused(v, tok_ed(with(claims_at(NOW), "tenant_id", json_string("a\tb"))), NOW,
            "bad tenant_id");
    refused(v, tok_ed(with(claims_at(NOW), "tenant_id", json_integer(3))), NOW, "bad tenant_id");
    refused(v, tok_ed(with(claims_at(NOW), "tenant_id", json_null())), NOW, "bad tenant_id");
    jwt_verifier_free(v);
}

/*** Tests: times ***/

static void test_expiry_and_skew(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    /* exp = NOW + 300, skew 30: valid through NOW + 329. */
    ok(v, tok_times(NOW, NOW, NOW + 300), NOW + 329, "user-1", "acme");
    refused(v, tok_times(NOW, NOW, NOW + 300), NOW + 330, "token expired");
    refused(v, tok_times(NOW - 1000, NOW - 1000, NOW - 800), NOW, "token expired");
    /* nbf = NOW + 100: valid from NOW + 70. */
    refused(v, tok_times(NOW, NOW + 100, NOW + 300), NOW + 69, "token not yet valid");
    ok(v, tok_times(NOW, NOW + 100, NOW + 300), NOW + 70, "user-1", "acme");
    /* iat = NOW + 100, no nbf: valid from NOW + 70. */
    refused(v, tok_times(NOW + 100, 0, NOW + 400), NOW + 69, "token issued in the future");
    ok(v, tok_times(NOW + 100, 0, NOW + 400), NOW + 70, "user-1", "acme");
    jwt_verifier_free(v);

    /* Without skew the bounds are exact. */
    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.clock_skew_s = 0;
    v = verifier(cfg);
    ok(v, tok_times(NOW, NOW, NOW + 300), NOW + 299, "user-1", "acme");
    refused(v, tok_times(NOW, NOW, NOW + 300), NOW + 300, "token expired");
    refused(v, tok_times(NOW, NOW + 10, NOW + 300), NOW + 9, "token not yet valid");
    refused(v, tok_times(NOW + 10, 0, NOW + 300), NOW + 9, "token issued in the future");
    jwt_verifier_free(v);
}

static void test_lifetime(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, tok_times(NOW, NOW, NOW + 3600), NOW, "lifetime 3600 s over the maximum of 300 s");
    refused(v, tok_times(NOW, NOW, NOW + 301), NOW, "lifetime 301 s over the maximum of 300 s");
    ok(v, tok_times(NOW, NOW, NOW + 300), NOW, "user-1", "acme");
    refused(v, tok_times(NOW, NOW, NOW), NOW, "exp not after iat");
    refused(v, tok_times(NOW, NOW, NOW - 5), NOW, "exp not after iat");
    jwt_verifier_free(v);
}

static void test_time_claims(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, tok_ed(without(claims_at(NOW), "iat")), NOW, "missing iat");
    refused(v, tok_ed(without(claims_at(NOW), "exp")), NOW, "missing exp");
    refused(v, tok_ed(with(claims_at(NOW), "iat", json_string("1780000000"))), NOW, "bad iat");
    refused(v, tok_ed(with(claims_at(NOW), "exp", json_integer(-1))), NOW, "bad exp");
    refused(v, tok_ed(with(claims_at(NOW), "exp", json_real(1e300))), NOW, "bad exp");
    refused(v, tok_ed(with(claims_at(NOW), "exp", json_integer(INT64_MAX))), NOW, "bad exp");
    refused(v, tok_ed(with(claims_at(NOW), "nbf", json_null())), NOW, "bad nbf");
    /* Reals are NumericDates too, truncated. */
    json_t *c = with(claims_at(NOW), "iat", json_real((double)NOW + 0.9));
    c = with(with(c, "nbf", json_real((double)NOW + 0.9)), "exp", json_real((double)NOW + 300.7));
    char *token = tok_ed(c);
    struct kcr_jwt_claims out;
    struct kcr_err err = {0};
    assert_int_equal(jwt_verify(v, token, NOW, &out, &err), 0);
    assert_int_equal(out.exp, NOW + 300);
    free(token);
    jwt_verifier_free(v);
}

/*** Tests: signatures and algorithms ***/

static void test_wrong_key_and_tampering(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, token_of(hdr("EdDSA", KID), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    /* Claims re-encoded (another sub), the original signature kept. */
    char *good = tok_ed(claims_at(NOW));
    char *evil = tok_ed(with(claims_at(NOW), "sub", json_string("admin")));
    char *sig = strrchr(good, '.'), *cut = strrchr(evil, '.');
    *cut = '\0';
    char *forged = xasprintf("%s%s", evil, sig);
    refused(v, forged, NOW, "bad signature");
    ok(v, good, NOW, "user-1", "acme");
    free(evil);
    /* Empty and truncated signatures. */
    char *token = tok_ed(claims_at(NOW));
    strrchr(token, '.')[1] = '\0';
    refused(v, token, NOW, "bad signature");
    token = tok_ed(claims_at(NOW));
    token[strlen(token) - 4] = '\0';
    refused(v, token, NOW, "bad signature");
    jwt_verifier_free(v);
}

static void test_alg_none(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, token_of(hdr("none", KID), claims_at(NOW), NULL, NULL), NOW,
            "algorithm 'none' refused");
    refused(v, token_of(hdr("NONE", NULL), claims_at(NOW), NULL, NULL), NOW,
            "algorithm 'none' refused");
    refused(v, token_of(hdr("nOnE", KID), claims_at(NOW), ed_a, NULL), NOW,
            "algorithm 'none' refused");
    refused(v, token_of(hdr("ES256", KID), claims_at(NOW), ed_a, NULL), NOW, "unknown algorithm");
    refused(v, token_of(hdr("HS512", KID), claims_at(NOW), NULL, SECRET), NOW, "unknown algorithm");
    refused(v, token_of(json_pack("{s:s}", "kid", KID), claims_at(NOW), ed_a, NULL), NOW,
            "missing alg");
    refused(v, token_of(json_pack("{s:i}", "alg", 1), claims_at(NOW), ed_a, NULL), NOW, "bad alg");
    jwt_verifier_free(v);

    /* none can never be allowed: the constructor refuses the list. */
    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.allowed_algs = "EdDSA,none";
    new_fails(cfg, "CODEAPI_JWT_ALLOWED_ALGS: 'none'");
    cfg.allowed_algs = "EdDSA, ES256";
    new_fails(cfg, "CODEAPI_JWT_ALLOWED_ALGS: 'ES256'");
    cfg.allowed_algs = " , ";
    new_fails(cfg, "CODEAPI_JWT_ALLOWED_ALGS: no algorithm");
    cfg.allowed_algs = "HS256";
    new_fails(cfg, "CODEAPI_JWT_ALLOWED_ALGS: HS256 needs");

    /* An allowed list without RS256 refuses RS256 tokens. */
    cfg.public_key = pem_rsa_a;
    cfg.allowed_algs = " EdDSA ";
    v = verifier(cfg);
    refused(v, token_of(hdr("RS256", KID), claims_at(NOW), rsa_a, NULL), NOW,
            "algorithm 'RS256' not allowed");
    jwt_verifier_free(v);
}

static void test_hs256(void **state)
{
    (void)state;
    /* The classic confusion: HMAC keyed with the public key's PEM text. */
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, token_of(hdr("HS256", KID), claims_at(NOW), NULL, pem_ed_a), NOW,
            "algorithm 'HS256' not allowed");
    jwt_verifier_free(v);

    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.allowed_algs = "EdDSA,HS256";
    cfg.hs256_secret = SECRET;
    v = verifier(cfg);
    refused(v, token_of(hdr("HS256", KID), claims_at(NOW), NULL, pem_ed_a), NOW, "bad signature");
    refused(
        v, token_of(hdr("HS256", NULL), claims_at(NOW), NULL, "another-secret-of-32-bytes-or-more"),
        NOW, "bad signature");
    ok(v, token_of(hdr("HS256", KID), claims_at(NOW), NULL, SECRET), NOW, "user-1", "acme");
    ok(v, token_of(hdr("HS256", NULL), claims_at(NOW), NULL, SECRET), NOW, "user-1", "acme");
    /* The secret is not an EdDSA key either. */
    ok(v, tok_ed(claims_at(NOW)), NOW, "user-1", "acme");
    refused(v, token_of(hdr("EdDSA", KID), claims_at(NOW), NULL, SECRET), NOW, "bad signature");
    jwt_verifier_free(v);

    /* A secret-only verifier is enabled and checks HS256 alone. */
    cfg = cfg_base();
    cfg.allowed_algs = "HS256";
    cfg.hs256_secret = SECRET;
    v = verifier(cfg);
    assert_true(jwt_verifier_enabled(v));
    ok(v, token_of(hdr("HS256", NULL), claims_at(NOW), NULL, SECRET), NOW, "user-1", "acme");
    refused(v, tok_ed(claims_at(NOW)), NOW, "algorithm 'EdDSA' not allowed");
    jwt_verifier_free(v);

    /* Secrets that are key material or too short are configuration mistakes. */
    cfg = cfg_base();
    cfg.public_key = pem_ed_a;
    cfg.allowed_algs = "EdDSA,HS256";
    cfg.hs256_secret = pem_ed_a;
    new_fails(cfg, "CODEAPI_JWT_HS256_SECRET: ");
    cfg.hs256_secret = "xx-----BEGIN-a-secret-long-enough-for-hs256";
    new_fails(cfg, "CODEAPI_JWT_HS256_SECRET: ");
    cfg.hs256_secret = "0123456789abcdef0123456789abcde"; /* 31 bytes */
    new_fails(cfg, "CODEAPI_JWT_HS256_SECRET: shorter than 32 bytes");
}

/*** Tests: malformed tokens ***/

static void test_garbage(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    refused(v, xstrdup(""), NOW, "missing token");
    refused(v, xstrdup("a.b"), NOW, "malformed token");
    refused(v, xstrdup("a.b.c.d"), NOW, "malformed token");
    refused(v, xstrdup(".b.c"), NOW, "malformed token");
    refused(v, xstrdup("a..c"), NOW, "malformed token");
    refused(v, xstrdup("eyJ!.eyJ.c"), NOW, "malformed token");
    refused(v, xstrdup("aaaaa.bbbb.cccc"), NOW, "malformed header");
    struct kcr_err err = {0};
    struct kcr_jwt_claims c;
    assert_int_equal(jwt_verify(v, NULL, NOW, &c, &err), -1);
    assert_string_equal(err.msg, "missing token");

    /* Padding, the standard alphabet and whitespace are not base64url. */
    char *token = tok_ed(claims_at(NOW));
    refused(v, xasprintf("%s=", token), NOW, "malformed token");
    refused(v, xasprintf("%s==", token), NOW, "malformed token");
    refused(v, xasprintf(" %s", token), NOW, "malformed token");
    char *plus = xstrdup(token);
    plus[strlen(plus) - 2] = '+';
    refused(v, plus, NOW, "malformed token");
    char *eq = xstrdup(token);
    *strchr(eq, '.') = '='; /* header."payload" -> an '=' inside */
    refused(v, eq, NOW, "malformed token");
    free(token);

    /* 10 KiB of token-shaped text. */
    char *big = xmalloc(10 * 1024 + 1);
    memset(big, 'A', 10 * 1024);
    big[10] = big[20] = '.';
    big[10 * 1024] = '\0';
    refused(v, big, NOW, "token longer than 8192 bytes");

    /* Header and payload must be JSON objects without duplicate members. */
    refused(v, sign_text("not json", "{}", ed_a, NULL), NOW, "malformed header");
    refused(v, sign_text("[\"EdDSA\"]", "{}", ed_a, NULL), NOW, "malformed header");
    refused(v, sign_text("{\"alg\":\"HS256\",\"alg\":\"EdDSA\"}", "{}", ed_a, NULL), NOW,
            "malformed header");
    refused(v, sign_text("{\"alg\":\"EdDSA\"}", "[1,2]", ed_a, NULL), NOW, "malformed payload");
    refused(v, sign_text("{\"alg\":\"EdDSA\"}", "{\"sub\":\"a\",\"sub\":\"b\"}", ed_a, NULL), NOW,
            "malformed payload");
    refused(v, sign_text("{\"alg\":\"EdDSA\"}", "", ed_a, NULL), NOW, "malformed token");
    jwt_verifier_free(v);
}

static void test_header_fields(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_ed_a);
    json_t *h = json_pack("{s:s, s:s, s:[s]}", "alg", "EdDSA", "kid", KID, "crit", "exp");
    refused(v, token_of(h, claims_at(NOW), ed_a, NULL), NOW, "crit header refused");
    h = json_pack("{s:s, s:s, s:[]}", "alg", "EdDSA", "kid", KID, "crit");
    refused(v, token_of(h, claims_at(NOW), ed_a, NULL), NOW, "crit header refused");
    refused(v,
            token_of(json_pack("{s:s, s:i}", "alg", "EdDSA", "kid", 7), claims_at(NOW), ed_a, NULL),
            NOW, "bad kid");
    char kid[130];
    memset(kid, 'k', sizeof(kid));
    kid[128] = '\0';
    ok(v, token_of(hdr("EdDSA", kid), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    kid[128] = 'k';
    kid[129] = '\0';
    refused(v, token_of(hdr("EdDSA", kid), claims_at(NOW), ed_a, NULL), NOW, "bad kid");
    jwt_verifier_free(v);
}

/*** Tests: key sources ***/

static void test_key_loading(void **state)
{
    (void)state;
    struct kcr_jwt_config cfg = cfg_base();
    char *small = pem_of(rsa_small, false);
    cfg.public_key = small;
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: RSA key shorter than 2048 bits");
    char *small_jwk = jwks(jwk_obj(rsa_small, "small", NULL, false), NULL);
    cfg.public_key = NULL;
    cfg.jwks_json = small_jwk;
    new_fails(cfg, "CODEAPI_JWT_JWKS_JSON: key 0: RSA key shorter than 2048 bits");
    cfg.jwks_json = NULL;
    char *ec = pem_of(ec_key, false);
    cfg.public_key = ec;
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: not an Ed25519 or RSA key");
    char *private = pem_of(ed_a, true);
    cfg.public_key = private;
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: a private key");
    cfg.public_key = "hello";
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: not a PEM public key or a JWK");
    cfg.public_key = "{\"kty\":\"OKP\"";
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: not a PEM public key or a JWK");
    cfg.public_key = NULL;
    cfg.keys_dir = "/nonexistent/kcr-jwt-keys";
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEYS_DIR: open");
    cfg.keys_dir = NULL;
    cfg.clock_skew_s = -1;
    new_fails(cfg, "CODEAPI_JWT_CLOCK_SKEW_SECONDS");
    cfg.clock_skew_s = 30;
    cfg.max_ttl_s = 0;
    new_fails(cfg, "CODEAPI_JWT_MAX_TTL_SECONDS");
    cfg.max_ttl_s = 300;
    cfg.single_tenant_id = "bad\ntenant";
    new_fails(cfg, "CODEAPI_JWT_SINGLE_TENANT_ID");
    free(small);
    free(small_jwk);
    free(ec);
    free(private);

    /* Nothing configured: disabled, and every token refused. */
    struct kcr_jwt_verifier *v = verifier(cfg_base());
    assert_false(jwt_verifier_enabled(v));
    assert_false(jwt_verifier_enabled(NULL));
    refused(v, tok_ed(claims_at(NOW)), NOW, "no jwt verification key configured");
    assert_null(jwt_verifier_free(v));
    assert_null(jwt_verifier_free(NULL));
}

static void test_pem_escaped_newlines(void **state)
{
    (void)state;
    /* As an env var often carries it: one line, "\n" as two characters. */
    char *one_line = xmalloc(2 * strlen(pem_ed_a) + 1), *w = one_line;
    for (const char *p = pem_ed_a; *p; p++) {
        if (*p == '\n')
            *w++ = '\\', *w++ = 'n';
        else
            *w++ = *p;
    }
    *w = '\0';
    assert_null(strchr(one_line, '\n'));
    struct kcr_jwt_verifier *v = verifier_key(one_line);
    ok(v, tok_ed(claims_at(NOW)), NOW, "user-1", "acme");
    refused(v, token_of(hdr("EdDSA", KID), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    jwt_verifier_free(v);
    free(one_line);
}

static void test_public_key_jwk(void **state)
{
    (void)state;
    /* A JWK without kid serves every kid, and tokens without one. */
    char *plain = jwk(ed_a, NULL, NULL, false);
    struct kcr_jwt_verifier *v = verifier_key(plain);
    ok(v, token_of(hdr("EdDSA", "anything"), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    ok(v, token_of(hdr("EdDSA", NULL), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    jwt_verifier_free(v);
    free(plain);

    /* A JWK with its own kid serves that kid only. */
    char *named = jwk(ed_a, KID, "EdDSA", false);
    v = verifier_key(named);
    ok(v, tok_ed(claims_at(NOW)), NOW, "user-1", "acme");
    refused(v, token_of(hdr("EdDSA", "other"), claims_at(NOW), ed_a, NULL), NOW,
            "unknown kid 'other'");
    refused(v, token_of(hdr("EdDSA", NULL), claims_at(NOW), ed_a, NULL), NOW, "missing kid");
    jwt_verifier_free(v);
    free(named);

    char *rsa = jwk(rsa_a, NULL, "RS256", false);
    v = verifier_key(rsa);
    ok(v, token_of(hdr("RS256", KID), claims_at(NOW), rsa_a, NULL), NOW, "user-1", "acme");
    jwt_verifier_free(v);
    free(rsa);

    /* A JWK's alg binds it to that algorithm. */
    char *ps = jwk(rsa_a, NULL, "PS256", false);
    v = verifier_key(ps);
    refused(v, token_of(hdr("RS256", KID), claims_at(NOW), rsa_a, NULL), NOW,
            "key does not fit algorithm 'RS256'");
    jwt_verifier_free(v);
    free(ps);

    /* Private material in a public-key setting is refused at load. */
    struct kcr_jwt_config cfg = cfg_base();
    char *private = jwk(ed_a, KID, NULL, true);
    cfg.public_key = private;
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: a private JWK");
    char *private_set = jwks(jwk_obj(ed_a, "a", NULL, false), jwk_obj(rsa_a, "r", NULL, true));
    cfg.public_key = NULL;
    cfg.jwks_json = private_set;
    new_fails(cfg, "CODEAPI_JWT_JWKS_JSON: key 1: a private JWK");
    cfg.jwks_json = NULL;
    cfg.public_key = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}";
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: JWK 'kty'");
    cfg.public_key = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}";
    new_fails(cfg, "CODEAPI_JWT_PUBLIC_KEY: malformed JWK");
    free(private);
    free(private_set);
}

static void test_jwks(void **state)
{
    (void)state;
    char *set = jwks(jwk_obj(ed_a, "a", "EdDSA", false), jwk_obj(ed_b, "b", NULL, false));
    struct kcr_jwt_config cfg = cfg_base();
    cfg.jwks_json = set;
    struct kcr_jwt_verifier *v = verifier(cfg);
    ok(v, token_of(hdr("EdDSA", "a"), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    ok(v, token_of(hdr("EdDSA", "b"), claims_at(NOW), ed_b, NULL), NOW, "user-1", "acme");
    /* The kid picks the key; the other key is not tried. */
    refused(v, token_of(hdr("EdDSA", "a"), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    refused(v, token_of(hdr("EdDSA", "b"), claims_at(NOW), ed_a, NULL), NOW, "bad signature");
    refused(v, token_of(hdr("EdDSA", "zzz"), claims_at(NOW), ed_a, NULL), NOW, "unknown kid 'zzz'");
    refused(v, token_of(hdr("EdDSA", "a\n'b"), claims_at(NOW), ed_a, NULL), NOW,
            "unknown kid 'a??b'");
    refused(v, token_of(hdr("EdDSA", NULL), claims_at(NOW), ed_a, NULL), NOW, "missing kid");
    jwt_verifier_free(v);
    free(set);

    char *dup = jwks(jwk_obj(ed_a, "a", NULL, false), jwk_obj(ed_b, "a", NULL, false));
    cfg.jwks_json = dup;
    new_fails(cfg, "CODEAPI_JWT_JWKS_JSON: kid 'a' used twice");
    free(dup);
    char *anonymous = jwks(jwk_obj(ed_a, NULL, NULL, false), NULL);
    cfg.jwks_json = anonymous;
    new_fails(cfg, "CODEAPI_JWT_JWKS_JSON: key 0 has no kid");
    free(anonymous);
    cfg.jwks_json = "[]";
    new_fails(cfg, "CODEAPI_JWT_JWKS_JSON: not");
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    free(path);
}

static void test_keys_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/kcr-jwt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "k1", pem_ed_a);
    write_file(dir, "k2.pem", pem_ed_b);
    write_file(dir, "rsa", pem_rsa_a);
    struct kcr_jwt_config cfg = cfg_base();
    cfg.keys_dir = dir;
    struct kcr_jwt_verifier *v = verifier(cfg);
    assert_true(jwt_verifier_enabled(v));
    char *old = token_of(hdr("EdDSA", "k1"), claims_at(NOW), ed_a, NULL);
    ok(v, xstrdup(old), NOW, "user-1", "acme");
    ok(v, token_of(hdr("EdDSA", "k2"), claims_at(NOW), ed_b, NULL), NOW, "user-1", "acme");
    ok(v, token_of(hdr("RS256", "rsa"), claims_at(NOW), rsa_a, NULL), NOW, "user-1", "acme");
    refused(v, token_of(hdr("EdDSA", "rsa"), claims_at(NOW), ed_a, NULL), NOW,
            "key does not fit algorithm 'EdDSA'");
    refused(v, token_of(hdr("EdDSA", "k1"), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    refused(v, token_of(hdr("EdDSA", "k3"), claims_at(NOW), ed_a, NULL), NOW, "unknown kid 'k3'");
    refused(v, token_of(hdr("EdDSA", NULL), claims_at(NOW), ed_a, NULL), NOW, "missing kid");
    /* kid is one safe file-name component. */
    refused(v, token_of(hdr("EdDSA", "../k1"), claims_at(NOW), ed_a, NULL), NOW,
            "unsafe kid '../k1'");
    refused(v, token_of(hdr("EdDSA", "sub/k1"), claims_at(NOW), ed_a, NULL), NOW,
            "unsafe kid 'sub/k1'");
    refused(v, token_of(hdr("EdDSA", ".k1"), claims_at(NOW), ed_a, NULL), NOW, "unsafe kid '.k1'");
    refused(v, token_of(hdr("EdDSA", "a..b"), claims_at(NOW), ed_a, NULL), NOW,
            "unsafe kid 'a..b'");
    refused(v, token_of(hdr("EdDSA", ""), claims_at(NOW), ed_a, NULL), NOW, "unsafe kid ''");

    /* A symlink is not followed, a file over 64 KiB is not read, a private key is not a key. */
    char *link = xasprintf("%s/k4", dir);
    assert_int_equal(symlink("k2.pem", link), 0);
    free(link);
    refused(v, token_of(hdr("EdDSA", "k4"), claims_at(NOW), ed_b, NULL), NOW, "unknown kid 'k4'");
    char *padded = xmalloc(strlen(pem_ed_b) + 70000);
    strcpy(padded, pem_ed_b);
    memset(padded + strlen(pem_ed_b), '\n', 69999);
    padded[strlen(pem_ed_b) + 69999] = '\0';
    write_file(dir, "big", padded);
    free(padded);
    refused(v, token_of(hdr("EdDSA", "big"), claims_at(NOW), ed_b, NULL), NOW,
            "unusable key file for kid 'big'");
    char *small = pem_of(rsa_small, false);
    write_file(dir, "small", small);
    free(small);
    refused(v, token_of(hdr("RS256", "small"), claims_at(NOW), rsa_small, NULL), NOW,
            "unusable key file for kid 'small'");
    char *private = pem_of(ed_a, true);
    write_file(dir, "priv", private);
    free(private);
    refused(v, token_of(hdr("EdDSA", "priv"), claims_at(NOW), ed_a, NULL), NOW,
            "unusable key file for kid 'priv'");

    /* Rotation: a new file renamed over k1 (another inode and size). The token
     * verified above, though cached, fails now; the new key's tokens pass. */
    write_file(dir, "k1.new", pem_ed_c);
    char *from = xasprintf("%s/k1.new", dir), *to = xasprintf("%s/k1", dir);
    assert_int_equal(rename(from, to), 0);
    refused(v, xstrdup(old), NOW, "bad signature");
    char *fresh = token_of(hdr("EdDSA", "k1"), claims_at(NOW), ed_c, NULL);
    ok(v, xstrdup(fresh), NOW, "user-1", "acme");
    ok(v, xstrdup(fresh), NOW, "user-1", "acme");
    /* Removal: the kid is unknown, cached tokens included. */
    assert_int_equal(unlink(to), 0);
    refused(v, xstrdup(fresh), NOW, "unknown kid 'k1'");
    /* Back again, as k1.pem. */
    write_file(dir, "k1.pem", pem_ed_c);
    ok(v, fresh, NOW, "user-1", "acme");
    free(from);
    free(to);
    free(old);
    jwt_verifier_free(v);
    assert_int_equal(fs_rm_tree_at(AT_FDCWD, dir), 0);
}

static void test_source_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/kcr-jwt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "d", pem_ed_c);
    char *single = jwk(ed_a, "p", NULL, false);
    char *set = jwks(jwk_obj(ed_b, "j", NULL, false), NULL);
    struct kcr_jwt_config cfg = cfg_base();
    cfg.public_key = single;
    cfg.jwks_json = set;
    cfg.keys_dir = dir;
    struct kcr_jwt_verifier *v = verifier(cfg);
    ok(v, token_of(hdr("EdDSA", "p"), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    ok(v, token_of(hdr("EdDSA", "j"), claims_at(NOW), ed_b, NULL), NOW, "user-1", "acme");
    ok(v, token_of(hdr("EdDSA", "d"), claims_at(NOW), ed_c, NULL), NOW, "user-1", "acme");
    refused(v, token_of(hdr("EdDSA", "j"), claims_at(NOW), ed_a, NULL), NOW, "bad signature");
    refused(v, token_of(hdr("EdDSA", "d"), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    jwt_verifier_free(v);

    /* A PEM (no kid of its own) answers for every kid: the JWKS is not consulted. */
    cfg.public_key = pem_ed_a;
    v = verifier(cfg);
    refused(v, token_of(hdr("EdDSA", "j"), claims_at(NOW), ed_b, NULL), NOW, "bad signature");
    ok(v, token_of(hdr("EdDSA", "j"), claims_at(NOW), ed_a, NULL), NOW, "user-1", "acme");
    jwt_verifier_free(v);
    free(single);
    free(set);
    assert_int_equal(fs_rm_tree_at(AT_FDCWD, dir), 0);
}

/*** Tests: cache and concurrency ***/

static void test_cache(void **state)
{
    (void)state;
    struct kcr_jwt_verifier *v = verifier_key(pem_rsa_a);
    char *token = token_of(hdr("RS256", KID), claims_at(NOW), rsa_a, NULL);
    /* A failure is not remembered: refused before its time, accepted at it. */
    refused(v, xstrdup(token), NOW - 31, "token issued in the future");
    ok(v, xstrdup(token), NOW, "user-1", "acme");
    ok(v, xstrdup(token), NOW, "user-1", "acme");
    ok(v, xstrdup(token), NOW + 329, "user-1", "acme");
    /* The cache never stretches the window the token itself allows. */
    refused(v, xstrdup(token), NOW + 330, "token expired");
    refused(v, xstrdup(token), NOW - 31, "token issued in the future");
    ok(v, token, NOW + 100, "user-1", "acme");
    /* Many distinct tokens share the bounded cache and stay correct. */
    jwt_verifier_free(v);
    v = verifier_key(pem_ed_a);
    for (int i = 0; i < 1200; i++) {
        char sub[32];
        snprintf(sub, sizeof(sub), "user-%d", i);
        ok(v, tok_ed(with(claims_at(NOW), "sub", json_string(sub))), NOW, sub, "acme");
    }
    jwt_verifier_free(v);
}

struct worker {
    struct kcr_jwt_verifier *v;
    char **tokens;
    size_t ntokens;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    for (size_t i = 0; i < 400; i++) {
        struct kcr_err err = {0};
        struct kcr_jwt_claims c;
        if (jwt_verify(w->v, w->tokens[i % w->ntokens], NOW, &c, &err) != 0 ||
            strcmp(c.sub, "user-1") != 0)
            w->failures++;
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char dir[] = "/tmp/kcr-jwt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "d", pem_ed_c);
    char *set = jwks(jwk_obj(ed_a, "a", NULL, false), jwk_obj(rsa_a, "r", NULL, false));
    struct kcr_jwt_config cfg = cfg_base();
    cfg.jwks_json = set;
    cfg.keys_dir = dir;
    struct kcr_jwt_verifier *v = verifier(cfg);
    char *tokens[6];
    for (size_t i = 0; i < 2; i++) {
        tokens[3 * i] = token_of(hdr("EdDSA", "a"), claims_at(NOW), ed_a, NULL);
        tokens[3 * i + 1] = token_of(hdr("RS256", "r"), claims_at(NOW), rsa_a, NULL);
        tokens[3 * i + 2] = token_of(hdr("EdDSA", "d"), claims_at(NOW), ed_c, NULL);
    }
    struct worker workers[4];
    pthread_t threads[4];
    for (size_t i = 0; i < 4; i++) {
        workers[i] = (struct worker){.v = v, .tokens = tokens, .ntokens = 6};
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_int_equal(workers[i].failures, 0);
    }
    for (size_t i = 0; i < 6; i++)
        free(tokens[i]);
    jwt_verifier_free(v);
    free(set);
    assert_int_equal(fs_rm_tree_at(AT_FDCWD, dir), 0);
}

/*** Tests: shape ***/

static void test_looks_like_token(void **state)
{
    (void)state;
    char *token = tok_ed(claims_at(NOW));
    assert_true(jwt_looks_like_token(token));
    free(token);
    assert_true(jwt_looks_like_token("a.b.c"));
    assert_true(jwt_looks_like_token("eyJ-_0.eyJ_-9.sig-_"));
    static const char *const not_tokens[] = {
        "",        "a",       "a.b",    "a.b.",   ".b.c",   "a..c",
        "a.b.c.d", "a b.c.d", "a=.b.c", "a.b.c=", "a.b+.c", "sk-live-0123456789abcdef",
        "a.b.c\n"};
    for (size_t i = 0; i < sizeof(not_tokens) / sizeof(not_tokens[0]); i++)
        if (jwt_looks_like_token(not_tokens[i]))
            fail_msg("'%s' looks like a token", not_tokens[i]);
    assert_false(jwt_looks_like_token(NULL));
}

/*** Setup ***/

static int setup(void **state)
{
    (void)state;
    ed_a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ed_b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ed_c = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!ed_a || !ed_b || !ed_c || !rsa_a || !rsa_small || !ec_key)
        return -1;
    pem_ed_a = pem_of(ed_a, false);
    pem_ed_b = pem_of(ed_b, false);
    pem_ed_c = pem_of(ed_c, false);
    pem_rsa_a = pem_of(rsa_a, false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY *keys[] = {ed_a, ed_b, ed_c, rsa_a, rsa_small, ec_key};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    free(pem_ed_a);
    free(pem_ed_b);
    free(pem_ed_c);
    free(pem_rsa_a);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_eddsa),
        cmocka_unit_test(test_valid_rs256),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_tenant),
        cmocka_unit_test(test_expiry_and_skew),
        cmocka_unit_test(test_lifetime),
        cmocka_unit_test(test_time_claims),
        cmocka_unit_test(test_wrong_key_and_tampering),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs256),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_header_fields),
        cmocka_unit_test(test_key_loading),
        cmocka_unit_test(test_pem_escaped_newlines),
        cmocka_unit_test(test_public_key_jwk),
        cmocka_unit_test(test_jwks),
        cmocka_unit_test(test_keys_dir),
        cmocka_unit_test(test_source_order),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_looks_like_token),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
