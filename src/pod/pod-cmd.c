/* pod-cmd — `kcr pod`: local pods from the command line, for tests,
 * benchmarks and operators.
 *
 *   kcr pod run --lang py   create one pod, print {"id","socket","working_dir_host",
 *                           "lang","health","create_ms"} as one JSON line, wait for EOF on stdin,
 *                           destroy it
 *   kcr pod gc              remove leftovers of a crashed run (cgroups, run dirs)
 *   kcr pod bench [--lang py] [-n N] [--code CODE | --empty]
 *                           in-process timings: warm (pool acquire + execute + release)
 *                           and cold (create + execute + destroy), one JSON line;
 *                           --empty: create + destroy with nothing run in the pod */
#include "pod/pod-cmd.h"
#include "common/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/lang.h"
#include "common/xalloc.h"
#include "common/time.h"
#include "pod/pod-local.h"
#include "pod/pool.h"
#include "pod/sidecar-client.h"
#include "sandbox/cgroup.h"

static int fail(const char *what, const struct kcr_err *e)
{
    fprintf(stderr, "kcr pod %s: %s\n", what, e->msg);
    return 1;
}

static void wait_stdin_eof(void)
{
    char buf[256];
    for (;;) {
        ssize_t n = read(0, buf, sizeof(buf));
        if (n == 0 || (n < 0 && errno != EINTR))
            return;
    }
}

static int cmd_run(int argc, char **argv)
{
    const char *code = "py";
    static const struct option opts[] = {{"lang", required_argument, NULL, 'l'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
        if (c != 'l') {
            fprintf(stderr, "usage: kcr pod run [--lang CODE]\n");
            return 2;
        }
        code = optarg;
    }
    const struct kcr_lang *lang = lang_find(code);
    struct kcr_err e = {0};
    if (!lang) {
        kcr_err_set(&e, 0, KCR_ERR_INVALID, "unknown language '%s'", code);
        return fail("run", &e);
    }
    struct kcr_pod_local_config cfg;
    if (pod_local_config_from_env(&cfg, &e) < 0)
        return fail("run", &e);
    struct kcr_pod_backend *be = pod_local_new(&cfg, &e);
    pod_local_config_done(&cfg);
    if (!be)
        return fail("run", &e);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct kcr_pod *pod = be->ops->create(be, lang, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double create_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (!pod) {
        be->ops->free(be);
        return fail("run", &e);
    }
    json_t *line =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:f}", "id", pod->id, "socket", pod->unix_socket,
                  "working_dir_host", pod_local_working_dir(be, pod), "lang", lang->code, "health",
                  be->ops->health(be), "create_ms", create_ms);
    char *text = json_dumps(line, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(line);
    wait_stdin_eof();
    be->ops->destroy(be, pod);
    be->ops->free(be);
    return 0;
}

static int cmd_gc(void)
{
    struct kcr_err e = {0};
    struct kcr_pod_local_config cfg;
    if (pod_local_config_from_env(&cfg, &e) < 0)
        return fail("gc", &e);
    int removed = 0;
    if (!cfg.rootless) {
        struct kcr_cgroup_mgr *cgm = cgroup_mgr_new(NULL, cfg.cgroup_parent, &e);
        removed = cgm ? cgroup_mgr_gc(cgm, &e) : -1;
        cgroup_mgr_free(cgm);
    }
    _cleanup_free_ char *pods = xasprintf("%s/pods", cfg.run_dir);
    int r = fs_rm_tree_at(AT_FDCWD, pods);
    pod_local_config_done(&cfg);
    if (removed < 0)
        return fail("gc", &e);
    if (r < 0) {
        kcr_err_set(&e, -r, KCR_ERR_INTERNAL, "remove '%s'", pods);
        return fail("gc", &e);
    }
    printf("{\"cgroups_removed\":%d}\n", removed);
    return 0;
}

/*** bench ***/

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run_code(const struct kcr_pod *pod, const char *code, struct kcr_err *err)
{
    struct kcr_exec_req req = {.code = code, .timeout_s = 30, .working_dir = KCR_WORKDIR};
    struct kcr_exec_result res = {0};
    int r = sidecar_client_execute(pod, &req, &res, err);
    if (r == 0 && res.exit_code != 0)
        r = kcr_err_set(err, 0, KCR_ERR_INTERNAL, "bench code exited %d", res.exit_code);
    sidecar_client_result_done(&res);
    return r;
}

/* Waits (bounded) until the pool holds `want` warm pods of lang. */
static void wait_warm(struct kcr_pool *pool, const struct kcr_lang *lang, int want)
{
    for (int i = 0; i < 3000; i++) {
        json_t *st = pool_stats(pool);
        json_int_t warm =
            json_integer_value(json_object_get(json_object_get(st, lang->code), "warm"));
        json_int_t creating =
            json_integer_value(json_object_get(json_object_get(st, lang->code), "creating"));
        json_decref(st);
        if (warm >= want && creating == 0)
            return;
        usleep(10000);
    }
}

static int bench_warm(struct kcr_pod_backend *be, const struct kcr_lang *lang, const char *code,
                      int n, double *acq, double *total, struct kcr_err *err)
{
    struct kcr_pool_config pc = {.acquire_wait_ms = 10000, .health_every_s = 3600};
    size_t nl;
    const struct kcr_lang *all = lang_all(&nl);
    for (size_t i = 0; i < nl && i < ARRAY_SIZE(pc.size); i++)
        pc.size[i] = &all[i] == lang ? 2 : 0;
    struct kcr_pool *pool = pool_new(be, &pc, err);
    if (!pool)
        return -1;
    int r = 0;
    for (int i = 0; i < n && r == 0; i++) {
        wait_warm(pool, lang, 2); /* every acquire finds a warm pod, as in steady state */
        double t0 = time_mono_ms_f();
        struct kcr_pod *pod = pool_acquire(pool, lang, false, err);
        double t1 = time_mono_ms_f();
        r = pod ? run_code(pod, code, err) : -1;
        pool_release(pool, pod); /* destruction happens on the pool's reaper */
        acq[i] = t1 - t0;
        total[i] = time_mono_ms_f() - t0;
    }
    pool_free(pool);
    return r;
}

/* Teardown of a used pod is the same in both cases; timed here, where it is
 * on the caller's path (the pool does it on its reaper after the reply).
 * code NULL: nothing is run, what a fresh sandbox costs by itself
 * (bench_ladder.py prints its CPU against bare python's). */
static int bench_cold(struct kcr_pod_backend *be, const struct kcr_lang *lang, const char *code,
                      int n, double *create, double *destroy, double *total, struct kcr_err *err)
{
    for (int i = 0; i < n; i++) {
        double t0 = time_mono_ms_f();
        struct kcr_pod *pod = be->ops->create(be, lang, err);
        if (!pod)
            return -1;
        double t1 = time_mono_ms_f();
        int r = code ? run_code(pod, code, err) : 0;
        double t2 = time_mono_ms_f();
        be->ops->destroy(be, pod);
        create[i] = t1 - t0;
        destroy[i] = time_mono_ms_f() - t2;
        total[i] = time_mono_ms_f() - t0;
        if (r < 0)
            return -1;
    }
    return 0;
}

static int cmd_bench(int argc, char **argv)
{
    const char *code_arg = "py", *src = "print(1)";
    int n = 20;
    bool empty = false;
    static const struct option opts[] = {{"lang", required_argument, NULL, 'l'},
                                         {"code", required_argument, NULL, 'c'},
                                         {"empty", no_argument, NULL, 'e'},
                                         {0}};
    int c;
    while ((c = getopt_long(argc, argv, "l:n:c:e", opts, NULL)) != -1) {
        if (c == 'l')
            code_arg = optarg;
        else if (c == 'e')
            empty = true;
        else if (c == 'c')
            src = optarg;
        else if (c == 'n' && atoi(optarg) > 0 && atoi(optarg) <= 1000)
            n = atoi(optarg);
        else {
            fprintf(stderr, "usage: kcr pod bench [--lang CODE] [-n N] [--code SRC | --empty]\n");
            return 2;
        }
    }
    struct kcr_err e = {0};
    const struct kcr_lang *lang = lang_find(code_arg);
    if (!lang) {
        kcr_err_set(&e, 0, KCR_ERR_INVALID, "unknown language '%s'", code_arg);
        return fail("bench", &e);
    }
    struct kcr_pod_local_config cfg;
    if (pod_local_config_from_env(&cfg, &e) < 0)
        return fail("bench", &e);
    struct kcr_pod_backend *be = pod_local_new(&cfg, &e);
    pod_local_config_done(&cfg);
    if (!be)
        return fail("bench", &e);
    _cleanup_free_ double *v = xcalloc((size_t)n * 5, sizeof(double));
    double *acq = v, *wtot = v + n, *create = v + 2 * n, *ctot = v + 3 * n, *dest = v + 4 * n;
    if (empty) {
        int r = bench_cold(be, lang, NULL, n, create, dest, ctot, &e);
        be->ops->free(be);
        if (r < 0)
            return fail("bench", &e);
        printf("{\"n\":%d,\"empty_create_ms\":%.3f,\"empty_destroy_ms\":%.3f}\n", n,
               median(create, n), median(dest, n));
        return 0;
    }
    int r = bench_warm(be, lang, src, n, acq, wtot, &e);
    if (r == 0)
        r = bench_cold(be, lang, src, n, create, dest, ctot, &e);
    be->ops->free(be);
    if (r < 0)
        return fail("bench", &e);
    printf("{\"n\":%d,\"warm_acquire_ms\":%.3f,\"warm_total_ms\":%.3f,\"cold_create_ms\":%.3f,"
           "\"teardown_ms\":%.3f,\"cold_total_ms\":%.3f}\n",
           n, median(acq, n), median(wtot, n), median(create, n), median(dest, n), median(ctot, n));
    return 0;
}

int pod_cmd_main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "gc"))
        return cmd_gc();
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "usage: kcr pod run [--lang CODE] | kcr pod gc | kcr pod bench\n");
    return 2;
}
