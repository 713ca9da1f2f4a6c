#include "core/config.h"
#include "common/cleanup.h"
#include "common/config.h"
#include "common/lang.h"
#include "common/xalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MIN_KEY_LEN 16

static int add_key(struct kcr_serve_config *cfg, const char *var, const char *key, size_t len,
                   struct kcr_err *err)
{
    if (len < MIN_KEY_LEN)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "%s: every API key must be at least %d characters", var, MIN_KEY_LEN);
    if (cfg->nkeys == KCR_MAX_KEYS)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "%s: more than %d keys", var, KCR_MAX_KEYS);
    cfg->keys[cfg->nkeys++] = xstrndup(key, len);
    return 0;
}

static int load_keys(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *one = config_str("API_KEY", NULL);
    if (one && add_key(cfg, "API_KEY", one, strlen(one), err) < 0)
        return -1;
    const char *many = config_str("API_KEYS", NULL);
    for (const char *p = many; p && *p;) {
        const char *comma = strchrnul(p, ',');
        const char *a = p, *b = comma;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && add_key(cfg, "API_KEYS", a, (size_t)(b - a), err) < 0)
            return -1;
        p = *comma ? comma + 1 : comma;
    }
    const char *master = config_str("MASTER_API_KEY", NULL);
    if (master) {
        if (strlen(master) < MIN_KEY_LEN)
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "MASTER_API_KEY: must be at least %d characters", MIN_KEY_LEN);
        cfg->master_key = xstrdup(master);
    }
    return 0;
}

static int load_backend(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    const char *be = config_str("KCR_POD_BACKEND", "local");
    if (!strcasecmp(be, "local"))
        cfg->pod_backend = KCR_POD_BACKEND_LOCAL;
    else if (!strcasecmp(be, "kubernetes"))
        cfg->pod_backend = KCR_POD_BACKEND_KUBERNETES;
    else
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "KCR_POD_BACKEND: '%s' is not one of local, kubernetes", be);
    /* The scale-out stores are later work: refuse rather than silently ignore. */
    static const char *const later[] = {"REDIS_URL", "S3_ENDPOINT", "MINIO_ENDPOINT"};
    for (size_t i = 0; i < ARRAY_SIZE(later); i++)
        if (config_str(later[i], NULL))
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "%s: this build has only the embedded store (SQLite and files "
                               "in KCR_DATA_DIR); unset it",
                               later[i]);
    return 0;
}

static int load_limits(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    long v;
    if (config_long("MAX_EXECUTION_TIME", 30, 1, 600, &v, err) < 0)
        return -1;
    cfg->max_exec_time_s = (int)v;
    /* LANG_TIME_MULT_<CODE> / LANG_MEM_MULT_<CODE> overrides (docs/languages.md). */
    if (lang_config_check(err) < 0)
        return -1;
    if (config_long("MAX_OUTPUT_SIZE", 65536, 1, 64L << 20, &v, err) < 0)
        return -1;
    cfg->max_output_chars = (size_t)v;
    if (config_long("MAX_FILE_SIZE_MB", 10, 1, 4096, &v, err) < 0)
        return -1;
    cfg->max_file_size = (size_t)v << 20;
    if (config_long("MAX_FILES_PER_SESSION", 50, 1, 10000, &v, err) < 0)
        return -1;
    cfg->max_files_per_session = (size_t)v;
    if (config_long("MAX_OUTPUT_FILES", 10, 0, 1000, &v, err) < 0)
        return -1;
    cfg->max_output_files = (size_t)v;
    if (config_long("MAX_MEMORY_MB", 512, 16, 1L << 20, &cfg->max_memory_mb, err) < 0 ||
        config_long("MAX_PIDS", 256, 8, 1L << 20, &cfg->max_pids, err) < 0 ||
        config_long("SESSION_TTL_HOURS", 0, 0, 24L * 365 * 10, &cfg->session_ttl_hours, err) < 0)
        return -1;
    if (config_long("SESSION_CLEANUP_INTERVAL_MINUTES", 10, 1, 24 * 60, &v, err) < 0)
        return -1;
    cfg->cleanup_interval_s = v * 60;
    if (config_long("STATE_TTL_SECONDS", 0, 0, 1L << 31, &cfg->state_ttl_s, err) < 0)
        return -1;
    if (config_bool("STATE_PERSISTENCE_ENABLED", true, &cfg->state_persistence, err) < 0)
        return -1;
    if (config_long("KCR_SHUTDOWN_GRACE_SECONDS", 30, 0, 3600, &v, err) < 0)
        return -1;
    cfg->shutdown_grace_s = (int)v;
    return 0;
}

static int load_server(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    long v;
    const char *host = config_str("API_HOST", "127.0.0.1");
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    struct in6_addr any;
    if (inet_pton(AF_INET, host, &any) != 1 && inet_pton(AF_INET6, host, &any) != 1)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "API_HOST: '%s' is not an IP address (e.g. 127.0.0.1, 0.0.0.0 or ::)",
                           host);
    cfg->host = xstrdup(host);
    if (config_long("API_PORT", 8000, 0, 65535, &v, err) < 0)
        return -1;
    cfg->port = (int)v;
    const char *dir = config_str("KCR_DATA_DIR", "./data");
    if (dir[0] == '/') {
        cfg->data_dir = xstrdup(dir);
    } else {
        /* Absolute from here on: the server changes uid but never its cwd
         * expectations, and logs should show where the data is. */
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof(cwd)))
            return kcr_err_set(err, errno, KCR_ERR_INVALID, "KCR_DATA_DIR: cannot resolve '%s'",
                               dir);
        cfg->data_dir = xasprintf("%s/%s", cwd, strncmp(dir, "./", 2) ? dir : dir + 2);
    }
    if (config_bool("ENABLE_CORS", false, &cfg->enable_cors, err) < 0)
        return -1;
    cfg->cors_origins = xstrdup(config_str("CORS_ORIGINS", "*"));
    if (config_long("KCR_SERVE_UID", 65530, 1, 0x7ffffffe, &v, err) < 0)
        return -1;
    cfg->serve_uid = (uid_t)v;
    if (config_long("KCR_SERVE_GID", v, 1, 0x7ffffffe, &v, err) < 0)
        return -1;
    cfg->serve_gid = (gid_t)v;
    return 0;
}

int config_load(struct kcr_serve_config *cfg, struct kcr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    if (load_server(cfg, err) < 0 || load_keys(cfg, err) < 0 || load_limits(cfg, err) < 0 ||
        load_backend(cfg, err) < 0) {
        config_done(cfg);
        return -1;
    }
    return 0;
}

void config_done(struct kcr_serve_config *cfg)
{
    free(cfg->host);
    for (size_t i = 0; i < cfg->nkeys; i++)
        free(cfg->keys[i]);
    free(cfg->master_key);
    free(cfg->data_dir);
    free(cfg->cors_origins);
    memset(cfg, 0, sizeof(*cfg));
}
