/* sidecar-exec — runs one /execute request through kcr-nsexec.
 *
 * Writes the code file into the shared working directory, then runs each step
 * of the language (compile, run) as its own kcr-nsexec process, in order, with
 * one wall-clock budget for all of them. Output of every step goes into the
 * same two capped buffers; the stdin of the request goes to the last step.
 * At the deadline kcr-nsexec is SIGKILLed: its pid-namespace init dies with it
 * (PR_SET_PDEATHSIG) and the kernel kills every process of that namespace.
 * The same happens as soon as the memory cgroup's OOM killer has killed any
 * process of the run: the result is then exit 137 with oom_killed. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "sidecar/sidecar-request.h"
#include "sidecar/sidecar-result.h"

struct sidecar_exec_params {
    const char *nsexec_path;
    pid_t target;              /* main container process */
    uint64_t target_start;     /* its start time (pid reuse check in kcr-nsexec) */
    const char *data_dir;      /* the sidecar's path to the shared working directory */
    long uid;                  /* uid and gid of user code */
    size_t max_output;         /* per stream */
    uint64_t max_file_write;   /* RLIMIT_FSIZE of user code in bytes; 0 = none */
    long max_pids;             /* kcr-nsexec --nproc (see rlimit.h); 0 = none */
    int oom_fd;                /* cgroup_self_oom_open(), or -1: no OOM accounting */
    const char *const *setenv; /* extra "K=V" for user code (NULL-terminated) or NULL */
    const char *forkserver;    /* fork-server socket for pre-started runners, or NULL */
    const char *preload;       /* comma-separated modules a pre-started runner imports, or NULL */
};

/* A language runner (sidecar-runner.h) started ahead of its request: a
 * kcr-nsexec step with the whole sandbox, waiting inside the main container. */
struct sidecar_prestart;

/* Starts lang's runner in p's main container with working dir wd; RLIMIT_CPU
 * allows the longest timeout, max_timeout_s. Fails (KCR_ERR_NOT_FOUND) for a
 * language without a runner, or as spawning a step fails. */
struct sidecar_prestart *sidecar_prestart_new(const struct sidecar_exec_params *p,
                                              const struct kcr_lang *lang, const char *wd,
                                              long max_timeout_s, struct kcr_err *err);

/* Kills and reaps the runner (if still there). Accepts NULL; returns NULL. */
struct sidecar_prestart *sidecar_prestart_free(struct sidecar_prestart *ps);

/* Runs req; fills res (initialised here; the caller calls sidecar_result_done).
 * With *runner set, a runner for the same language, working dir and main
 * container runs the program instead of a fresh interpreter; it is used up
 * (and *runner set to NULL), as is a runner that is dead or stale; one that
 * only does not fit req is kept. A non-zero exit, a signal or a timeout is a
 * result, not an error. Fails with KCR_ERR_UNAVAILABLE when the main container
 * is gone, KCR_ERR_INVALID when working_dir does not exist inside it,
 * KCR_ERR_INTERNAL otherwise. */
int sidecar_exec_run(const struct sidecar_exec_params *p, const struct sidecar_request *req,
                     struct sidecar_prestart **runner, struct sidecar_result *res,
                     struct kcr_err *err);

/* Writes the code file of req into dirfd (replacing whatever had that name,
 * never following a symlink). Returns the file name (new string) or NULL. */
char *sidecar_exec_write_code(int dirfd, const struct sidecar_request *req, char *ret_class,
                              size_t class_size, struct kcr_err *err);
