/* sidecar-config — kcr-sidecar's settings, read once from the environment. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct sidecar_config {
    const char *language;    /* LANGUAGE: default language code ("py"); must be in the table */
    const char *working_dir; /* WORKING_DIR: the sidecar's path to the shared data dir */
    const char *socket_path; /* SIDECAR_SOCKET: unix socket (wins over the port) */
    long port;               /* SIDECAR_PORT: 8080 */
    const char *host;        /* SIDECAR_HOST: 0.0.0.0 */
    long max_exec_time;      /* MAX_EXECUTION_TIME: seconds, 30, at most KCR_MAX_EXEC_SECONDS */
    long max_output;         /* MAX_OUTPUT_SIZE: bytes per stream, default 1 MiB */
    long max_file_write_mb;  /* MAX_FILE_WRITE_MB: RLIMIT_FSIZE of user code, 1024; 0 = none */
    long client_gid;         /* KCR_CLIENT_GID: unix socket peers besides root; -1 = any */
    long max_pids; /* MAX_PIDS: RLIMIT_NPROC of user code where it is per sandbox; 0 = none */
    const char *main_name;      /* MAIN_PROCESS_NAME: default "sleep" */
    bool network_isolated;      /* NETWORK_ISOLATED: adds GOPROXY=off GOSUMDB=off for Go */
    bool prestart_runner;       /* PRESTART_RUNNER: start LANGUAGE's runner at /ready, default on */
    char *nsexec_path;          /* KCR_NSEXEC, else kcr-nsexec next to /proc/self/exe */
    long uid;                   /* KCR_EXEC_UID: user code's uid/gid, default 65532 */
    long main_pid;              /* KCR_MAIN_PID: pin the main process; 0 = scan */
    long ready_fd;              /* KCR_READY_FD: closed once listening; 0 = none */
    const char *forkserver;     /* KCR_FORKSERVER: the fork-server's socket (local pods), or NULL */
    const char *runner_preload; /* RUNNER_PRELOAD: modules the pre-started runner imports */
};

/* Reads every variable; fails naming the first bad one. */
int sidecar_config_load(struct sidecar_config *cfg, struct kcr_err *err);

/* Frees what the config owns. */
void sidecar_config_done(struct sidecar_config *cfg);
