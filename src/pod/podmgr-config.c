/* podmgr-config — the local backend's configuration on its way from kcr to
 * the pod manager it execs (podmgr-internal.h): one JSON object in one
 * SOCK_SEQPACKET message, so the manager runs with exactly what kcr decided
 * (including what kcr serve set besides the environment: client_gid,
 * output_bytes) and never re-derives it. */
#include "pod/podmgr-internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* Far above any real configuration (five paths, a module list). */
#define CONFIG_MSG_MAX 65536

int podmgr_config_send(int fd, const struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    json_auto_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, "
        "s:b, s:I}",
        "preload_py_lite", cfg->preload_py_lite ? cfg->preload_py_lite : "", "run_dir",
        cfg->run_dir, "runtime_dir", cfg->runtime_dir, "sidecar_bin", cfg->sidecar_bin,
        "nsexec_bin", cfg->nsexec_bin, "cgroup_parent", cfg->cgroup_parent, "preload_py",
        cfg->preload_py ? cfg->preload_py : "", "forkserver_lib", cfg->forkserver_lib, "memory_mb",
        (json_int_t)cfg->memory_mb, "pids_max", (json_int_t)cfg->pids_max, "cpu_millis",
        (json_int_t)cfg->cpu_millis, "tmp_mb", (json_int_t)cfg->tmp_mb, "data_mb",
        (json_int_t)cfg->data_mb, "ready_ms", (json_int_t)cfg->ready_ms, "rootless",
        (int)cfg->rootless, "client_gid", (json_int_t)cfg->client_gid, "output_bytes",
        (json_int_t)cfg->output_bytes, "forkserver", (int)cfg->forkserver, "forkserver_wait_ms",
        (json_int_t)cfg->forkserver_wait_ms);
    _cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (!text)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "pod manager: encode the configuration");
    size_t len = strlen(text);
    if (len > CONFIG_MSG_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "pod manager: the configuration is too long (%zu bytes)", len);
    ssize_t n;
    do
        n = send(fd, text, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "pod manager: send the configuration");
    return 0;
}

int podmgr_config_recv(int fd, struct kcr_pod_local_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    _cleanup_free_ char *buf = xmalloc(CONFIG_MSG_MAX + 1);
    ssize_t n;
    do
        n = recv(fd, buf, CONFIG_MSG_MAX + 1, MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return kcr_err_set(err, n < 0 ? errno : 0, KCR_ERR_INTERNAL, "no configuration from kcr");
    if (n > CONFIG_MSG_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "configuration of %zd bytes: too long", n);
    json_error_t jerr;
    json_auto_t *o = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "configuration: %s", jerr.text);
    const char *run_dir, *runtime_dir, *sidecar_bin, *nsexec_bin, *cgroup_parent, *preload_py,
        *forkserver_lib, *preload_py_lite;
    json_int_t memory_mb, pids_max, cpu_millis, tmp_mb, data_mb, ready_ms, client_gid, output_bytes,
        forkserver_wait_ms;
    int rootless, forkserver;
    if (json_unpack_ex(
            o, &jerr, JSON_STRICT,
            "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, "
            "s:I, s:b, s:I}",
            "preload_py_lite", &preload_py_lite, "run_dir", &run_dir, "runtime_dir", &runtime_dir,
            "sidecar_bin", &sidecar_bin, "nsexec_bin", &nsexec_bin, "cgroup_parent", &cgroup_parent,
            "preload_py", &preload_py, "forkserver_lib", &forkserver_lib, "memory_mb", &memory_mb,
            "pids_max", &pids_max, "cpu_millis", &cpu_millis, "tmp_mb", &tmp_mb, "data_mb",
            &data_mb, "ready_ms", &ready_ms, "rootless", &rootless, "client_gid", &client_gid,
            "output_bytes", &output_bytes, "forkserver", &forkserver, "forkserver_wait_ms",
            &forkserver_wait_ms) < 0)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "configuration: %s", jerr.text);
    if (client_gid < 0 || client_gid > (json_int_t)0xFFFFFFFE)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "configuration: bad client_gid");
    *cfg = (struct kcr_pod_local_config){
        .run_dir = xstrdup(run_dir),
        .runtime_dir = xstrdup(runtime_dir),
        .sidecar_bin = xstrdup(sidecar_bin),
        .nsexec_bin = xstrdup(nsexec_bin),
        .cgroup_parent = xstrdup(cgroup_parent),
        .preload_py = xstrdup(preload_py),
        .preload_py_lite = xstrdup(preload_py_lite),
        .forkserver_lib = xstrdup(forkserver_lib),
        .memory_mb = (long)memory_mb,
        .pids_max = (long)pids_max,
        .cpu_millis = (long)cpu_millis,
        .tmp_mb = (long)tmp_mb,
        .data_mb = (long)data_mb,
        .ready_ms = (long)ready_ms,
        .rootless = rootless,
        .client_gid = (gid_t)client_gid,
        .output_bytes = (long)output_bytes,
        .forkserver = forkserver,
        .forkserver_wait_ms = (long)forkserver_wait_ms,
    };
    return 0;
}
