/* pod-cmd — `kcr pod`: local pods from the command line, for tests,
 * benchmarks and operators.
 *
 *   kcr pod run --lang py   create one pod, print {"id","socket","working_dir_host",
 *                           "lang","health","create_ms"} as one JSON line, wait for EOF on stdin,
 *                           destroy it
 *   kcr pod gc              remove leftovers of a crashed run (cgroups, run dirs) */
#include "pod/pod-cmd.h"

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
#include "pod/pod-local.h"
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

int pod_cmd_main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "gc"))
        return cmd_gc();
    fprintf(stderr, "usage: kcr pod run [--lang CODE] | kcr pod gc\n");
    return 2;
}
