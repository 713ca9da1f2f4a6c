#include "core/keys.h"

/* A core whose store is not open (yet) has no managed keys to offer. */
static int no_store(const struct kcr_core *c, struct kcr_err *err)
{
    if (c && c->meta)
        return 0;
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "metadata store not open");
}

int keys_list(struct kcr_core *c, struct kcr_key_meta **ret, size_t *ret_n, struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_list(c->meta, ret, ret_n, err);
}

int keys_add(struct kcr_core *c, const struct kcr_key_meta *k, struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_add(c->meta, k, err);
}

int keys_get(struct kcr_core *c, const char *hash, struct kcr_key_meta *ret, struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_get(c->meta, hash, ret, err);
}

int keys_set_enabled(struct kcr_core *c, const char *hash, bool enabled, struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_set_enabled(c->meta, hash, enabled, err);
}

int keys_set_limits(struct kcr_core *c, const char *hash, const struct kcr_rate_limits *l,
                    struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_set_limits(c->meta, hash, l, err);
}

int keys_delete(struct kcr_core *c, const char *hash, struct kcr_err *err)
{
    if (no_store(c, err) < 0)
        return -1;
    return c->meta->ops->key_delete(c->meta, hash, err);
}
