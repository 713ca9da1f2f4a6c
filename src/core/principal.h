/* principal — who a request acts for, and what it may touch.
 *
 * Every request that passes authentication has one principal, and every
 * session, file and state it creates is stored with the principal's id as its
 * owner (docs/auth.md):
 *   key:<32 hex>        an API key (environment or managed), by its sha256;
 *                       the key itself is never stored or logged
 *   jwt:<tenant>:<sub>  a LibreChat user of a tenant (':' and '%' in tenant and
 *                       sub are percent-encoded, so the tenant is the text up to
 *                       the second ':')
 *   trusted             any peer of AUTH_TRUSTED_NETWORKS without credentials
 * Data from before owners existed belongs to "unowned" and stays reachable by
 * every API key. Another principal is told "not found", never "forbidden", so
 * ids cannot be probed. */
#pragma once

#include <stdbool.h>

#include "common/err.h"
#include "store/meta.h"

enum kcr_principal_kind { KCR_PRINCIPAL_KEY, KCR_PRINCIPAL_JWT, KCR_PRINCIPAL_TRUSTED };

struct kcr_principal {
    enum kcr_principal_kind kind;
    char id[KCR_OWNER_MAX];
    char sub[256];                 /* jwt: the token's sub as sent */
    char tenant[72];               /* jwt: the tenant as sent */
    struct kcr_rate_limits limits; /* a managed key's own limits; -1 = the defaults */
};

/* An API key's principal from the key's sha256 (hex); limits may be NULL. */
void principal_key(struct kcr_principal *p, const char *key_sha256_hex,
                   const struct kcr_rate_limits *limits);
/* A LibreChat user's principal (tenant and sub as the token has them). */
void principal_jwt(struct kcr_principal *p, const char *tenant, const char *sub);
/* The one principal of every trusted-network peer without credentials. */
void principal_trusted(struct kcr_principal *p);

/* Whether p may use (read, write, delete) what owner owns: its own data, and
 * for API keys also the data of KCR_OWNER_UNOWNED. */
bool principal_owns(const struct kcr_principal *p, const char *owner);

/* The resource a request names (`kind`, `id`, `version`; each may be NULL or
 * empty). No kind: *ret is all empty. Fails with KCR_ERR_INVALID for an
 * unknown kind, a kind without id or values too long or with control
 * characters, and with KCR_ERR_FORBIDDEN when a LibreChat user names
 * kind=user with an id other than its own sub. */
int principal_resource(const struct kcr_principal *p, const char *kind, const char *id,
                       const char *version, struct kcr_resource *ret, struct kcr_err *err);

/* Whether p may read file f when it names the resource want (may be NULL):
 * owners may; agent and skill files are shared with the LibreChat users of
 * the owner's tenant that name the same kind, id (and version, when both
 * have one). */
bool principal_may_read(const struct kcr_principal *p, const struct kcr_file_meta *f,
                        const struct kcr_resource *want);
