/* auth — who is calling (docs/auth.md), decided before any handler runs.
 *
 * The request gate runs once the headers are in: the 415 content-type check
 * first, then the caller's principal (core/principal.h) from, in order:
 *   - `Authorization: Bearer <JWT>`: a LibreChat-minted token (api/jwt.h),
 *     when CODEAPI_AUTH_PROVIDER is librechat-jwt or both;
 *   - an API key: `x-api-key` (any case), `Authorization: Bearer <key>` or
 *     `ApiKey <key>`, and for /exec also the JSON body fields
 *     LIBRECHAT_CODE_API_KEY, api_key, apiKey (which are removed from the body
 *     before anything else reads it); when the provider is api-key or both.
 *     Valid keys: API_KEY, API_KEYS, MASTER_API_KEY, the key generated when
 *     none is configured, and enabled managed keys (stored as sha256);
 *   - a peer address inside AUTH_TRUSTED_NETWORKS, when it sent no credentials.
 * Credentials that are present must be valid: a bad one is 401 even from a
 * trusted network. Then the per-principal rate limit of the route (429). */
#pragma once

#include <stdbool.h>

#include "core/serve-config.h"
#include "core/core.h"
#include "core/principal.h"
#include "core/ratelimit.h"
#include "http/http.h"

struct kcr_auth;

/* Static keys from cfg, managed keys from core's store (borrowed; its meta
 * may be set later), the JWT verifier when the provider takes tokens. Built
 * before kcr serve drops root, so that CODEAPI_JWT_PUBLIC_KEYS_DIR is opened
 * with the start's rights. Fails (KCR_ERR_INVALID, naming the variable) on
 * bad JWT key material. */
struct kcr_auth *auth_new(const struct kcr_serve_config *cfg, struct kcr_core *core,
                          struct kcr_err *err);
struct kcr_auth *auth_free(struct kcr_auth *a);

/* Accepts key too (the key kcr serve generates when none is configured). */
void auth_add_key(struct kcr_auth *a, const char *key);

/* The principal of an API key; -1 when the key is not valid (or disabled),
 * -2 when the metadata store could not say (unavailable). */
int auth_key_principal(struct kcr_auth *a, const char *key, struct kcr_principal *ret);

/* True when key equals MASTER_API_KEY (constant time); false if none is set. */
bool auth_is_master(struct kcr_auth *a, const char *key);

/* Paths that need no credentials: /health, /ready, /openapi.json, and every OPTIONS. */
bool auth_is_public(const char *method, const char *path);

/* The `before` hook: 415 for a body type we do not take, 401 without valid
 * credentials, 429 over the rate limit, NULL to go on. ctx is the struct kcr_api. */
struct kcr_http_resp *auth_gate(struct kcr_http_req *req, const struct kcr_http_route *route,
                                void *ctx);

/* The `ready` hook: removes API keys from /exec bodies and, when the headers
 * carried no credentials, authenticates with the body's key. */
struct kcr_http_resp *auth_ready(struct kcr_http_req *req, void *ctx);

/* Adds the RateLimit-* headers to responses of rate-limited routes. */
void auth_finish(struct kcr_http_req *req, struct kcr_http_resp *resp);

/* The principal of an authenticated request (borrowed); NULL on public routes. */
const struct kcr_principal *auth_principal(const struct kcr_http_req *req);

/* The request's count against its principal's rate limit, NULL when it was
 * not counted. Whoever takes the count back (ratelimit_undo: the request is
 * forwarded to the replica that counts it) also takes away its RateLimit-*
 * headers. */
struct kcr_rate_state *auth_rate(struct kcr_http_req *req);

/* Which credentials are accepted, for /health/detailed. */
json_t *auth_describe(const struct kcr_auth *a);
