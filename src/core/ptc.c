#include "core/ptc.h"
#include "common/cleanup.h"
#include "common/curl-init.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/orchestrator-internal.h"
#include "core/ptc-route.h"
#include "pod/sidecar-client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define REAP_EVERY_MS 1000

_Static_assert(KCR_PTC_MAX_CALLS == SIDECAR_PTC_MAX_CALLS, "one bound for both sides");

struct ptc_run {
    struct ptc_run *next;
    bool paused;         /* waiting for its client; token valid */
    bool cancelled;      /* ptc_cancel while it ran: it ends at its next step */
    int pins;            /* ptc_cancel calls using pod right now */
    struct kcr_pod *pod; /* published for ptc_cancel while the program may run */
    char token[KCR_PTC_TOKEN_LEN + 1];
    char owner[KCR_OWNER_MAX];
    char request_id[KCR_PTC_REQUEST_ID_MAX + 1];
    int64_t expires_ms;
    int round_trips;
    struct kcr_exec_request req; /* lang and code, for orch_pod_out */
    char *code;
    char **tools;
    size_t ntools;
    struct orch_run run;
};

struct kcr_ptc {
    struct kcr_core *c;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* pins dropped, or the reaper is to stop */
    struct ptc_run *runs;
    long nruns, max_runs;
    uint64_t round_trips, expired;
    bool stopping;
    pthread_t reaper;
};

/*** The table ***/

static void unlink_locked(struct kcr_ptc *p, struct ptc_run *run)
{
    for (struct ptc_run **pp = &p->runs; *pp; pp = &(*pp)->next)
        if (*pp == run) {
            *pp = run->next;
            p->nruns--;
            return;
        }
}

/* Compares in time independent of where the strings differ: a token is a
 * secret, and its owner check comes after it. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static void run_free(struct ptc_run *run)
{
    free(run->code);
    for (size_t i = 0; i < run->ntools; i++)
        free(run->tools[i]);
    free(run->tools);
    free(run);
}

/* Makes run's pod reachable for ptc_cancel, or (pod NULL) unreachable again,
 * waiting until no canceller uses it any more. */
static bool publish_pod(struct kcr_ptc *p, struct ptc_run *run, struct kcr_pod *pod)
{
    pthread_mutex_lock(&p->lock);
    while (!pod && run->pins > 0)
        pthread_cond_wait(&p->cond, &p->lock);
    run->pod = pod;
    bool cancelled = run->cancelled;
    pthread_mutex_unlock(&p->lock);
    return cancelled;
}

/* Takes run out of the table (if still there), then frees it and its pod;
 * its continuation records go too. */
static void end_run(struct kcr_ptc *p, struct ptc_run *run, struct kcr_exec_response *res)
{
    pthread_mutex_lock(&p->lock);
    unlink_locked(p, run);
    pthread_mutex_unlock(&p->lock);
    if (run->token[0])
        ptc_route_token_gone(p->c, run->token);
    ptc_route_ended(p->c, run->owner, run->request_id);
    publish_pod(p, run, NULL);
    orch_run_end(p->c, &run->run, res);
    run_free(run);
}

/* Ends a run nobody waits for (expired, cancelled while paused, shutdown). */
static void drop_run(struct kcr_ptc *p, struct ptc_run *run)
{
    struct kcr_exec_response res = {0};
    end_run(p, run, &res);
}

static void *reaper_main(void *arg)
{
    struct kcr_ptc *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += REAP_EVERY_MS / 1000;
        (void)pthread_cond_timedwait(&p->cond, &p->lock, &ts);
        int64_t now = time_mono_ms();
        struct ptc_run *gone = NULL;
        for (struct ptc_run **pp = &p->runs; *pp;) {
            struct ptc_run *run = *pp;
            if (run->paused && now >= run->expires_ms) {
                *pp = run->next;
                p->nruns--;
                p->expired++;
                run->paused = false;
                run->next = gone;
                gone = run;
            } else {
                pp = &run->next;
            }
        }
        pthread_mutex_unlock(&p->lock);
        while (gone) {
            struct ptc_run *next = gone->next;
            log_json(KCR_LOG_INFO, NULL, "ptc: a paused run expired; its pod is destroyed",
                     json_pack("{s:s}", "session_id", gone->run.s.id));
            drop_run(p, gone);
            gone = next;
        }
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct kcr_ptc *ptc_new(struct kcr_core *c, long max_runs, struct kcr_err *err)
{
    /* Forwarding continuations to other replicas (ptc-route.c) uses libcurl. */
    if (c->cfg->replica_url && curl_init_once(err) < 0)
        return NULL;
    struct kcr_ptc *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->max_runs = max_runs > 0 ? max_runs : 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&p->lock, NULL);
    int r = pthread_create(&p->reaper, NULL, reaper_main, p);
    if (r != 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return kcr_err_set(err, r, KCR_ERR_INTERNAL, "start the ptc reaper"), NULL;
    }
    return p;
}

struct kcr_ptc *ptc_free(struct kcr_ptc *p)
{
    if (!p)
        return NULL;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->reaper, NULL);
    /* The HTTP server stopped first; only when its grace ran out can a
     * request still be running a step: then the table stays to the exit. */
    bool running = false;
    pthread_mutex_lock(&p->lock);
    for (struct ptc_run *run = p->runs; run; run = run->next)
        running = running || !run->paused;
    pthread_mutex_unlock(&p->lock);
    if (running)
        return NULL;
    while (p->runs)
        drop_run(p, p->runs);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
}

void ptc_stats(struct kcr_ptc *p, struct kcr_ptc_stats *ret)
{
    *ret = (struct kcr_ptc_stats){0};
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    for (struct ptc_run *run = p->runs; run; run = run->next)
        run->paused ? ret->paused++ : ret->running++;
    ret->round_trips = p->round_trips;
    ret->expired = p->expired;
    ret->max_runs = p->max_runs;
    pthread_mutex_unlock(&p->lock);
}

/*** One step of a run ***/

static void new_token(char out[KCR_PTC_TOKEN_LEN + 1])
{
    unsigned char raw[KCR_PTC_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            abort(); /* no randomness: no token may be made at all */
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* The client's error string for a program that did not succeed (the strings
 * LibreChat's client recognises), or NULL. */
static const char *run_error(const struct kcr_exec_result *r, char *buf, size_t size)
{
    if (r->timed_out)
        return "Time limit exceeded";
    if (r->oom_killed)
        return "Out of memory";
    if (r->exit_code == 0)
        return NULL;
    snprintf(buf, size, "Sandbox exited with code %d", r->exit_code);
    return buf;
}

static void answer_error(struct kcr_ptc_answer *ans, const char *msg)
{
    ans->status = KCR_PTC_ERROR;
    snprintf(ans->error_buf, sizeof(ans->error_buf), "%s", msg);
    ans->error = ans->error_buf;
}

/* Where a step left the run: paused (a new token), or over (outputs kept,
 * the run ended). Takes step. */
static int after_step(struct kcr_ptc *p, struct ptc_run *run, struct kcr_ptc_step *step,
                      struct kcr_ptc_answer *ans, struct kcr_err *err)
{
    struct kcr_core *c = p->c;
    ans->lang = run->req.lang->code;
    pthread_mutex_lock(&p->lock);
    bool cancelled = run->cancelled;
    if (step->paused && !cancelled)
        run->round_trips++;
    bool pause = step->paused && !cancelled && run->round_trips <= c->cfg->ptc_max_round_trips;
    if (pause) {
        p->round_trips++;
        new_token(run->token);
        memcpy(ans->token, run->token, sizeof(ans->token));
        run->expires_ms = time_mono_ms() + c->cfg->ptc_continuation_s * 1000;
        run->paused = true;
    }
    pthread_mutex_unlock(&p->lock);
    int r = 0;
    if (pause) {
        /* Recorded before the client has the token: another replica that
         * gets the continuation finds this one. */
        ptc_route_paused(c, run->owner, ans->token, run->request_id,
                         time_wall_ms() + c->cfg->ptc_continuation_s * 1000);
        ans->status = KCR_PTC_TOOL_CALLS;
        ans->tool_calls = TAKE_PTR(step->tool_calls);
        sidecar_client_ptc_step_done(step);
        return 0;
    }
    if (cancelled) {
        answer_error(ans, "Execution cancelled");
    } else if (step->paused) {
        char msg[96];
        snprintf(msg, sizeof(msg), "Too many tool call round trips (PTC_MAX_ROUND_TRIPS is %ld)",
                 c->cfg->ptc_max_round_trips);
        answer_error(ans, msg);
    } else {
        /* The program ended: its output and files as /exec keeps them. */
        r = orch_pod_out(c, &run->req, &run->run, &step->result, false, &ans->exec, err);
        char buf[64];
        const char *e = run_error(&step->result, buf, sizeof(buf));
        if (e)
            answer_error(ans, e);
        else
            ans->status = KCR_PTC_COMPLETED;
    }
    sidecar_client_ptc_step_done(step);
    end_run(p, run, &ans->exec);
    return r;
}

/* The pod and the program's start. A warm pod that died before the program
 * reached it is replaced once, as /exec does. */
static int start_on_a_pod(struct kcr_ptc *p, struct ptc_run *run, struct kcr_ptc_step *step,
                          struct kcr_exec_response *res, struct kcr_err *err)
{
    struct kcr_core *c = p->c;
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool started = false;
        rc = orch_pod_in(c, &run->req, &run->run, false, res, err);
        if (rc == 0 && publish_pod(p, run, run->run.pod))
            return 0; /* cancelled before the program started: after_step says so */
        if (rc == 0) {
            struct kcr_exec_req x = {
                .code = run->code,
                .timeout_s = run->run.timeout_s,
                .working_dir = KCR_WORKDIR,
                /* The done answer, whichever step it comes with, carries
                 * the listing: orch_pod_out needs no GET /files. */
                .list_files = true,
            };
            double t = time_mono_ms_f();
            rc = sidecar_client_ptc_start(run->run.pod, &x, run->req.lang->code,
                                          (const char *const *)run->tools, run->ntools, step, err);
            res->stages.execute_ms += time_mono_ms_f() - t;
            started = rc == 0 || step->result.sent;
        }
        bool retry = rc < 0 && !started && attempt == 0 && err->kind == KCR_ERR_UNAVAILABLE;
        if (!retry)
            break;
        sidecar_client_ptc_step_done(step);
        publish_pod(p, run, NULL);
        orch_pod_release(c, &run->run, res);
    }
    /* The sidecar refuses tool lists it cannot serve (two names with one
     * identifier, a name its bash prelude needs): the caller's mistake.
     * Anything else is the pod backend failing us. */
    if (rc < 0 && err->kind != KCR_ERR_INTERNAL && err->kind != KCR_ERR_INVALID)
        err->kind = KCR_ERR_UNAVAILABLE;
    return rc;
}

int ptc_start(struct kcr_ptc *p, const struct kcr_ptc_request *req, struct kcr_ptc_answer *ans,
              struct kcr_err *err)
{
    struct kcr_err local = {0};
    if (!err)
        err = &local; /* the retry reads the error's kind */
    memset(ans, 0, sizeof(*ans));
    double t0 = time_mono_ms_f();
    pthread_mutex_lock(&p->lock);
    if (p->nruns >= p->max_runs) {
        pthread_mutex_unlock(&p->lock);
        ans->too_many = true;
        return kcr_err_set(err, 0, KCR_ERR_LIMIT,
                           "%ld programmatic runs are in progress, the limit (PTC_MAX_PAUSED)",
                           p->max_runs);
    }
    struct ptc_run *run = xcalloc(1, sizeof(*run));
    snprintf(run->owner, sizeof(run->owner), "%s", req->exec.principal->id);
    if (req->request_id && strlen(req->request_id) <= KCR_PTC_REQUEST_ID_MAX)
        snprintf(run->request_id, sizeof(run->request_id), "%s", req->request_id);
    run->code = xstrdup(req->exec.code);
    run->req.lang = req->exec.lang;
    run->req.code = run->code;
    run->req.timeout_ms = req->exec.timeout_ms;
    run->tools = xcalloc(req->ntools + 1, sizeof(char *));
    for (size_t i = 0; i < req->ntools; i++)
        run->tools[i] = xstrdup(req->tools[i]);
    run->ntools = req->ntools;
    run->next = p->runs;
    p->runs = run;
    p->nruns++;
    pthread_mutex_unlock(&p->lock);
    ptc_route_running(p->c, run->owner, run->request_id);

    struct kcr_ptc_step step = {0};
    int r = orch_admit(p->c, &req->exec, &run->run, &ans->exec, err);
    if (r == 0)
        r = start_on_a_pod(p, run, &step, &ans->exec, err);
    if (r < 0) {
        sidecar_client_ptc_step_done(&step);
        end_run(p, run, &ans->exec);
        ans->exec.stages.total_ms = time_mono_ms_f() - t0;
        return -1;
    }
    r = after_step(p, run, &step, ans, err);
    ans->exec.stages.total_ms = time_mono_ms_f() - t0;
    return r;
}

int ptc_continue(struct kcr_ptc *p, const struct kcr_principal *who, const char *token,
                 json_t *tool_results, const char *request_id, struct kcr_ptc_answer *ans,
                 struct kcr_err *err)
{
    struct kcr_err local = {0};
    if (!err)
        err = &local;
    memset(ans, 0, sizeof(*ans));
    double t0 = time_mono_ms_f();
    struct ptc_run *run = NULL;
    pthread_mutex_lock(&p->lock);
    for (struct ptc_run *it = p->runs; it && !run; it = it->next)
        if (it->paused && same_secret(it->token, token) && !strcmp(it->owner, who->id))
            run = it;
    if (run) {
        /* Used: the next pause makes a new token. */
        run->paused = false;
        memset(run->token, 0, sizeof(run->token));
        if (request_id && strlen(request_id) <= KCR_PTC_REQUEST_ID_MAX)
            snprintf(run->request_id, sizeof(run->request_id), "%s", request_id);
    }
    pthread_mutex_unlock(&p->lock);
    if (run) {
        ptc_route_token_gone(p->c, token);
        ptc_route_running(p->c, run->owner, run->request_id);
    }
    if (!run)
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND,
                           "continuation_token not found: unknown, already used, cancelled or "
                           "expired (PTC_CONTINUATION_TIMEOUT_SECONDS)");
    memcpy(ans->exec.session_id, run->run.s.id, sizeof(ans->exec.session_id));
    struct kcr_ptc_step step = {0};
    double t = time_mono_ms_f();
    int r = sidecar_client_ptc_continue(run->run.pod, tool_results, run->run.timeout_s,
                                        (const char *const *)run->tools, run->ntools, &step, err);
    ans->exec.stages.execute_ms = time_mono_ms_f() - t;
    if (r < 0) {
        sidecar_client_ptc_step_done(&step);
        end_run(p, run, &ans->exec);
        if (err->kind != KCR_ERR_INTERNAL)
            err->kind = KCR_ERR_UNAVAILABLE;
        return -1;
    }
    r = after_step(p, run, &step, ans, err);
    ans->exec.stages.total_ms = time_mono_ms_f() - t0;
    return r;
}

bool ptc_cancel(struct kcr_ptc *p, const struct kcr_principal *who, const char *request_id)
{
    if (!request_id || !*request_id)
        return false;
    pthread_mutex_lock(&p->lock);
    struct ptc_run *run = NULL;
    for (struct ptc_run *it = p->runs; it && !run; it = it->next)
        if (!strcmp(it->request_id, request_id) && !strcmp(it->owner, who->id))
            run = it;
    if (!run) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    if (run->paused) {
        run->paused = false;
        unlink_locked(p, run);
        pthread_mutex_unlock(&p->lock);
        drop_run(p, run);
        return true;
    }
    /* Running: its own request ends it once the program has stopped. */
    run->cancelled = true;
    struct kcr_pod *pod = run->pod;
    if (pod)
        run->pins++;
    pthread_mutex_unlock(&p->lock);
    if (pod) {
        struct kcr_err e = {0};
        if (sidecar_client_ptc_cancel(pod, &e) < 0)
            log_msg(KCR_LOG_WARN, NULL, "ptc cancel: %s", e.msg);
        pthread_mutex_lock(&p->lock);
        run->pins--;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    return true;
}

void ptc_answer_done(struct kcr_ptc_answer *ans)
{
    json_decref(ans->tool_calls);
    ans->tool_calls = NULL;
    orchestrator_response_done(&ans->exec);
}
