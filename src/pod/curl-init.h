/* curl-init — the one libcurl initialisation of the pod module, shared by the
 * kubernetes API client (k8s-client.c), the sidecar client (sidecar-client.c)
 * and the local backend (pod-local.c). */
#pragma once

#include "common/err.h"

/* Runs curl_global_init() exactly once (pthread_once: it is not thread-safe);
 * every call returns its outcome: 0, or -1 with err (may be NULL). */
int pod_curl_init(struct kcr_err *err);
