/* auth — API keys (api-contract rule 10) and the request gate that runs
 * before routing: the 415 content-type check first, then authentication.
 *
 * A key comes from `x-api-key` (any case), or `Authorization: Bearer <key>` /
 * `ApiKey <key>`. Valid keys: API_KEY, API_KEYS, MASTER_API_KEY, the key
 * generated when none is configured, and managed keys in the metadata store
 * (stored as sha256). Static keys are compared in constant time. */
#pragma once

#include <stdbool.h>

#include "core/config.h"
#include "http/http.h"
#include "store/meta.h"

struct kcr_auth;

/* Static keys from cfg plus extra_key (may be NULL); managed keys from meta
 * (borrowed). */
struct kcr_auth *auth_new(const struct kcr_serve_config *cfg, const char *extra_key,
                          struct kcr_meta *meta);
struct kcr_auth *auth_free(struct kcr_auth *a);

/* True when key is valid. */
bool auth_key_valid(struct kcr_auth *a, const char *key);

/* True when key equals MASTER_API_KEY (constant time); false if none is set. */
bool auth_is_master(struct kcr_auth *a, const char *key);

/* The key a request carries, or NULL (borrowed from the request). */
const char *auth_request_key(struct kcr_http_req *req);

/* Paths that need no key: /health, /ready, /openapi.json, and every OPTIONS. */
bool auth_is_public(const char *method, const char *path);

/* The `before` hook: 415 for a body type we do not take, 401 without a valid
 * key, NULL to go on. ctx is the struct kcr_api. */
struct kcr_http_resp *auth_gate(struct kcr_http_req *req, const struct kcr_http_route *route,
                                void *ctx);

/* Lowercase hex sha256 of data into out[65]. */
void auth_sha256_hex(const void *data, size_t len, char out[65]);
