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

/* sidecar_exec_write_code into p->data_dir; returns the file's path for the
 * program (inside req->working_dir; new string) or NULL. */
char *sidecar_exec_place_code(const struct sidecar_exec_params *p,
                              const struct sidecar_request *req, char *ret_class, size_t class_size,
                              struct kcr_err *err);

/*** A program that can pause while it runs (programmatic tool calling,
 * sidecar-ptc.h) ***
 *
 * One kcr-nsexec step, pumped like any other (capped output, stdin, OOM
 * watch, one wall-clock budget), whose pump loop also serves a channel fd of
 * the caller's and returns when the channel asks for a pause. The program
 * runs on (blocked on its channel, if it waits for an answer); the budget
 * runs down only while pumping, so time spent paused is not counted. */
struct sidecar_live;

enum sidecar_chan_verdict {
    SIDECAR_CHAN_GO_ON,
    SIDECAR_CHAN_PAUSE, /* sidecar_live_pump returns 0 */
    SIDECAR_CHAN_KILL,  /* the run is killed (exit 137, signal 9) */
};

struct sidecar_chan {
    int fd;       /* polled for events while >= 0, the step runs and events != 0 */
    short events; /* POLLIN and/or POLLOUT, as the owner needs */
    enum sidecar_chan_verdict (*ready)(struct sidecar_chan *c, short revents);
};

/* Starts argv (resolved in the main container) with working dir wd, req's
 * stdin (req must outlive the run), time limit and RLIMIT_CPU from
 * req->timeout_s, and pass_fd (>= 0) given to the program as fd 4, not
 * close-on-exec. Never the pre-started runner nor the fork-server. */
struct sidecar_live *sidecar_live_start(const struct sidecar_exec_params *p, char **argv,
                                        const char *wd, const struct sidecar_request *req,
                                        int pass_fd, struct kcr_err *err);

/* Pumps output (into res, initialised by the caller and kept across calls)
 * and chan (may be NULL) until the program ends: returns 1, res is final
 * (exit code, signal, timeout, OOM, execution_time_ms = time spent running);
 * or until chan pauses: returns 0. -1 as sidecar_exec_run fails (a setup
 * step), with the program over. Not to be called again once it has ended. */
int sidecar_live_pump(struct sidecar_live *l, struct sidecar_chan *chan, struct sidecar_result *res,
                      struct kcr_err *err);

/* SIGKILLs kcr-nsexec (its namespace dies with it) unless it was reaped;
 * safe from any thread while l exists, pumped or not. The run's result is
 * then exit 137, signal 9 (unless the program had ended already). */
void sidecar_live_kill(struct sidecar_live *l);

/* Kills and reaps the program if it has not ended. Accepts NULL; returns NULL. */
struct sidecar_live *sidecar_live_free(struct sidecar_live *l);
