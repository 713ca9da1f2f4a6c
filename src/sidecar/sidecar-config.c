#include "sidecar/sidecar-config.h"
#include "common/cleanup.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/limits.h"
#include "common/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* kcr-nsexec is installed next to kcr-sidecar (build/, /usr/local/bin). */
static char *find_nsexec(struct kcr_err *err)
{
    const char *env = config_str("KCR_NSEXEC", NULL);
    if (env)
        return xstrdup(env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return kcr_err_set(err, errno, KCR_ERR_INVALID, "KCR_NSEXEC: readlink /proc/self/exe"),
               NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    return xasprintf("%s/kcr-nsexec", self);
}

int sidecar_config_load(struct sidecar_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->language = config_str("LANGUAGE", "py");
    if (!lang_find(cfg->language))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "LANGUAGE: unknown language '%s'",
                           cfg->language);
    cfg->working_dir = config_str("WORKING_DIR", KCR_WORKDIR);
    struct stat st;
    if (stat(cfg->working_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return kcr_err_set(err, errno, KCR_ERR_INVALID, "WORKING_DIR: '%s' is not a directory",
                           cfg->working_dir);
    cfg->socket_path = config_str("SIDECAR_SOCKET", NULL);
    cfg->forkserver = config_str("KCR_FORKSERVER", NULL);
    cfg->runner_preload = config_str("RUNNER_PRELOAD", NULL);
    if (cfg->forkserver && cfg->forkserver[0] != '/')
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "KCR_FORKSERVER: '%s' is not an absolute path",
                           cfg->forkserver);
    cfg->host = config_str("SIDECAR_HOST", "0.0.0.0");
    if (config_long("SIDECAR_PORT", 8080, 1, 65535, &cfg->port, err) < 0 ||
        config_max_exec_time(&cfg->max_exec_time, err) < 0 ||
        config_long("MAX_OUTPUT_SIZE", 1L << 20, 1024, 64L << 20, &cfg->max_output, err) < 0 ||
        config_long("MAX_FILE_WRITE_MB", 1024, 0, 1L << 30, &cfg->max_file_write_mb, err) < 0 ||
        config_long("MAX_PIDS", 0, 0, 1L << 22, &cfg->max_pids, err) < 0 ||
        config_long("KCR_CLIENT_GID", -1, -1, 0x7fffffff, &cfg->client_gid, err) < 0 ||
        config_bool("NETWORK_ISOLATED", false, &cfg->network_isolated, err) < 0 ||
        config_bool("PRESTART_RUNNER", true, &cfg->prestart_runner, err) < 0 ||
        config_long("KCR_EXEC_UID", 65532, 1, 0x7fffffff, &cfg->uid, err) < 0 ||
        config_long("KCR_MAIN_PID", 0, 0, 0x3fffffff, &cfg->main_pid, err) < 0 ||
        config_long("KCR_READY_FD", 0, 3, 1023, &cfg->ready_fd, err) < 0)
        return -1;
    cfg->main_name = config_str("MAIN_PROCESS_NAME", "sleep");
    if (strchr(cfg->main_name, '/'))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "MAIN_PROCESS_NAME: '%s' contains '/'",
                           cfg->main_name);
    cfg->nsexec_path = find_nsexec(err);
    if (!cfg->nsexec_path)
        return -1;
    if (access(cfg->nsexec_path, X_OK) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INVALID, "KCR_NSEXEC: '%s' is not executable",
                           cfg->nsexec_path);
    return 0;
}

void sidecar_config_done(struct sidecar_config *cfg)
{
    free(cfg->nsexec_path);
    cfg->nsexec_path = NULL;
}
