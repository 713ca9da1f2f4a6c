#include "core/principal.h"
#include "common/buf.h"

#include <stdio.h>
#include <string.h>

/* How much of a key's sha256 names its principal: 128 bits, plenty to keep
 * keys apart, and short enough to read in logs. */
#define KEY_ID_HEX 32

void principal_key(struct kcr_principal *p, const char *key_sha256_hex,
                   const struct kcr_rate_limits *limits)
{
    memset(p, 0, sizeof(*p));
    p->kind = KCR_PRINCIPAL_KEY;
    snprintf(p->id, sizeof(p->id), "key:%.*s", KEY_ID_HEX, key_sha256_hex);
    p->limits = limits ? *limits : (struct kcr_rate_limits){-1, -1, -1};
}

/* Appends s with ':', '%' and every byte outside printable ASCII as %XX. */
static void append_encoded(struct kcr_buf *b, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == ':' || *c == '%' || *c <= 0x20 || *c >= 0x7f)
            buf_printf(b, "%%%02X", *c);
        else
            buf_append(b, c, 1);
    }
}

void principal_jwt(struct kcr_principal *p, const char *tenant, const char *sub)
{
    memset(p, 0, sizeof(*p));
    p->kind = KCR_PRINCIPAL_JWT;
    snprintf(p->sub, sizeof(p->sub), "%s", sub);
    snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
    struct kcr_buf b;
    buf_init(&b, sizeof(p->id) - 1);
    buf_printf(&b, "jwt:");
    append_encoded(&b, p->tenant);
    buf_printf(&b, ":");
    append_encoded(&b, p->sub);
    /* Bounded by the claims' own limits (jwt.h): 4 + 3*64 + 1 + 3*255 < 640. */
    snprintf(p->id, sizeof(p->id), "%s", b.data);
    buf_done(&b);
    p->limits = (struct kcr_rate_limits){-1, -1, -1};
}

void principal_trusted(struct kcr_principal *p)
{
    memset(p, 0, sizeof(*p));
    p->kind = KCR_PRINCIPAL_TRUSTED;
    snprintf(p->id, sizeof(p->id), "trusted");
    p->limits = (struct kcr_rate_limits){-1, -1, -1};
}

bool principal_owns(const struct kcr_principal *p, const char *owner)
{
    if (!strcmp(p->id, owner))
        return true;
    return p->kind == KCR_PRINCIPAL_KEY && !strcmp(owner, KCR_OWNER_UNOWNED);
}

/* Whether owner is a LibreChat user of p's tenant. */
static bool same_tenant(const struct kcr_principal *p, const char *owner)
{
    if (p->kind != KCR_PRINCIPAL_JWT || strncmp(owner, "jwt:", 4))
        return false;
    const char *mine = strchr(p->id + 4, ':'), *theirs = strchr(owner + 4, ':');
    size_t n = (size_t)(mine - p->id);
    return theirs && (size_t)(theirs - owner) == n && !strncmp(p->id, owner, n);
}

static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n <= max;
}

int principal_resource(const struct kcr_principal *p, const char *kind, const char *id,
                       const char *version, struct kcr_resource *ret, struct kcr_err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (!kind || !*kind)
        return 0;
    if (strcmp(kind, "user") && strcmp(kind, "agent") && strcmp(kind, "skill"))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "kind must be user, agent or skill");
    if (!id || !*id || !text_ok(id, KCR_RESOURCE_ID_MAX))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "kind '%s' needs an id of 1 to %d characters",
                           kind, KCR_RESOURCE_ID_MAX);
    if (version && !text_ok(version, KCR_RESOURCE_VERSION_MAX))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "version is longer than %d characters",
                           KCR_RESOURCE_VERSION_MAX);
    /* A user's files are that user's: a token may name only its own sub. */
    if (!strcmp(kind, "user") && p->kind == KCR_PRINCIPAL_JWT && strcmp(id, p->sub))
        return kcr_err_set(err, 0, KCR_ERR_FORBIDDEN, "kind=user requires id to be the caller");
    snprintf(ret->kind, sizeof(ret->kind), "%s", kind);
    snprintf(ret->id, sizeof(ret->id), "%s", id);
    snprintf(ret->version, sizeof(ret->version), "%s", version ? version : "");
    return 0;
}

bool principal_may_read(const struct kcr_principal *p, const struct kcr_file_meta *f,
                        const struct kcr_resource *want)
{
    if (principal_owns(p, f->owner))
        return true;
    if (!want || (strcmp(f->res.kind, "agent") && strcmp(f->res.kind, "skill")))
        return false;
    if (strcmp(want->kind, f->res.kind) || strcmp(want->id, f->res.id))
        return false;
    if (*want->version && *f->res.version && strcmp(want->version, f->res.version))
        return false;
    return same_tenant(p, f->owner);
}
