/* kcr-k8s-driver — runs the kubernetes pod backend (src/pod/pod-k8s.c) the way
 * `kcr serve` does (create a pod, talk to its sidecar, destroy it), driven by
 * JSON lines on stdin, one JSON reply line each on stdout. Each driver process
 * is one "API replica" for tests/e2e/test_k8s_*.py. Configuration is the
 * backend's own environment (K8S_API_URL, POD_POOL_<CODE>, ...).
 *
 *   {"op":"exec","lang":"py","code":"print(1)","timeout":10}
 *       -> {"ok":true,"pod":"kcr-py-...","exit_code":0,"stdout":"1\n","stderr":""}
 *   {"op":"par","n":4,"lang":"py","code":"..."}   n execs on n threads
 *       -> {"results":[...]}
 *   {"op":"health"} -> the backend's health object
 *   {"op":"acquire","lang":"py"} -> {"ok":true,"pod":"...","base_url":"http://IP:8080"}
 *   {"op":"release","pod":"..."} destroys an acquired pod
 * First line printed: {"ready":true} once the backend started (or
 * {"ready":false,"error":"..."}). EOF on stdin frees the backend and exits. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/lang.h"
#include "common/log.h"
#include "pod/pod-k8s.h"
#include "pod/sidecar-client.h"

#define MAX_PAR 32

static struct kcr_pod_backend *be;

static json_t *run_one(const char *code_lang, const char *code, int timeout_s)
{
    struct kcr_err err = {0};
    const struct kcr_lang *lang = lang_find(code_lang);
    if (!lang)
        return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown language");
    struct kcr_pod *pod = be->ops->create(be, lang, &err);
    if (!pod)
        return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
    struct kcr_exec_req req = {.code = code, .timeout_s = timeout_s, .working_dir = "/mnt/data"};
    struct kcr_exec_result res = {0};
    json_t *out;
    if (sidecar_client_execute(pod, &req, &res, &err) < 0)
        out = json_pack("{s:b, s:s, s:s}", "ok", 0, "pod", pod->id, "error", err.msg);
    else
        out = json_pack("{s:b, s:s, s:i, s:s%, s:s%, s:I, s:b}", "ok", 1, "pod", pod->id,
                        "exit_code", res.exit_code, "stdout", res.stdout_data ?: "", res.stdout_len,
                        "stderr", res.stderr_data ?: "", res.stderr_len, "ms",
                        (json_int_t)res.execution_time_ms, "timed_out", res.timed_out);
    sidecar_client_result_done(&res);
    be->ops->destroy(be, pod);
    return out;
}

/* Pods handed out by "acquire" and kept until "release" (tests that talk to
 * the sidecar themselves, e.g. the security suite in kubernetes mode). */
static struct kcr_pod *held[MAX_PAR];

static json_t *acquire(const char *code)
{
    struct kcr_err err = {0};
    const struct kcr_lang *lang = lang_find(code);
    size_t slot = 0;
    while (slot < MAX_PAR && held[slot])
        slot++;
    if (!lang || slot == MAX_PAR)
        return json_pack("{s:b, s:s}", "ok", 0, "error", lang ? "too many pods" : "unknown lang");
    struct kcr_pod *pod = be->ops->create(be, lang, &err);
    if (!pod)
        return json_pack("{s:b, s:s}", "ok", 0, "error", err.msg);
    held[slot] = pod;
    return json_pack("{s:b, s:s, s:s}", "ok", 1, "pod", pod->id, "base_url", pod->base_url);
}

static json_t *release(const char *name)
{
    for (size_t i = 0; i < MAX_PAR; i++)
        if (held[i] && !strcmp(held[i]->id, name)) {
            be->ops->destroy(be, held[i]);
            held[i] = NULL;
            return json_pack("{s:b}", "ok", 1);
        }
    return json_pack("{s:b, s:s}", "ok", 0, "error", "no such pod");
}

struct par_job {
    pthread_t t;
    const char *lang, *code;
    int timeout_s;
    json_t *result;
    bool started;
};

static void *par_main(void *arg)
{
    struct par_job *j = arg;
    j->result = run_one(j->lang, j->code, j->timeout_s);
    return NULL;
}

static json_t *handle(const json_t *cmd)
{
    const char *op = json_string_value(json_object_get(cmd, "op")) ?: "";
    const char *lang = json_string_value(json_object_get(cmd, "lang")) ?: "py";
    const char *code = json_string_value(json_object_get(cmd, "code")) ?: "";
    int timeout_s = (int)(json_integer_value(json_object_get(cmd, "timeout")) ?: 10);
    if (!strcmp(op, "exec"))
        return run_one(lang, code, timeout_s);
    if (!strcmp(op, "health"))
        return be->ops->health(be);
    if (!strcmp(op, "acquire"))
        return acquire(lang);
    if (!strcmp(op, "release"))
        return release(json_string_value(json_object_get(cmd, "pod")) ?: "");
    if (!strcmp(op, "par")) {
        struct par_job jobs[MAX_PAR] = {0};
        json_int_t n = json_integer_value(json_object_get(cmd, "n"));
        if (n < 1 || n > MAX_PAR)
            return json_pack("{s:b, s:s}", "ok", 0, "error", "n out of range");
        for (json_int_t i = 0; i < n; i++) {
            jobs[i] = (struct par_job){.lang = lang, .code = code, .timeout_s = timeout_s};
            jobs[i].started = pthread_create(&jobs[i].t, NULL, par_main, &jobs[i]) == 0;
            if (!jobs[i].started)
                jobs[i].result = json_pack("{s:b, s:s}", "ok", 0, "error", "pthread_create");
        }
        json_t *results = json_array();
        for (json_int_t i = 0; i < n; i++) {
            if (jobs[i].started)
                pthread_join(jobs[i].t, NULL);
            json_array_append_new(results, jobs[i].result);
        }
        return json_pack("{s:o}", "results", results);
    }
    return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown op");
}

int main(void)
{
    struct kcr_err err = {0};
    struct pod_k8s_config cfg;
    log_init("kcr-k8s-driver");
    if (pod_k8s_config_from_env(&cfg, &err) == 0)
        be = pod_k8s_new(&cfg, &err);
    pod_k8s_config_done(&cfg);
    if (!be) {
        json_auto_t *r = json_pack("{s:b, s:s}", "ready", 0, "error", err.msg);
        _cleanup_free_ char *text = json_dumps(r, JSON_COMPACT);
        printf("%s\n", text);
        return 1;
    }
    printf("{\"ready\":true}\n");
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        json_auto_t *cmd = json_loads(line, 0, NULL);
        json_auto_t *reply =
            cmd ? handle(cmd) : json_pack("{s:b, s:s}", "ok", 0, "error", "bad json");
        _cleanup_free_ char *text = json_dumps(reply, JSON_COMPACT);
        printf("%s\n", text);
        fflush(stdout);
    }
    free(line);
    be->ops->free(be);
    return 0;
}
