/* kcr-sidecar — the in-pod executor: a small HTTP server with no capabilities
 * that finds the main container's process and runs code in it through
 * kcr-nsexec (docs/sidecar.md). Configuration comes from the environment
 * (sidecar-config.h); a bad value stops the start with one line and exit 2. */
#include "sidecar/procscan.h"
#include "sidecar/sidecar-config.h"
#include "sidecar/sidecar-exec.h"
#include "sidecar/sidecar-files.h"
#include "sidecar/sidecar-ptc.h"
#include "sidecar/sidecar-request.h"
#include "sidecar/sidecar-result.h"
#include "sidecar/sidecar-runner.h"
#include "sandbox/cgroup-self.h"
#include "common/cleanup.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "http/http.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

struct sidecar {
    struct sidecar_config cfg;
    struct sidecar_files files;
    pthread_mutex_t lock; /* guards target */
    struct procscan_target target;
    /* One execution at a time: steps share the code file and /tmp of the
     * main container. Pods are single-use, so this costs nothing. */
    pthread_mutex_t exec_lock;
    const char *setenv[3];
    int oom_fd; /* the memory cgroup's oom_kill counter, or -1 */
    /* The default language's runner, started once (pods are single-use);
     * guarded by exec_lock. */
    struct sidecar_prestart *runner;
    bool runner_tried;
    struct sidecar_ptc *ptc; /* the programmatic tool calling run, if any */
};

static struct sidecar_exec_params
exec_params(const struct sidecar *s, const struct procscan_target *t, const struct kcr_lang *lang)
{
    bool go = !strcmp(lang->code, "go") && s->cfg.network_isolated;
    return (struct sidecar_exec_params){
        .nsexec_path = s->cfg.nsexec_path,
        .target = t->pid,
        .target_start = t->start_time,
        .data_dir = s->cfg.working_dir,
        .uid = s->cfg.uid,
        .max_output = (size_t)s->cfg.max_output,
        .max_file_write = (uint64_t)s->cfg.max_file_write_mb << 20,
        .max_pids = s->cfg.max_pids,
        .oom_fd = s->oom_fd,
        .setenv = go ? s->setenv : NULL,
        .forkserver = s->cfg.forkserver,
        .preload = s->cfg.runner_preload,
    };
}

/* Starts the default language's runner, once (pods are single-use); with
 * exec_lock held. */
static void start_runner_locked(struct sidecar *s, const struct procscan_target *t)
{
    if (s->runner_tried)
        return;
    s->runner_tried = true;
    const struct kcr_lang *lang = lang_find(s->cfg.language);
    struct sidecar_exec_params p = exec_params(s, t, lang);
    struct kcr_err err = {0};
    if (sidecar_runner_argv(lang)) {
        s->runner = sidecar_prestart_new(&p, lang, KCR_WORKDIR, s->cfg.max_exec_time, &err);
        if (!s->runner)
            log_msg(KCR_LOG_WARN, NULL, "runner not started: %s", err.msg);
    }
}

/* Once the main container is there, the default language's interpreter can
 * start while the pod waits in the pool. After /ready has answered, so that a
 * pod's creation does not wait for the spawn; skipped when an execution holds
 * exec_lock (that one starts the runner itself or runs the normal way, see
 * handle_execute). */
struct prestart_job {
    struct sidecar *s;
    struct procscan_target t;
};

static void maybe_prestart(void *arg)
{
    struct prestart_job *job = arg;
    struct sidecar *s = job->s;
    if (pthread_mutex_trylock(&s->exec_lock) != 0) {
        free(job);
        return;
    }
    start_runner_locked(s, &job->t);
    pthread_mutex_unlock(&s->exec_lock);
    free(job);
}

static int pinned_target(struct sidecar *s, struct kcr_err *err)
{
    uint64_t start = 0;
    pid_t pid = (pid_t)s->cfg.main_pid;
    if (procscan_stat(pid, NULL, &start) < 0 || (s->target.pid && start != s->target.start_time))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "main process %d is gone", (int)pid);
    s->target.pid = pid;
    s->target.start_time = start;
    return 0;
}

/* The cached main process if it is still the same one (pid reuse is caught by
 * the start time), else a fresh scan. KCR_MAIN_PID names the process instead,
 * for a sidecar that shares a host's /proc with many other `sleep`s. */
static int find_target(struct sidecar *s, struct procscan_target *ret, struct kcr_err *err)
{
    pthread_mutex_lock(&s->lock);
    int r = 0;
    if (s->cfg.main_pid) {
        r = pinned_target(s, err);
    } else if (s->target.pid == 0 || !procscan_still_valid(&s->target, s->cfg.main_name)) {
        s->target.pid = 0;
        r = procscan_find(s->cfg.main_name, getpid(), &s->target, err);
    }
    *ret = s->target;
    pthread_mutex_unlock(&s->lock);
    return r;
}

static struct kcr_http_resp *handle_health(struct kcr_http_req *req, void *ctx)
{
    (void)req;
    struct sidecar *s = ctx;
    return http_resp_json(200, json_pack("{s:s,s:s,s:s}", "status", "healthy", "language",
                                         s->cfg.language, "working_dir", s->cfg.working_dir));
}

static struct kcr_http_resp *handle_ready(struct kcr_http_req *req, void *ctx)
{
    struct sidecar *s = ctx;
    struct procscan_target t;
    struct kcr_err err = {0};
    if (find_target(s, &t, &err) < 0) {
        http_req_log(req, "reason", json_string(err.msg));
        return http_resp_json(503, json_pack("{s:s,s:s}", "status", "not_ready", "error",
                                             "main container not found"));
    }
    if (s->cfg.prestart_runner) {
        struct prestart_job *job = xcalloc(1, sizeof(*job));
        *job = (struct prestart_job){.s = s, .t = t};
        http_req_after(req, maybe_prestart, job);
    }
    return http_resp_json(200, json_pack("{s:s,s:i}", "status", "ready", "main_pid", (int)t.pid));
}

static struct kcr_http_resp *exec_error(struct kcr_http_req *req, const struct kcr_err *err)
{
    http_req_log(req, "error", json_string(err->msg));
    return http_resp_json(sidecar_exec_error_status(err), sidecar_exec_error_body(err));
}

static struct kcr_http_resp *ptc_busy(void)
{
    return sidecar_files_error(409, "a programmatic run is in progress", NULL);
}

static struct kcr_http_resp *handle_execute(struct kcr_http_req *req, void *ctx)
{
    struct sidecar *s = ctx;
    const struct kcr_buf *body = http_req_body(req);
    struct sidecar_request r;
    struct sidecar_request_error e;
    if (sidecar_request_parse(body->data, body->len, s->cfg.language, s->cfg.max_exec_time, &r,
                              &e) < 0)
        return sidecar_files_error(e.status, e.msg, e.field);
    struct procscan_target t;
    struct kcr_err err = {0};
    if (find_target(s, &t, &err) < 0) {
        sidecar_request_done(&r);
        return exec_error(req, &err);
    }
    struct sidecar_exec_params p = exec_params(s, &t, r.lang);
    struct sidecar_result res;
    /* A programmatic run owns the code file and /tmp until it ends; checked
     * before the lock too, so that the answer does not wait for its start. */
    if (sidecar_ptc_active(s->ptc)) {
        sidecar_request_done(&r);
        return ptc_busy();
    }
    pthread_mutex_lock(&s->exec_lock);
    if (sidecar_ptc_active(s->ptc)) {
        pthread_mutex_unlock(&s->exec_lock);
        sidecar_request_done(&r);
        return ptc_busy();
    }
    /* An execution that came before the runner was started (a pod taken
     * from the pool the moment it was ready): with a fork-server the runner
     * is a fork, far cheaper than the interpreter's start-up that running
     * the normal way costs (and than importing its preload): start it now.
     * A runner that starts an interpreter of its own would not be. */
    if (s->cfg.prestart_runner && s->cfg.forkserver && r.lang == lang_find(s->cfg.language))
        start_runner_locked(s, &t);
    int rc = sidecar_exec_run(&p, &r, &s->runner, &res, &err);
    pthread_mutex_unlock(&s->exec_lock);
    http_req_log(req, "lang", json_string(r.lang->code));
    bool list = r.list_files;
    sidecar_request_done(&r);
    if (rc < 0) {
        sidecar_result_done(&res);
        return exec_error(req, &err);
    }
    http_req_log(req, "exit_code", json_integer(res.exit_code));
    http_req_log(req, "execution_time_ms", json_integer(res.execution_time_ms));
    json_t *out = sidecar_result_to_json(&res);
    sidecar_result_done(&res);
    /* Every process of the run was killed before its end was reported
     * (nsexec-init.c): the listing is what the program left, as a GET /files
     * after this answer would see it. */
    if (list)
        sidecar_files_add_listing(out, s->files.dir);
    return http_resp_json(200, out);
}

/* POST /programmatic: started under the execution lock, pumped without it
 * (a paused run holds nothing but its own state: sidecar-ptc.h). */
static struct kcr_http_resp *handle_programmatic(struct kcr_http_req *req, void *ctx)
{
    struct sidecar *s = ctx;
    const struct kcr_buf *body = http_req_body(req);
    struct sidecar_ptc_request r;
    struct sidecar_request_error e;
    if (sidecar_ptc_request_parse(body->data, body->len, s->cfg.language, s->cfg.max_exec_time, &r,
                                  &e) < 0)
        return sidecar_files_error(e.status, e.msg, e.field);
    struct procscan_target t;
    struct kcr_err err = {0};
    if (find_target(s, &t, &err) < 0) {
        sidecar_ptc_request_done(&r);
        return exec_error(req, &err);
    }
    struct sidecar_exec_params p = exec_params(s, &t, r.req.lang);
    pthread_mutex_lock(&s->exec_lock);
    /* Never used for a programmatic run (it needs fd 4 from its start), and
     * pods are single-use: no runner is needed any more. */
    s->runner = sidecar_prestart_free(s->runner);
    s->runner_tried = true;
    struct kcr_http_resp *resp = sidecar_ptc_begin(s->ptc, req, &p, &r);
    pthread_mutex_unlock(&s->exec_lock);
    return resp ? resp : sidecar_ptc_answer(s->ptc, req);
}

static struct kcr_http_resp *handle_ptc_continue(struct kcr_http_req *req, void *ctx)
{
    return sidecar_ptc_continue(((struct sidecar *)ctx)->ptc, req);
}

static struct kcr_http_resp *handle_ptc_cancel(struct kcr_http_req *req, void *ctx)
{
    return sidecar_ptc_cancel(((struct sidecar *)ctx)->ptc, req);
}

static struct kcr_http_resp *on_error(struct kcr_http_req *req, int status, const char *msg,
                                      void *ctx)
{
    (void)req, (void)ctx;
    return sidecar_files_error(status, msg, NULL);
}

/* The file handlers take the files part of the state. */
static struct kcr_http_resp *files_upload(struct kcr_http_req *req, void *ctx)
{
    return sidecar_files_upload(req, &((struct sidecar *)ctx)->files);
}
static struct kcr_http_resp *files_list(struct kcr_http_req *req, void *ctx)
{
    return sidecar_files_list(req, &((struct sidecar *)ctx)->files);
}
static struct kcr_http_resp *files_get(struct kcr_http_req *req, void *ctx)
{
    return sidecar_files_get(req, &((struct sidecar *)ctx)->files);
}
static struct kcr_http_resp *files_delete(struct kcr_http_req *req, void *ctx)
{
    return sidecar_files_delete(req, &((struct sidecar *)ctx)->files);
}

static const struct kcr_http_route routes[] = {
    {"POST", "/execute", KCR_HTTP_BODY_BUFFER, handle_execute},
    {"POST", "/programmatic", KCR_HTTP_BODY_BUFFER, handle_programmatic},
    {"POST", "/programmatic/continue", KCR_HTTP_BODY_BUFFER, handle_ptc_continue},
    {"POST", "/programmatic/cancel", KCR_HTTP_BODY_NONE, handle_ptc_cancel},
    {"POST", "/files", KCR_HTTP_BODY_MULTIPART, files_upload},
    {"GET", "/files", KCR_HTTP_BODY_NONE, files_list},
    {"GET", "/files/{*}", KCR_HTTP_BODY_NONE, files_get},
    {"DELETE", "/files/{*}", KCR_HTTP_BODY_NONE, files_delete},
    {"GET", "/health", KCR_HTTP_BODY_NONE, handle_health},
    {"GET", "/ready", KCR_HTTP_BODY_NONE, handle_ready},
};

static int wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

int main(void)
{
    /* First: nothing of this process (the environment, request bodies) may be
     * read through /proc/<pid>/{environ,mem} or ptrace by user code of the
     * same uid. no_new_privs must NOT be set: it would disable the file
     * capabilities of kcr-nsexec. */
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* fds 0-2 must be taken: a pipe landing on them would be clobbered when
     * the spawn file actions dup2 the child's stdio into place. */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
            return 2;
    log_init("kcr-sidecar");
    static struct sidecar s = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .exec_lock = PTHREAD_MUTEX_INITIALIZER,
        .setenv = {"GOPROXY=off", "GOSUMDB=off", NULL},
    };
    struct kcr_err err = {0};
    if (sidecar_config_load(&s.cfg, &err) < 0) {
        fprintf(stderr, "kcr-sidecar: %s\n", err.msg);
        return 2;
    }
    /* Never inherited by what we spawn, even if closing it below were missed. */
    if (s.cfg.ready_fd && fcntl((int)s.cfg.ready_fd, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "kcr-sidecar: KCR_READY_FD: %ld is not open\n", s.cfg.ready_fd);
        return 2;
    }
    s.files.dir = s.cfg.working_dir;
    s.ptc = sidecar_ptc_new();
    /* Without the counter a run killed for memory looks like any SIGKILL:
     * say so once rather than report it wrongly later. */
    s.oom_fd = cgroup_self_oom_open(&err);
    if (s.oom_fd < 0)
        log_msg(KCR_LOG_WARN, NULL, "no OOM accounting: %s", err.msg);
    /* Block before the server threads start so that they inherit the mask and
     * only sigwait() sees SIGTERM; SIGPIPE: a client gone mid-reply or a
     * program that closed its stdin must not kill us. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct kcr_http_config hc = {
        .host = s.cfg.host,
        .port = (int)s.cfg.port,
        .unix_path = s.cfg.socket_path,
        /* Parts are spooled as unnamed files where they end up: the working
         * dir is the one writable place a Kubernetes sidecar has (read-only
         * root, no /tmp volume), and the same filesystem as the files. */
        .spool_dir = s.cfg.working_dir,
        .routes = routes,
        .nroutes = ARRAY_SIZE(routes),
        .limits = {.max_body = 11u << 20, .max_part_size = 100u << 20, .max_parts = 50},
        .hooks = {.error = on_error},
        .ctx = &s,
        .timeout_s = 660,
        /* Local pods: every sidecar has uid 65532 and could reach another
         * pod's socket; only the API's group (and root) may drive this one. */
        .check_peer = s.cfg.client_gid >= 0,
        .client_gid = (gid_t)(s.cfg.client_gid >= 0 ? s.cfg.client_gid : 0),
    };
    struct kcr_http_server *srv = http_server_start(&hc, &err);
    if (!srv) {
        fprintf(stderr, "kcr-sidecar: %s\n", err.msg);
        return 2;
    }
    /* A local pod's manager waits for EOF on this pipe instead of polling
     * for the socket: it is the last writer to go once we listen. */
    if (s.cfg.ready_fd)
        (void)close((int)s.cfg.ready_fd);
    log_json(KCR_LOG_INFO, NULL, "listening",
             json_pack("{s:s,s:i,s:s,s:s,s:b}", "socket",
                       s.cfg.socket_path ? s.cfg.socket_path : "", "port",
                       s.cfg.socket_path ? 0 : (int)s.cfg.port, "language", s.cfg.language,
                       "main_process", s.cfg.main_name, "oom_accounting", s.oom_fd >= 0));
    int sig = wait_for_signal();
    log_msg(KCR_LOG_INFO, NULL, "signal %d: stopping", sig);
    http_server_quiesce(srv);
    srv = http_server_stop(srv);
    s.runner = sidecar_prestart_free(s.runner);
    s.ptc = sidecar_ptc_free(s.ptc);
    sidecar_config_done(&s.cfg);
    s.oom_fd = safe_close(s.oom_fd);
    return 0;
}
