/* backend — picks the pod backend once at start from KCR_POD_BACKEND. */
#pragma once

#include "common/err.h"
#include "core/serve-config.h"
#include "pod/pod.h"

/* The configured backend. local: must be called while still root (it forks the
 * privileged pod manager); kubernetes: pods through the Kubernetes API
 * (docs/kubernetes.md; a missing setting fails naming it). Free with
 * be->ops->free. */
struct kcr_pod_backend *backend_new(const struct kcr_serve_config *cfg, struct kcr_err *err);
