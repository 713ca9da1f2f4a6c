/* admin — managed API keys under /api/v1/admin/keys, usable only with
 * MASTER_API_KEY in x-api-key (KubeCodeRun's admin API): create (the key is
 * shown once; only its sha256 is stored), list, enable/disable, delete. */
#pragma once

#include <stdbool.h>

#include "http/http.h"

#define ADMIN_PREFIX "/api/v1/admin"

/* ctx = struct kcr_api. */
struct kcr_http_resp *admin_handle_list(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_create(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_patch(struct kcr_http_req *req, void *ctx);
struct kcr_http_resp *admin_handle_delete(struct kcr_http_req *req, void *ctx);
