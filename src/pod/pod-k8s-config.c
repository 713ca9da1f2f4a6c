/* pod-k8s-config — the kubernetes backend's settings from the environment
 * (pod-k8s.h lists every variable and its default). */
#include "pod/pod-k8s.h"
#include "common/limits.h"

#include "common/cleanup.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/xalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static char *make_replica_id(void)
{
    unsigned char r[4] = {0};
    char host[64] = "kcr";
    char out[64];
    size_t n = 0;
    (void)gethostname(host, sizeof(host) - 1);
    /* Label values: [a-z0-9-], at most 63; keep room for "-<8 hex>". */
    for (const char *p = host; *p && n < 40; p++)
        if (isalnum((unsigned char)*p) || *p == '-')
            out[n++] = (char)tolower((unsigned char)*p);
    while (n > 0 && out[n - 1] == '-')
        n--;
    if (n == 0 || !isalnum((unsigned char)out[0]))
        n = (size_t)snprintf(out, sizeof(out), "kcr");
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r[0] = (unsigned char)getpid(); /* getrandom on a 4-byte read only fails pre-boot */
    snprintf(out + n, sizeof(out) - n, "-%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    return xstrdup(out);
}

static int read_pool_sizes(struct pod_k8s_config *cfg, struct kcr_err *err)
{
    size_t n = 0;
    const struct kcr_lang *langs = lang_all(&n);
    for (size_t i = 0; i < n && i < POD_K8S_MAX_LANGS; i++) {
        char name[64];
        int k = snprintf(name, sizeof(name), "POD_POOL_");
        for (const char *p = langs[i].code; *p && k < (int)sizeof(name) - 1; p++)
            name[k++] = (char)toupper((unsigned char)*p);
        name[k] = '\0';
        long def = !strcmp(langs[i].code, "py") ? 2 : !strcmp(langs[i].code, "js") ? 1 : 0;
        long v = 0;
        if (config_long(name, def, 0, 100, &v, err) < 0)
            return -1;
        cfg->pool_size[i] = (int)v;
    }
    return 0;
}

int pod_k8s_config_from_env(struct pod_k8s_config *cfg, struct kcr_err *err)
{
    *cfg = (struct pod_k8s_config){0};
    struct {
        const char *name;
        long def, min, max;
        long *ret;
    } longs[] = {
        {"MAX_MEMORY_MB", 512, 16, 1 << 20, &cfg->memory_mb},
        {"K8S_CPU_MILLIS", 1000, 10, 1 << 20, &cfg->cpu_millis},
        {"K8S_MAIN_MEMORY_MB", 64, 8, 1 << 20, &cfg->main_memory_mb},
        {"K8S_MAIN_CPU_MILLIS", 100, 10, 1 << 20, &cfg->main_cpu_millis},
        {"MAX_EXECUTION_TIME", 30, 1, KCR_MAX_EXEC_SECONDS, &cfg->max_exec_s},
        {"MAX_OUTPUT_SIZE", 65536, 1, 1 << 30, &cfg->max_output},
        {"MAX_PIDS", 256, 8, 1 << 22, &cfg->max_pids},
        {"K8S_DATA_SIZE_MB", 1024, 1, 1 << 24, &cfg->data_mb},
        {"K8S_TMP_SIZE_MB", 512, 1, 1 << 24, &cfg->tmp_mb},
        {"K8S_SIDECAR_PORT", 8080, 1, 65535, &cfg->sidecar_port},
        {"K8S_POOL_BATCH", 5, 1, 100, &cfg->batch},
        {"K8S_POD_READY_TIMEOUT_SECONDS", 60, 1, 3600, &cfg->ready_timeout_s},
        {"K8S_ACQUIRE_WAIT_MS", 3000, 0, 600000, &cfg->acquire_wait_ms},
        {"K8S_LEASE_SECONDS", 120, 2, 86400, &cfg->lease_s},
        {"K8S_GC_INTERVAL_SECONDS", 15, 1, 3600, &cfg->gc_interval_s},
        {"K8S_POD_MAX_AGE_SECONDS", 3600, 10, 30 * 86400, &cfg->max_age_s},
        {"K8S_WATCH_TIMEOUT_SECONDS", 240, 1, 3600, &cfg->watch_timeout_s},
        {"K8S_FOREIGN_POD_GRACE_SECONDS", 600, 0, 30 * 86400, &cfg->foreign_grace_s},
    };
    for (size_t i = 0; i < ARRAY_SIZE(longs); i++)
        if (config_long(longs[i].name, longs[i].def, longs[i].min, longs[i].max, longs[i].ret,
                        err) < 0)
            return -1;
    if (read_pool_sizes(cfg, err) < 0)
        return -1;
    if (k8s_client_config_from_env(&cfg->client, err) < 0)
        return -1;
    cfg->registry = xstrdup(config_str("K8S_IMAGE_REGISTRY", "kcr"));
    cfg->tag = xstrdup(config_str("K8S_IMAGE_TAG", "latest"));
    const char *s = config_str("K8S_SIDECAR_IMAGE", NULL);
    cfg->sidecar_image = s ? xstrdup(s) : NULL;
    cfg->pull_policy = xstrdup(config_str("K8S_IMAGE_PULL_POLICY", "IfNotPresent"));
    s = config_str("K8S_RUNTIME_CLASS", NULL);
    cfg->runtime_class = s ? xstrdup(s) : NULL;
    s = config_str("PRELOAD_PY", LANG_PRELOAD_PY_DEFAULT);
    cfg->preload_py = strcmp(s, "none") ? xstrdup(s) : NULL;
    s = config_str("K8S_REPLICA_ID", NULL);
    cfg->replica_id = s ? xstrdup(s) : make_replica_id();
    return 0;
}

void pod_k8s_config_done(struct pod_k8s_config *cfg)
{
    k8s_client_config_done(&cfg->client);
    free(cfg->registry);
    free(cfg->tag);
    free(cfg->sidecar_image);
    free(cfg->pull_policy);
    free(cfg->runtime_class);
    free(cfg->preload_py);
    free(cfg->replica_id);
    *cfg = (struct pod_k8s_config){0};
}

static char *dup0(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void pod_k8s_config_copy(struct pod_k8s_config *dst, const struct pod_k8s_config *src)
{
    *dst = *src;
    dst->client.api_url = dup0(src->client.api_url);
    dst->client.token = dup0(src->client.token);
    dst->client.token_file = dup0(src->client.token_file);
    dst->client.ca_file = dup0(src->client.ca_file);
    dst->client.namespace = dup0(src->client.namespace);
    dst->registry = dup0(src->registry ? src->registry : "kcr");
    dst->tag = dup0(src->tag ? src->tag : "latest");
    dst->sidecar_image = dup0(src->sidecar_image);
    dst->pull_policy = dup0(src->pull_policy ? src->pull_policy : "IfNotPresent");
    dst->runtime_class = dup0(src->runtime_class);
    dst->preload_py = dup0(src->preload_py);
    dst->replica_id = src->replica_id ? xstrdup(src->replica_id) : make_replica_id();
}
