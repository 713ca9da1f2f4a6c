#include "core/backend.h"

#include "pod/pod-local.h"

static struct kcr_pod_backend *local_new(struct kcr_err *err)
{
    struct kcr_pod_local_config lc;
    if (pod_local_config_from_env(&lc, err) < 0)
        return NULL;
    struct kcr_pod_backend *be = pod_local_new(&lc, err);
    pod_local_config_done(&lc);
    return be;
}

struct kcr_pod_backend *backend_new(const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    switch (cfg->pod_backend) {
    case KCR_POD_BACKEND_LOCAL:
        return local_new(err);
    case KCR_POD_BACKEND_KUBERNETES:
        break;
    }
    kcr_err_set(err, 0, KCR_ERR_INVALID,
                "KCR_POD_BACKEND: 'kubernetes' is not available in this build yet (use local)");
    return NULL;
}
