#include "api/jwt-keys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "common/xalloc.h"

#define JWKS_MAX     64   /* keys in CODEAPI_JWT_JWKS_JSON */
#define DIR_SLOTS    64   /* parsed keys of CODEAPI_JWT_PUBLIC_KEYS_DIR kept at once */
#define RSA_MIN_BITS 2048 /* RFC 7518 §3.3 */

/* A key from CODEAPI_JWT_PUBLIC_KEY or CODEAPI_JWT_JWKS_JSON. */
struct jwt_key {
    EVP_PKEY *pkey;
    char kid[KID_MAX + 1]; /* the JWK's "kid", "" when it has none (or for a PEM) */
    char alg[16];          /* the JWK's "alg", "" when absent */
};

/* A parsed file of CODEAPI_JWT_PUBLIC_KEYS_DIR and the identity of the file it
 * came from: a change of any of these makes kcr read the file again. */
struct dir_key {
    char kid[KID_MAX + 1]; /* "" = free slot */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    EVP_PKEY *pkey;
    uint64_t gen; /* unique per load, so cached tokens notice a re-read */
};

struct jwt_keys {
    struct jwt_key single; /* pkey NULL = no CODEAPI_JWT_PUBLIC_KEY */
    struct jwt_key *jwks;
    size_t njwks;
    int dirfd;                /* -1 = no CODEAPI_JWT_PUBLIC_KEYS_DIR */
    pthread_mutex_t dir_lock; /* guards dir, dir_next, dir_gen */
    struct dir_key dir[DIR_SLOTS];
    unsigned dir_next;
    uint64_t dir_gen;
};

/* kid as it may appear in a log line: at most 64 bytes, unprintable bytes as '?'. */
static const char *kid_shown(const char *kid, char out[65])
{
    size_t i = 0;
    for (; kid[i] && i < 64; i++)
        out[i] = kid[i] >= 0x20 && kid[i] < 0x7f && kid[i] != '\'' ? kid[i] : '?';
    out[i] = '\0';
    return out;
}

/*** Keys: PEM and JWK ***/

/* Why pkey cannot verify kcr's algorithms, or NULL when it can: Ed25519 for EdDSA,
 * RSA of at least 2048 bits that passes OpenSSL's public-key checks for RS256. */
static const char *key_problem(EVP_PKEY *pkey)
{
    int id = EVP_PKEY_get_base_id(pkey);
    if (id != EVP_PKEY_ED25519 && id != EVP_PKEY_RSA)
        return "not an Ed25519 or RSA key";
    if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS)
        return "RSA key shorter than 2048 bits";
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx ? EVP_PKEY_public_check(ctx) : 0;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok == 1 ? NULL : "public key fails validation";
}

/* Env vars often carry a PEM on one line with literal "\n" pairs: newlines again. */
static char *pem_unescape(const char *s)
{
    char *out = xstrdup(s), *w = out;
    for (const char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] == 'n')
            *w++ = '\n', p++;
        else
            *w++ = *p;
    }
    *w = '\0';
    return out;
}

/* A PEM "PUBLIC KEY" (SubjectPublicKeyInfo). NULL when fine, else why not. */
static const char *pem_load(const char *text, EVP_PKEY **ret)
{
    if (strstr(text, "PRIVATE KEY"))
        return "a private key, expected a public key";
    _cleanup_free_ char *pem = pem_unescape(text);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (!pkey)
        return "not a PEM public key or a JWK";
    const char *why = key_problem(pkey);
    if (why) {
        EVP_PKEY_free(pkey);
        return why;
    }
    *ret = pkey;
    return NULL;
}

static BIGNUM *jwk_bn(const json_t *jwk, const char *name)
{
    const char *s = jwt_json_cstr(json_object_get(jwk, name), KEY_TEXT_MAX);
    size_t n = 0;
    _cleanup_free_ unsigned char *raw = s ? jwt_b64url_decode(s, strlen(s), &n) : NULL;
    return raw && n > 0 ? BN_bin2bn(raw, (int)n, NULL) : NULL;
}

static EVP_PKEY *jwk_rsa(const json_t *jwk)
{
    BIGNUM *n = jwk_bn(jwk, "n"), *e = jwk_bn(jwk, "e");
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1)
        (void)EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static EVP_PKEY *jwk_okp(const json_t *jwk)
{
    const char *crv = jwt_json_cstr(json_object_get(jwk, "crv"), 16);
    const char *x = jwt_json_cstr(json_object_get(jwk, "x"), 64);
    size_t n = 0;
    if (!crv || strcmp(crv, "Ed25519") != 0 || !x)
        return NULL;
    _cleanup_free_ unsigned char *raw = jwt_b64url_decode(x, strlen(x), &n);
    if (!raw || n != 32)
        return NULL;
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, n);
}

/* A JWK object (RFC 7517/7518/8037). NULL when fine, else why not. */
static const char *jwk_load(const json_t *jwk, struct jwt_key *ret)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    if (!json_is_object(jwk))
        return "not a PEM public key or a JWK";
    for (size_t i = 0; i < ARRAY_SIZE(private_members); i++)
        if (json_object_get(jwk, private_members[i]))
            return "a private JWK (has 'd' or another private member), expected a public key";
    const json_t *kid = json_object_get(jwk, "kid"), *alg = json_object_get(jwk, "alg");
    if (kid && (!jwt_json_cstr(kid, KID_MAX) || json_string_length(kid) == 0))
        return "JWK 'kid' is not a string of 1 to 128 bytes";
    if (alg && !jwt_json_cstr(alg, sizeof(ret->alg) - 1))
        return "JWK 'alg' is not a short string";
    const char *kty = jwt_json_cstr(json_object_get(jwk, "kty"), 8);
    EVP_PKEY *pkey = NULL;
    if (kty && strcmp(kty, "OKP") == 0)
        pkey = jwk_okp(jwk);
    else if (kty && strcmp(kty, "RSA") == 0)
        pkey = jwk_rsa(jwk);
    else
        return "JWK 'kty' is not OKP or RSA";
    ERR_clear_error();
    const char *why = pkey ? key_problem(pkey) : "malformed JWK";
    if (why) {
        EVP_PKEY_free(pkey);
        return why;
    }
    ret->pkey = pkey;
    snprintf(ret->kid, sizeof(ret->kid), "%s", kid ? json_string_value(kid) : "");
    snprintf(ret->alg, sizeof(ret->alg), "%s", alg ? json_string_value(alg) : "");
    return NULL;
}

static int public_key_load(const char *text, struct jwt_key *ret, struct kcr_err *err)
{
    const char *p = text + strspn(text, " \t\r\n");
    const char *why;
    if (*p == '{') {
        json_t *j = json_loads(p, JSON_REJECT_DUPLICATES, NULL);
        why = jwk_load(j, ret);
        json_decref(j);
    } else {
        why = pem_load(p, &ret->pkey);
    }
    return why ? REFUSE(err, "CODEAPI_JWT_PUBLIC_KEY: %s", why) : 0;
}

/* {"keys":[JWK,...]}: every key has a kid, and no kid is used twice, so a
 * token's kid always names exactly one key. */
static int jwks_load(struct jwt_keys *ks, const char *text, struct kcr_err *err)
{
    _cleanup_json_ json_t *set = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    const json_t *keys = json_object_get(set, "keys");
    if (!json_is_array(keys) || json_array_size(keys) > JWKS_MAX)
        return REFUSE(err, "CODEAPI_JWT_JWKS_JSON: not {\"keys\":[...]} of at most %d keys",
                      JWKS_MAX);
    ks->jwks = xcalloc(json_array_size(keys) + 1, sizeof(*ks->jwks));
    for (size_t i = 0; i < json_array_size(keys); i++) {
        struct jwt_key *k = &ks->jwks[ks->njwks];
        const char *why = jwk_load(json_array_get(keys, i), k);
        if (why)
            return REFUSE(err, "CODEAPI_JWT_JWKS_JSON: key %zu: %s", i, why);
        ks->njwks++;
        if (!k->kid[0])
            return REFUSE(err, "CODEAPI_JWT_JWKS_JSON: key %zu has no kid", i);
        for (size_t j = 0; j + 1 < ks->njwks; j++)
            if (strcmp(ks->jwks[j].kid, k->kid) == 0)
                return REFUSE(err, "CODEAPI_JWT_JWKS_JSON: kid '%s' used twice", k->kid);
    }
    return 0;
}

/*** Keys: CODEAPI_JWT_PUBLIC_KEYS_DIR ***/

/* Opens <kid>, else <kid>.pem, without following a symlink or blocking on a
 * FIFO. Returns the fd of a regular file, or -errno. */
static int dir_key_open(int dirfd, const char *kid, struct stat *ret_st)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    char name[KID_MAX + sizeof(".pem")];
    int fd = openat(dirfd, kid, flags);
    if (fd < 0 && errno == ENOENT) {
        snprintf(name, sizeof(name), "%s.pem", kid);
        fd = openat(dirfd, name, flags);
    }
    if (fd < 0)
        return -errno;
    if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode)) {
        (void)safe_close(fd);
        return -EINVAL;
    }
    return fd;
}

static bool same_file(const struct dir_key *d, const struct stat *st)
{
    return d->dev == st->st_dev && d->ino == st->st_ino && d->size == st->st_size &&
           d->mtim.tv_sec == st->st_mtim.tv_sec && d->mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* The slot of kid, or NULL. Called with dir_lock held. */
static struct dir_key *dir_find(struct jwt_keys *ks, const char *kid)
{
    for (size_t i = 0; i < DIR_SLOTS; i++)
        if (strcmp(ks->dir[i].kid, kid) == 0)
            return &ks->dir[i];
    return NULL;
}

/* A new reference to the cached key of kid if it was read from the file st
 * describes; NULL when the file is new or changed. */
static EVP_PKEY *dir_cache_get(struct jwt_keys *ks, const char *kid, const struct stat *st,
                               uint64_t *ret_gen)
{
    EVP_PKEY *pkey = NULL;
    pthread_mutex_lock(&ks->dir_lock);
    const struct dir_key *d = dir_find(ks, kid);
    if (d && same_file(d, st) && EVP_PKEY_up_ref(d->pkey) == 1) {
        pkey = d->pkey;
        *ret_gen = d->gen;
    }
    pthread_mutex_unlock(&ks->dir_lock);
    return pkey;
}

/* Remembers pkey (the cache takes its own reference) for kid, evicting round-robin
 * when full, so memory stays bounded whatever kids tokens name. When another
 * thread loaded the same file meanwhile, its entry (and generation) stays. */
static uint64_t dir_cache_put(struct jwt_keys *ks, const char *kid, const struct stat *st,
                              EVP_PKEY *pkey)
{
    pthread_mutex_lock(&ks->dir_lock);
    struct dir_key *d = dir_find(ks, kid);
    if (d && same_file(d, st)) {
        uint64_t gen = d->gen;
        pthread_mutex_unlock(&ks->dir_lock);
        return gen;
    }
    if (!d)
        d = dir_find(ks, "");
    if (!d)
        d = &ks->dir[ks->dir_next++ % DIR_SLOTS];
    EVP_PKEY_free(d->pkey);
    (void)EVP_PKEY_up_ref(pkey);
    *d = (struct dir_key){.dev = st->st_dev,
                          .ino = st->st_ino,
                          .size = st->st_size,
                          .mtim = st->st_mtim,
                          .pkey = pkey,
                          .gen = ++ks->dir_gen};
    snprintf(d->kid, sizeof(d->kid), "%s", kid);
    uint64_t gen = d->gen;
    pthread_mutex_unlock(&ks->dir_lock);
    return gen;
}

/* A key file that disappeared takes its key with it. */
static void dir_cache_drop(struct jwt_keys *ks, const char *kid)
{
    pthread_mutex_lock(&ks->dir_lock);
    struct dir_key *d = dir_find(ks, kid);
    if (d) {
        EVP_PKEY_free(d->pkey);
        *d = (struct dir_key){0};
    }
    pthread_mutex_unlock(&ks->dir_lock);
}

/* Reads at most KEY_TEXT_MAX bytes of PEM from fd. NULL when too big or not a usable key. */
static EVP_PKEY *dir_key_read(int fd)
{
    struct kcr_buf buf;
    EVP_PKEY *pkey = NULL;
    buf_init(&buf, KEY_TEXT_MAX);
    if (fs_read_all(fd, &buf) == 0 && !buf.truncated && buf.data)
        (void)pem_load(buf.data, &pkey);
    buf_done(&buf);
    return pkey;
}

/* The key of kid in keys_dir, read again whenever the file changed. Returns a
 * new reference, or NULL with err set. */
static EVP_PKEY *dir_key_get(struct jwt_keys *ks, const char *kid, uint64_t *ret_gen,
                             struct kcr_err *err)
{
    char shown[65];
    struct stat st;
    if (strlen(kid) > KID_MAX || !names_is_safe(kid)) {
        (void)REFUSE(err, "unsafe kid '%s'", kid_shown(kid, shown));
        return NULL;
    }
    _cleanup_close_ int fd = dir_key_open(ks->dirfd, kid, &st);
    if (fd == -ENOENT)
        dir_cache_drop(ks, kid);
    if (fd < 0) {
        (void)REFUSE(err, "unknown kid '%s'", kid_shown(kid, shown));
        return NULL;
    }
    EVP_PKEY *pkey = dir_cache_get(ks, kid, &st, ret_gen);
    if (pkey)
        return pkey;
    pkey = dir_key_read(fd);
    if (!pkey) {
        (void)REFUSE(err, "unusable key file for kid '%s'", kid_shown(kid, shown));
        return NULL;
    }
    *ret_gen = dir_cache_put(ks, kid, &st, pkey);
    return pkey;
}

/* Whether the key file of kid is still the one loaded as generation gen. */
bool jwt_keys_current(struct jwt_keys *ks, const char *kid, uint64_t gen)
{
    struct stat st;
    _cleanup_close_ int fd = dir_key_open(ks->dirfd, kid, &st);
    if (fd < 0)
        return false;
    pthread_mutex_lock(&ks->dir_lock);
    const struct dir_key *d = dir_find(ks, kid);
    bool current = d && d->gen == gen && same_file(d, &st);
    pthread_mutex_unlock(&ks->dir_lock);
    return current;
}

/*** Key selection ***/

/* Whether pkey (with its JWK "alg", "" if none) may verify alg: a key serves
 * one algorithm family only, so an RSA key never checks an EdDSA token. */
static bool key_fits(const EVP_PKEY *pkey, const char *jwk_alg, enum jwt_alg alg)
{
    if (jwk_alg[0] && strcmp(jwk_alg, jwt_alg_name(alg)) != 0)
        return false;
    int id = EVP_PKEY_get_base_id(pkey);
    return alg == ALG_EDDSA ? id == EVP_PKEY_ED25519 : alg == ALG_RS256 && id == EVP_PKEY_RSA;
}

static const struct jwt_key *static_key_find(const struct jwt_keys *ks, const char *kid)
{
    if (ks->single.pkey && (!ks->single.kid[0] || (kid && strcmp(kid, ks->single.kid) == 0)))
        return &ks->single;
    for (size_t i = 0; kid && i < ks->njwks; i++)
        if (strcmp(ks->jwks[i].kid, kid) == 0)
            return &ks->jwks[i];
    return NULL;
}

/* The one key the token's kid selects (public_key, then jwks, then keys_dir)
 * for an EdDSA or RS256 token: no other key is tried. A new reference, or NULL
 * with err set. */
EVP_PKEY *jwt_keys_select(struct jwt_keys *ks, enum jwt_alg alg, const char *kid, uint64_t *ret_gen,
                          struct kcr_err *err)
{
    char shown[65];
    const struct jwt_key *k = static_key_find(ks, kid);
    EVP_PKEY *pkey = NULL;
    *ret_gen = 0;
    if (k && key_fits(k->pkey, k->alg, alg) && EVP_PKEY_up_ref(k->pkey) == 1)
        pkey = k->pkey;
    else if (k)
        (void)REFUSE(err, "key does not fit algorithm '%s'", jwt_alg_name(alg));
    else if (!kid)
        (void)REFUSE(err, "missing kid");
    else if (ks->dirfd < 0)
        (void)REFUSE(err, "unknown kid '%s'", kid_shown(kid, shown));
    else if ((pkey = dir_key_get(ks, kid, ret_gen, err)) && !key_fits(pkey, "", alg)) {
        EVP_PKEY_free(pkey);
        (void)REFUSE(err, "key does not fit algorithm '%s'", jwt_alg_name(alg));
        return NULL;
    }
    return pkey;
}

/*** The key set ***/

static int keys_load(struct jwt_keys *ks, const struct kcr_jwt_config *cfg, struct kcr_err *err)
{
    if (jwt_is_set(cfg->public_key) && public_key_load(cfg->public_key, &ks->single, err) < 0)
        return -1;
    if (jwt_is_set(cfg->jwks_json) && jwks_load(ks, cfg->jwks_json, err) < 0)
        return -1;
    if (jwt_is_set(cfg->keys_dir)) {
        ks->dirfd = open(cfg->keys_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ks->dirfd < 0)
            return kcr_err_set(err, errno, KCR_ERR_INVALID,
                               "CODEAPI_JWT_PUBLIC_KEYS_DIR: open '%s'", cfg->keys_dir);
    }
    return 0;
}

struct jwt_keys *jwt_keys_new(const struct kcr_jwt_config *cfg, struct kcr_err *err)
{
    struct jwt_keys *ks = xcalloc(1, sizeof(*ks));
    ks->dirfd = -1;
    pthread_mutex_init(&ks->dir_lock, NULL);
    if (keys_load(ks, cfg, err) < 0)
        return jwt_keys_free(ks);
    return ks;
}

struct jwt_keys *jwt_keys_free(struct jwt_keys *ks)
{
    if (!ks)
        return NULL;
    EVP_PKEY_free(ks->single.pkey);
    for (size_t i = 0; i < ks->njwks; i++)
        EVP_PKEY_free(ks->jwks[i].pkey);
    free(ks->jwks);
    for (size_t i = 0; i < DIR_SLOTS; i++)
        EVP_PKEY_free(ks->dir[i].pkey);
    ks->dirfd = safe_close(ks->dirfd);
    pthread_mutex_destroy(&ks->dir_lock);
    free(ks);
    return NULL;
}

bool jwt_keys_enabled(const struct jwt_keys *ks)
{
    return ks && (ks->single.pkey || ks->njwks > 0 || ks->dirfd >= 0);
}
