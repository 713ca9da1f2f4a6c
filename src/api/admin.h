/* admin — managed API keys under /api/v1/admin/keys, usable only with
 * MASTER_API_KEY in x-api-key (KubeCodeRun's admin API): create (the key is
 * shown once; only its sha256 is stored), list, enable/disable, delete. The
 * dashboard's read-only views under the same prefix: api/admin-views.h. */
#pragma once

#include <stdbool.h>

#include "http/http.h"

#define ADMIN_PREFIX "/api/v1/admin"
/* What an admin request body may hold (a key's name and limits). */
#define ADMIN_BODY_MAX (64u << 10)

/* ctx = struct kcr_api. */
/* The master-key check of every admin route, from the headers alone (the auth
 * gate runs it before any body is read; handlers again); NULL when allowed.
 * No x-api-key: 401; no MASTER_API_KEY configured: 500; another key: 403. */
struct kcr_api;
struct kcr_http_resp *admin_check_master(struct kcr_http_req *req, struct kcr_api *api);

struct kcr_http_resp *admin_handle_list(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_create(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_patch(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_delete(struct kcr_http_req *req, void *ctx);
