#include "core/backend.h"

#include "pod/pod-k8s.h"
#include "pod/pod-local.h"
#include "pod/sidecar-client.h"

static struct kcr_pod_backend *local_new(const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    struct kcr_pod_local_config lc;
    if (pod_local_config_from_env(&lc, err) < 0)
        return NULL;
    /* The HTTP side talks to the sidecars after it dropped to this group. */
    lc.client_gid = cfg->serve_gid;
    lc.output_bytes = sidecar_client_output_bytes((long)cfg->max_output_chars);
    struct kcr_pod_backend *be = pod_local_new(&lc, err);
    pod_local_config_done(&lc);
    return be;
}

static struct kcr_pod_backend *k8s_new(struct kcr_err *err)
{
    struct pod_k8s_config kc;
    struct kcr_pod_backend *be = NULL;
    if (pod_k8s_config_from_env(&kc, err) == 0)
        be = pod_k8s_new(&kc, err);
    pod_k8s_config_done(&kc);
    return be;
}

struct kcr_pod_backend *backend_new(const struct kcr_serve_config *cfg, struct kcr_err *err)
{
    switch (cfg->pod_backend) {
    case KCR_POD_BACKEND_LOCAL:
        return local_new(cfg, err);
    case KCR_POD_BACKEND_KUBERNETES:
        return k8s_new(err);
    }
    kcr_err_set(err, 0, KCR_ERR_INVALID, "KCR_POD_BACKEND: unknown backend");
    return NULL;
}
