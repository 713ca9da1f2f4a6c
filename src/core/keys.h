/* keys — managed API keys (created through the admin API), kept in the
 * metadata store by the sha256 hex of the key only (the key itself is never
 * stored). Errors are the store's: KCR_ERR_NOT_FOUND for an unknown hash,
 * KCR_ERR_UNAVAILABLE for a broken (or unopened) store. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "core/core.h"
#include "store/meta.h" /* struct kcr_key_meta, struct kcr_rate_limits */

/* All managed keys, oldest first (*ret freed by the caller with free()). */
int keys_list(struct kcr_core *c, struct kcr_key_meta **ret, size_t *ret_n, struct kcr_err *err);

int keys_add(struct kcr_core *c, const struct kcr_key_meta *k, struct kcr_err *err);

/* The key of that sha256 hex into ret; KCR_ERR_NOT_FOUND when unknown. */
int keys_get(struct kcr_core *c, const char *hash, struct kcr_key_meta *ret, struct kcr_err *err);

/* Enables/disables (KCR_ERR_NOT_FOUND if absent). */
int keys_set_enabled(struct kcr_core *c, const char *hash, bool enabled, struct kcr_err *err);

int keys_set_limits(struct kcr_core *c, const char *hash, const struct kcr_rate_limits *l,
                    struct kcr_err *err);

int keys_delete(struct kcr_core *c, const char *hash, struct kcr_err *err);
