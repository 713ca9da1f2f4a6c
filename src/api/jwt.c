#include "api/jwt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "api/jwt-internal.h"
#include "api/jwt-keys.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#define TOKEN_MAX     8192 /* longest accepted token, bytes */
#define CACHE_SLOTS   1024 /* verified tokens kept at once (direct-mapped) */
#define HS256_MIN_LEN 32   /* RFC 7518 §3.2: a key at least as long as the hash */
#define SKEW_MAX      3600
#define TTL_MAX       86400
/* 9999-12-31T23:59:59Z. Bounding every time keeps exp + skew far from overflow. */
#define TIME_MAX 253402300799LL

/* What a successful verification established, as the token cache keeps it. */
struct verified {
    struct kcr_jwt_claims claims;
    int64_t valid_from;  /* max(iat, nbf) - skew */
    int64_t valid_until; /* exp + skew, exclusive */
    uint64_t key_gen;    /* jwt_keys_select's dir generation; 0 for keys that never change */
    char kid[KID_MAX + 1];
};

struct cache_slot {
    bool used;
    unsigned char hash[32]; /* SHA-256 of the token */
    struct verified result;
};

struct kcr_jwt_verifier {
    unsigned algs; /* enum jwt_alg bits */
    char *issuer;
    char *audience;
    char *tenant;
    char *hs_secret; /* NULL = none */
    size_t hs_len;
    long skew;
    long max_ttl;
    struct jwt_keys *keys;      /* NULL only while jwt_verifier_new fails */
    pthread_mutex_t cache_lock; /* guards cache */
    struct cache_slot cache[CACHE_SLOTS];
};

/*** Small helpers ***/

/* A text kcr passes on (sub, tenant_id): non-empty, at most max bytes, and free
 * of control bytes, which would otherwise reach logs and storage keys. */
static bool text_ok(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static const char *json_text(const json_t *j, size_t max)
{
    const char *s = jwt_json_cstr(j, max);
    return s && text_ok(s, max) ? s : NULL;
}

/* A base64url segment that must hold a JSON object. NULL otherwise. */
static json_t *b64url_json(const char *s, size_t len)
{
    size_t n = 0;
    _cleanup_free_ unsigned char *raw = jwt_b64url_decode(s, len, &n);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/*** Configuration ***/

static int algs_parse(const char *list, bool have_secret, unsigned *ret, struct kcr_err *err)
{
    _cleanup_free_ char *copy = xstrdup(jwt_is_set(list) ? list : "EdDSA,RS256");
    unsigned mask = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        t += strspn(t, " \t");
        t[strcspn(t, " \t")] = '\0';
        if (!*t)
            continue;
        if (!jwt_alg_bit(t))
            return REFUSE(err, "CODEAPI_JWT_ALLOWED_ALGS: '%.32s' is not EdDSA, RS256 or HS256", t);
        mask |= jwt_alg_bit(t);
    }
    if (!mask)
        return REFUSE(err, "CODEAPI_JWT_ALLOWED_ALGS: no algorithm listed");
    if ((mask & ALG_HS256) && !have_secret)
        return REFUSE(err, "CODEAPI_JWT_ALLOWED_ALGS: HS256 needs CODEAPI_JWT_HS256_SECRET");
    *ret = mask;
    return 0;
}

/* The HMAC secret must not be, or look like, public key material: anyone holding
 * the public key could otherwise mint HS256 tokens (RFC 8725 §2.1). */
static int secret_check(const struct kcr_jwt_config *cfg, struct kcr_err *err)
{
    const char *s = cfg->hs256_secret;
    if (!jwt_is_set(s))
        return 0;
    if (strstr(s, "-----BEGIN") || (jwt_is_set(cfg->public_key) && strcmp(s, cfg->public_key) == 0))
        return REFUSE(err, "CODEAPI_JWT_HS256_SECRET: looks like key material, not a secret");
    if (strlen(s) < HS256_MIN_LEN)
        return REFUSE(err, "CODEAPI_JWT_HS256_SECRET: shorter than %d bytes", HS256_MIN_LEN);
    return 0;
}

static int limits_check(const struct kcr_jwt_config *cfg, struct kcr_err *err)
{
    if (cfg->clock_skew_s < 0 || cfg->clock_skew_s > SKEW_MAX)
        return REFUSE(err, "CODEAPI_JWT_CLOCK_SKEW_SECONDS: not within 0..%d", SKEW_MAX);
    if (cfg->max_ttl_s < 1 || cfg->max_ttl_s > TTL_MAX)
        return REFUSE(err, "CODEAPI_JWT_MAX_TTL_SECONDS: not within 1..%d", TTL_MAX);
    const char *t = jwt_is_set(cfg->single_tenant_id) ? cfg->single_tenant_id : "legacy";
    if (!text_ok(t, KCR_JWT_TENANT_MAX))
        return REFUSE(err, "CODEAPI_JWT_SINGLE_TENANT_ID: not a tenant id");
    return 0;
}

static int config_load(struct kcr_jwt_verifier *v, const struct kcr_jwt_config *cfg,
                       struct kcr_err *err)
{
    if (limits_check(cfg, err) < 0 || secret_check(cfg, err) < 0)
        return -1;
    if (algs_parse(cfg->allowed_algs, jwt_is_set(cfg->hs256_secret), &v->algs, err) < 0)
        return -1;
    v->skew = cfg->clock_skew_s;
    v->max_ttl = cfg->max_ttl_s;
    v->issuer = xstrdup(jwt_is_set(cfg->issuer) ? cfg->issuer : "librechat");
    v->audience = xstrdup(jwt_is_set(cfg->audience) ? cfg->audience : "codeapi");
    v->tenant = xstrdup(jwt_is_set(cfg->single_tenant_id) ? cfg->single_tenant_id : "legacy");
    if (jwt_is_set(cfg->hs256_secret)) {
        v->hs_secret = xstrdup(cfg->hs256_secret);
        v->hs_len = strlen(v->hs_secret);
    }
    v->keys = jwt_keys_new(cfg, err);
    return v->keys ? 0 : -1;
}

struct kcr_jwt_verifier *jwt_verifier_new(const struct kcr_jwt_config *cfg, struct kcr_err *err)
{
    if (!cfg) {
        (void)REFUSE(err, "jwt: no configuration");
        return NULL;
    }
    struct kcr_jwt_verifier *v = xcalloc(1, sizeof(*v));
    pthread_mutex_init(&v->cache_lock, NULL);
    if (config_load(v, cfg, err) < 0)
        return jwt_verifier_free(v);
    return v;
}

struct kcr_jwt_verifier *jwt_verifier_free(struct kcr_jwt_verifier *v)
{
    if (!v)
        return NULL;
    v->keys = jwt_keys_free(v->keys);
    if (v->hs_secret)
        OPENSSL_cleanse(v->hs_secret, v->hs_len);
    free(v->hs_secret);
    free(v->issuer);
    free(v->audience);
    free(v->tenant);
    pthread_mutex_destroy(&v->cache_lock);
    free(v);
    return NULL;
}

bool jwt_verifier_enabled(const struct kcr_jwt_verifier *v)
{
    return v && (jwt_keys_enabled(v->keys) || v->hs_secret);
}

/*** Token cache ***/

static struct cache_slot *cache_slot(struct kcr_jwt_verifier *v, const unsigned char hash[32])
{
    unsigned idx = ((unsigned)hash[0] | (unsigned)hash[1] << 8) % CACHE_SLOTS;
    return &v->cache[idx];
}

/* A cached verification of the token with this hash that still holds at now.
 * A token whose dir key file changed since is verified again. */
static bool cache_get(struct kcr_jwt_verifier *v, const unsigned char hash[32], int64_t now,
                      struct kcr_jwt_claims *ret)
{
    struct verified hit;
    pthread_mutex_lock(&v->cache_lock);
    const struct cache_slot *s = cache_slot(v, hash);
    bool found = s->used && CRYPTO_memcmp(s->hash, hash, 32) == 0 && s->result.valid_from <= now &&
                 now < s->result.valid_until;
    if (found)
        hit = s->result;
    pthread_mutex_unlock(&v->cache_lock);
    /* Checked after cache_lock is released: cache_lock and the key set's dir lock
     * are never held together. */
    if (!found || (hit.key_gen != 0 && !jwt_keys_current(v->keys, hit.kid, hit.key_gen)))
        return false;
    *ret = hit.claims;
    return true;
}

static void cache_put(struct kcr_jwt_verifier *v, const unsigned char hash[32],
                      const struct verified *result)
{
    pthread_mutex_lock(&v->cache_lock);
    struct cache_slot *s = cache_slot(v, hash);
    s->used = true;
    memcpy(s->hash, hash, 32);
    s->result = *result;
    pthread_mutex_unlock(&v->cache_lock);
}

/*** Verification ***/

struct parts {
    const char *seg[3]; /* header, payload, signature */
    size_t len[3];
};

/* Exactly three dot-separated base64url segments; header and payload non-empty. */
static bool token_split(const char *s, size_t len, struct parts *ret)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!jwt_b64url_char((unsigned char)s[i]))
                return false;
            continue;
        }
        if (n == 3)
            return false;
        ret->seg[n] = s + start;
        ret->len[n++] = i - start;
        start = i + 1;
    }
    return n == 3 && ret->len[0] > 0 && ret->len[1] > 0;
}

/* The header's alg (allowed, never none) and kid (NULL when absent). */
static int header_check(const struct kcr_jwt_verifier *v, const json_t *h, enum jwt_alg *ret_alg,
                        const char **ret_kid, struct kcr_err *err)
{
    /* RFC 7515 §4.1.11: a recipient must refuse crit extensions it does not
     * implement, and kcr implements none. */
    if (json_object_get(h, "crit"))
        return REFUSE(err, "crit header refused");
    const char *name = jwt_json_cstr(json_object_get(h, "alg"), 16);
    if (!name)
        return REFUSE(err, json_object_get(h, "alg") ? "bad alg" : "missing alg");
    if (strcasecmp(name, "none") == 0)
        return REFUSE(err, "algorithm 'none' refused");
    enum jwt_alg alg = jwt_alg_bit(name);
    if (!alg)
        return REFUSE(err, "unknown algorithm");
    if (!(v->algs & alg))
        return REFUSE(err, "algorithm '%s' not allowed", jwt_alg_name(alg));
    const json_t *kid = json_object_get(h, "kid");
    if (kid && !jwt_json_cstr(kid, KID_MAX))
        return REFUSE(err, "bad kid");
    *ret_alg = alg;
    *ret_kid = kid ? json_string_value(kid) : NULL;
    return 0;
}

static bool pkey_verify(EVP_PKEY *pkey, enum jwt_alg alg, const unsigned char *msg, size_t len,
                        const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    /* Ed25519 hashes internally and takes no digest (EVP_SIGNATURE-ED25519(7)). */
    const EVP_MD *md = alg == ALG_RS256 ? EVP_sha256() : NULL;
    bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) == 1 &&
              (alg != ALG_RS256 || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
              EVP_DigestVerify(ctx, sig, sig_len, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static bool hmac_verify(const struct kcr_jwt_verifier *v, const unsigned char *msg, size_t len,
                        const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC(EVP_sha256(), v->hs_secret, (int)v->hs_len, msg, len, mac, &mac_len))
        return false;
    return sig_len == mac_len && CRYPTO_memcmp(sig, mac, mac_len) == 0;
}

/* Checks the signature over "header.payload" with the key the header selects.
 * HS256 uses the configured secret and nothing else. */
static int signature_check(struct kcr_jwt_verifier *v, const struct parts *p, enum jwt_alg alg,
                           const char *kid, struct verified *ret, struct kcr_err *err)
{
    const unsigned char *msg = (const unsigned char *)p->seg[0];
    size_t msg_len = p->len[0] + 1 + p->len[1];
    size_t sig_len = 0;
    _cleanup_free_ unsigned char *sig = jwt_b64url_decode(p->seg[2], p->len[2], &sig_len);
    if (!sig)
        return REFUSE(err, "malformed token");
    if (alg == ALG_HS256)
        return hmac_verify(v, msg, msg_len, sig, sig_len) ? 0 : REFUSE(err, "bad signature");
    EVP_PKEY *pkey = jwt_keys_select(v->keys, alg, kid, &ret->key_gen, err);
    if (!pkey)
        return -1;
    bool ok = pkey_verify(pkey, alg, msg, msg_len, sig, sig_len);
    EVP_PKEY_free(pkey);
    if (!ok)
        return REFUSE(err, "bad signature");
    snprintf(ret->kid, sizeof(ret->kid), "%s", kid ? kid : "");
    return 0;
}

/* Whether j is the string s exactly (no embedded NUL making a prefix match). */
static bool json_str_eq(const json_t *j, const char *s)
{
    const char *js = jwt_json_cstr(j, strlen(s));
    return js && strcmp(js, s) == 0;
}

static bool aud_ok(const json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return json_str_eq(aud, want);
    for (size_t i = 0; i < json_array_size(aud); i++)
        if (json_str_eq(json_array_get(aud, i), want))
            return true;
    return false;
}

/* A NumericDate (RFC 7519 §2): an integer or a real, truncated. 1 found, 0 absent,
 * -1 not a number within 0..TIME_MAX. */
static int claim_time(const json_t *c, const char *name, int64_t *ret)
{
    const json_t *j = json_object_get(c, name);
    if (!j)
        return 0;
    if (json_is_integer(j)) {
        json_int_t i = json_integer_value(j);
        if (i < 0 || i > TIME_MAX)
            return -1;
        *ret = i;
        return 1;
    }
    double d = json_real_value(j); /* 0.0 for anything but a real */
    if (!json_is_real(j) || !(d >= 0 && d <= (double)TIME_MAX))
        return -1;
    *ret = (int64_t)d;
    return 1;
}

/* iat, exp and nbf against now. Every comparison subtracts from bounded claim
 * values instead of adding to now, which the caller controls. */
static int times_check(const struct kcr_jwt_verifier *v, const json_t *c, int64_t now,
                       struct verified *ret, struct kcr_err *err)
{
    int64_t iat = 0, exp = 0, nbf = 0;
    int r, has_nbf;
    if ((r = claim_time(c, "iat", &iat)) <= 0)
        return REFUSE(err, r == 0 ? "missing iat" : "bad iat");
    if ((r = claim_time(c, "exp", &exp)) <= 0)
        return REFUSE(err, r == 0 ? "missing exp" : "bad exp");
    if ((has_nbf = claim_time(c, "nbf", &nbf)) < 0)
        return REFUSE(err, "bad nbf");
    if (exp <= iat)
        return REFUSE(err, "exp not after iat");
    if (exp - iat > v->max_ttl)
        return REFUSE(err, "lifetime %lld s over the maximum of %ld s", (long long)(exp - iat),
                      v->max_ttl);
    if (now >= exp + v->skew)
        return REFUSE(err, "token expired");
    if (now < iat - v->skew)
        return REFUSE(err, "token issued in the future");
    if (has_nbf && now < nbf - v->skew)
        return REFUSE(err, "token not yet valid");
    /* The window a cached result may be reused in: exactly the one checked here. */
    ret->valid_from = (has_nbf && nbf > iat ? nbf : iat) - v->skew;
    ret->valid_until = exp + v->skew;
    ret->claims.exp = exp;
    return 0;
}

static int claims_check(const struct kcr_jwt_verifier *v, const json_t *c, int64_t now,
                        struct verified *ret, struct kcr_err *err)
{
    const json_t *iss = json_object_get(c, "iss"), *aud = json_object_get(c, "aud");
    const json_t *sub = json_object_get(c, "sub"), *tenant = json_object_get(c, "tenant_id");
    if (!iss || !json_str_eq(iss, v->issuer))
        return REFUSE(err, iss ? "wrong issuer" : "missing iss");
    if (!aud || !aud_ok(aud, v->audience))
        return REFUSE(err, aud ? "wrong audience" : "missing aud");
    if (!sub || !json_text(sub, KCR_JWT_SUB_MAX))
        return REFUSE(err, sub ? "bad sub" : "missing sub");
    if (tenant && !json_text(tenant, KCR_JWT_TENANT_MAX))
        return REFUSE(err, "bad tenant_id");
    if (times_check(v, c, now, ret, err) < 0)
        return -1;
    snprintf(ret->claims.sub, sizeof(ret->claims.sub), "%s", json_string_value(sub));
    snprintf(ret->claims.tenant, sizeof(ret->claims.tenant), "%s",
             tenant ? json_string_value(tenant) : v->tenant);
    return 0;
}

/* The full check of one token: shape, header, signature, then the claims. The
 * payload is parsed only once the signature holds. */
static int token_check(struct kcr_jwt_verifier *v, const char *token, size_t len, int64_t now,
                       struct verified *ret, struct kcr_err *err)
{
    struct parts p;
    enum jwt_alg alg = 0;
    const char *kid = NULL;
    if (!token_split(token, len, &p))
        return REFUSE(err, "malformed token");
    _cleanup_json_ json_t *header = b64url_json(p.seg[0], p.len[0]);
    if (!header)
        return REFUSE(err, "malformed header");
    if (header_check(v, header, &alg, &kid, err) < 0)
        return -1;
    if (signature_check(v, &p, alg, kid, ret, err) < 0)
        return -1;
    _cleanup_json_ json_t *claims = b64url_json(p.seg[1], p.len[1]);
    if (!claims)
        return REFUSE(err, "malformed payload");
    return claims_check(v, claims, now, ret, err);
}

int jwt_verify(struct kcr_jwt_verifier *v, const char *token, int64_t now_s,
               struct kcr_jwt_claims *ret, struct kcr_err *err)
{
    if (!jwt_verifier_enabled(v))
        return REFUSE(err, "no jwt verification key configured");
    if (!token || !*token)
        return REFUSE(err, "missing token");
    size_t len = strnlen(token, TOKEN_MAX + 1);
    if (len > TOKEN_MAX)
        return REFUSE(err, "token longer than %d bytes", TOKEN_MAX);
    unsigned char hash[32];
    if (EVP_Digest(token, len, hash, NULL, EVP_sha256(), NULL) != 1)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "sha256 failed");
    if (cache_get(v, hash, now_s, ret))
        return 0;
    struct verified result = {0};
    if (token_check(v, token, len, now_s, &result, err) < 0)
        return -1;
    cache_put(v, hash, &result);
    *ret = result.claims;
    return 0;
}

bool jwt_looks_like_token(const char *s)
{
    struct parts p;
    return s && token_split(s, strlen(s), &p) && p.len[2] > 0;
}
