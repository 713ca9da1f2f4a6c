/* pod-local-config — the local backend's settings (pod-local.h): read from
 * the environment by kcr, copied into the backend, and carried to the pod
 * manager (podmgr-config.c), which links this file without the backend. */
#include "pod/pod-local.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/xalloc.h"

static char *exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return xstrdup(".");
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return xstrdup(buf);
}

static int parse_cpus(long *ret, struct kcr_err *err)
{
    const char *v = config_str("MAX_CPUS", "1.0");
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || d < 0.01 || d > 1024)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "MAX_CPUS: '%s' is not a number in 0.01..1024",
                           v);
    *ret = (long)(d * 1000 + 0.5);
    return 0;
}

int pod_local_config_from_env(struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    _cleanup_free_ char *dir = exe_dir();
    cfg->rootless = geteuid() != 0;
    if (cfg->rootless) {
        _cleanup_free_ char *def = xasprintf("/tmp/kcr-%u", (unsigned)getuid());
        cfg->run_dir = xstrdup(config_str("KCR_RUN_DIR", def));
    } else {
        cfg->run_dir = xstrdup(config_str("KCR_RUN_DIR", "/run/kcr"));
    }
    _cleanup_free_ char *rt = xasprintf("%s/runtime", dir);
    _cleanup_free_ char *sc = xasprintf("%s/kcr-sidecar", dir);
    _cleanup_free_ char *ne = xasprintf("%s/kcr-nsexec", dir);
    _cleanup_free_ char *fl = xasprintf("%s/kcr-forkserver.so", dir);
    _cleanup_free_ char *pm = xasprintf("%s/kcr-podmgr", dir);
    cfg->runtime_dir = xstrdup(config_str("KCR_RUNTIME_DIR", rt));
    cfg->sidecar_bin = xstrdup(config_str("KCR_SIDECAR_BIN", sc));
    cfg->nsexec_bin = xstrdup(config_str("KCR_NSEXEC_BIN", ne));
    cfg->podmgr_bin = xstrdup(config_str("KCR_PODMGR_BIN", pm));
    cfg->cgroup_parent = xstrdup(config_str("KCR_CGROUP_PARENT", "kcr"));
    cfg->forkserver_lib = xstrdup(config_str("KCR_FORKSERVER_LIB", fl));
    /* "none": a template that imports nothing (the interpreter start-up is
     * still saved); empty means the default, as for every variable. */
    const char *preload = config_str("PRELOAD_PY", LANG_PRELOAD_PY_DEFAULT);
    cfg->preload_py = xstrdup(strcmp(preload, "none") ? preload : "");
    preload = config_str("PRELOAD_PY_LITE", LANG_PRELOAD_PY_LITE_DEFAULT);
    cfg->preload_py_lite = xstrdup(strcmp(preload, "none") ? preload : "");
    if (config_bool("FORKSERVER", !cfg->rootless, &cfg->forkserver, err) < 0 ||
        config_long("FORKSERVER_WAIT_MS", 30000, 0, 600000, &cfg->forkserver_wait_ms, err) < 0 ||
        config_long("MAX_MEMORY_MB", 512, 16, 1 << 20, &cfg->memory_mb, err) < 0 ||
        config_long("MAX_PIDS", 256, 8, 1 << 22, &cfg->pids_max, err) < 0 ||
        parse_cpus(&cfg->cpu_millis, err) < 0 ||
        config_long("POD_TMP_MB", 256, 1, 1 << 20, &cfg->tmp_mb, err) < 0 ||
        config_long("POD_DATA_MB", 512, 1, 1 << 20, &cfg->data_mb, err) < 0 ||
        config_long("POD_READY_TIMEOUT_MS", 10000, 100, 600000, &cfg->ready_ms, err) < 0) {
        pod_local_config_done(cfg);
        return -1;
    }
    if (cfg->rootless)
        cfg->forkserver = false; /* it needs root to enter pods */
    if (cfg->run_dir[0] != '/' || cfg->runtime_dir[0] != '/' || cfg->sidecar_bin[0] != '/' ||
        cfg->nsexec_bin[0] != '/' || cfg->podmgr_bin[0] != '/') {
        pod_local_config_done(cfg);
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "KCR_RUN_DIR, KCR_RUNTIME_DIR, KCR_SIDECAR_BIN, KCR_NSEXEC_BIN and "
                           "KCR_PODMGR_BIN must be absolute paths");
    }
    return 0;
}

void pod_local_config_done(struct kcr_pod_local_config *cfg)
{
    free(cfg->run_dir);
    free(cfg->runtime_dir);
    free(cfg->sidecar_bin);
    free(cfg->nsexec_bin);
    free(cfg->podmgr_bin);
    free(cfg->cgroup_parent);
    free(cfg->forkserver_lib);
    free(cfg->preload_py);
    free(cfg->preload_py_lite);
    memset(cfg, 0, sizeof(*cfg));
}

void pod_local_config_copy(struct kcr_pod_local_config *dst, const struct kcr_pod_local_config *src)
{
    *dst = *src;
    dst->run_dir = xstrdup(src->run_dir);
    dst->runtime_dir = xstrdup(src->runtime_dir);
    dst->sidecar_bin = xstrdup(src->sidecar_bin);
    dst->nsexec_bin = xstrdup(src->nsexec_bin);
    dst->podmgr_bin = xstrdup(src->podmgr_bin);
    dst->cgroup_parent = xstrdup(src->cgroup_parent);
    dst->forkserver_lib = xstrdup(src->forkserver_lib);
    dst->preload_py = xstrdup(src->preload_py);
    dst->preload_py_lite = xstrdup(src->preload_py_lite);
}
