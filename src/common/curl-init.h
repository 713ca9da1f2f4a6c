/* curl-init — the one libcurl initialisation of the process, shared by the
 * kubernetes API client (pod/k8s-client.c), the sidecar client
 * (pod/sidecar-client.c), the local backend (pod/pod-local.c) and the S3 blob
 * store (store/blob-s3*.c). Each calls it while it is set up, at start, before
 * the HTTP threads exist. */
#pragma once

#include "common/err.h"

/* Runs curl_global_init() exactly once (pthread_once: it is not thread-safe);
 * every call returns its outcome: 0, or -1 with err (may be NULL). */
int curl_init_once(struct kcr_err *err);
