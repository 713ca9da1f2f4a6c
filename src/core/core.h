/* core — the services every API handler works through, built once by
 * `kcr serve` and shared (read-only after start) by all request threads. */
#pragma once

#include "core/admission.h"
#include "core/config.h"
#include "pod/pool.h"
#include "store/blob.h"
#include "store/meta.h"

struct kcr_core {
    const struct kcr_serve_config *cfg;
    struct kcr_meta *meta;
    struct kcr_blob *blob;
    struct kcr_pool *pool;           /* NULL when the pod backend failed to start */
    struct kcr_pod_backend *backend; /* borrowed by pool */
    struct kcr_admission *admission; /* MAX_CONCURRENT_EXECUTIONS; NULL admits all */
};
