#include "core/orchestrator.h"
#include "core/orchestrator-internal.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/output.h"
#include "core/pyimports.h"
#include "core/pystate.h"
#include "core/session.h"
#include "core/statestore.h"
#include "pod/sidecar-client.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

/* Output paths deeper than this are not collected (docs/security.md case 11). */
#define OUTPUT_MAX_DEPTH 16

#define KCR_MOUNT_NAME_MAX 4096

/* A file placed into the pod before the run. */
struct orch_mounted {
    struct kcr_file_meta meta;
    char name[KCR_MOUNT_NAME_MAX]; /* its relative path under /mnt/data */
    size_t first;                  /* the first entry naming the same source file */
};

/*** Stage timing ***/

static double since_ms(double t0)
{
    return time_mono_ms_f() - t0;
}

/*** Files in ***/

/* The name a resolved file is mounted under: the reference's own name, else
 * the stored one, as a safe relative path (directories are created). */
static int mount_name(const struct kcr_file_ref *ref, const struct kcr_file_meta *f,
                      char out[KCR_MOUNT_NAME_MAX], struct kcr_err *err)
{
    const char *want = ref->name && *ref->name ? ref->name : f->name;
    _cleanup_free_ char *path = names_mount_path(want, OUTPUT_MAX_DEPTH);
    if (!path || strlen(path) >= KCR_MOUNT_NAME_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "file name '%.200s' is not a safe relative path", want);
    strcpy(out, path);
    return 0;
}

/* Whether v[0..n) has a file mounted as name. */
static bool name_taken(const struct orch_mounted *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, name))
            return true;
    return false;
}

/* Makes every found file a file of s. One source referenced several times
 * (under several names) is copied once, and only when the session has room
 * for every copy (MAX_SESSION_FILES). */
static int adopt_files(struct kcr_core *c, const struct kcr_session *s, struct orch_mounted *v,
                       size_t n, struct kcr_err *err)
{
    size_t copies = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].first = i;
        for (size_t j = 0; j < i && v[i].first == i; j++)
            if (!strcmp(v[j].meta.id, v[i].meta.id) &&
                !strcmp(v[j].meta.session_id, v[i].meta.session_id))
                v[i].first = j;
        copies += v[i].first == i && strcmp(v[i].meta.session_id, s->id);
    }
    if (copies && files_room(c, s->id, copies, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct kcr_file_meta src = v[i].meta;
        if (v[i].first < i)
            v[i].meta = v[v[i].first].meta; /* adopted already */
        else if (files_adopt(c, s, &src, &v[i].meta, err) < 0)
            return -1;
    }
    return 0;
}

/* files[] of the request: all found before anything is copied, each mount
 * name once (the first reference wins). */
static int resolve_files(struct kcr_core *c, const struct kcr_session *s,
                         const struct kcr_exec_request *req, struct orch_mounted **ret,
                         size_t *ret_n, struct kcr_err *err)
{
    _cleanup_free_ struct orch_mounted *v = xcalloc(req->nfiles + 1, sizeof(*v));
    struct kcr_buf missing;
    buf_init(&missing, 1024);
    size_t n = 0, nmissing = 0;
    for (size_t i = 0; i < req->nfiles; i++) {
        const struct kcr_file_ref *ref = &req->files[i];
        struct kcr_err e = {0};
        if (files_find(c, req->principal, s, ref, &v[n].meta, &e) < 0) {
            if (e.kind != KCR_ERR_NOT_FOUND) {
                buf_done(&missing);
                *err = e;
                return -1;
            }
            buf_printf(&missing, "%s%s", nmissing++ ? ", " : "", e.msg);
            continue;
        }
        if (mount_name(ref, &v[n].meta, v[n].name, err) < 0) {
            buf_done(&missing);
            return -1;
        }
        if (!name_taken(v, n, v[n].name))
            n++;
    }
    /* Missing and someone else's are one answer, so ids cannot be probed. */
    if (nmissing) {
        kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "Failed to mount %zu file(s): %s", nmissing,
                    missing.data);
        buf_done(&missing);
        return -1;
    }
    buf_done(&missing);
    if (adopt_files(c, s, v, n, err) < 0)
        return -1;
    *ret = TAKE_PTR(v);
    *ret_n = n;
    return 0;
}

static int put_files(struct kcr_core *c, struct kcr_pod *pod, const struct orch_mounted *m,
                     size_t n, struct kcr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t size = 0;
        _cleanup_close_ int fd = files_open(c, &m[i].meta, &size, err);
        if (fd < 0 || sidecar_client_put_file(pod, m[i].name, fd, size, err) < 0)
            return kcr_err_wrap(err, "mount '%s'", m[i].name);
    }
    return 0;
}

/*** Files out ***/

static bool is_dangerous(const char *name)
{
    static const char *const ext[] = {".exe", ".bat", ".cmd", ".sh", ".ps1", ".scr", ".com"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < ARRAY_SIZE(ext); i++)
        if (!strcasecmp(dot, ext[i]))
            return true;
    return false;
}

static const struct kcr_pod_file *find_file(const struct kcr_pod_files *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].name, name))
            return &l->items[i];
    return NULL;
}

/* Whether an entry of the after-run listing is a result of the run
 * (docs/api-contract.md rule 6):
 * new, or an upload that was mounted and then modified. */
static bool is_result(const struct kcr_pod_file *f, const struct kcr_pod_files *before,
                      const struct orch_mounted *m, size_t nm, const char *code_file)
{
    if (!strcmp(f->name, code_file) || !strcmp(f->name, PYSTATE_FILE) ||
        !names_is_safe_path(f->name, OUTPUT_MAX_DEPTH) || is_dangerous(f->name))
        return false;
    const struct kcr_pod_file *old = find_file(before, f->name);
    if (!old)
        return true;
    for (size_t i = 0; i < nm; i++)
        if (!strcmp(m[i].name, f->name))
            return old->size != f->size || old->mtime_ns != f->mtime_ns;
    return false;
}

static int cmp_pod_file(const void *a, const void *b)
{
    return strcmp(((const struct kcr_pod_file *)a)->name, ((const struct kcr_pod_file *)b)->name);
}

/* Fetches one result into the blob store and records it as an output. */
static int collect_one(struct kcr_core *c, struct kcr_pod *pod, const struct kcr_session *s,
                       const char *name, struct kcr_exec_output_file *out, struct kcr_err *err)
{
    _cleanup_close_ int fd = c->blob->ops->tmpfile(c->blob, err);
    if (fd < 0)
        return -1;
    if (sidecar_client_get_file(pod, name, fd, c->cfg->max_file_size, NULL, err) < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat output '%s'", name);
    struct kcr_file_meta f = {.kind = KCR_FILE_OUTPUT};
    snprintf(f.session_id, sizeof(f.session_id), "%s", s->id);
    snprintf(f.owner, sizeof(f.owner), "%s", s->owner);
    snprintf(f.name, sizeof(f.name), "%s", name);
    if (files_store(c, &f, fd, (uint64_t)st.st_size, &f, err) < 0)
        return -1;
    memcpy(out->id, f.id, sizeof(out->id));
    out->name = xstrdup(name);
    return 0;
}

static int collect_files(struct kcr_core *c, struct kcr_pod *pod, const struct kcr_session *s,
                         const struct kcr_pod_files *before, struct kcr_pod_files *after_list,
                         const struct orch_mounted *m, size_t nm, const char *code_file,
                         struct kcr_exec_response *res, struct kcr_err *err)
{
    const struct kcr_pod_files after = *after_list;
    if (after.count) /* an empty listing may come with no array at all */
        qsort(after.items, after.count, sizeof(*after.items), cmp_pod_file);
    size_t max = c->cfg->max_output_files, held = 0, dropped = 0;
    if (files_count(c, s->id, &held, err) < 0)
        return -1;
    size_t room = held < c->cfg->max_session_files ? c->cfg->max_session_files - held : 0;
    res->files = xcalloc(max + 1, sizeof(*res->files));
    int r = 0;
    for (size_t i = 0; i < after.count && res->nfiles < max; i++) {
        const struct kcr_pod_file *f = &after.items[i];
        if (f->size > c->cfg->max_file_size || !is_result(f, before, m, nm, code_file))
            continue;
        if (res->nfiles >= room) {
            dropped++;
            continue;
        }
        struct kcr_err e = {0};
        if (collect_one(c, pod, s, f->name, &res->files[res->nfiles], &e) == 0) {
            res->nfiles++;
        } else if (e.kind == KCR_ERR_UNAVAILABLE && c->blob->ops->ping(c->blob, NULL) < 0) {
            /* Our own store is failing: that is an error, not a skipped file. */
            *err = e;
            r = -1;
            break;
        }
        /* Otherwise the file changed under us (grew past the limit, became a
         * FIFO or a symlink): it is not a result. */
    }
    if (dropped) {
        /* Said where the caller reads: the files exist in the pod but will
         * not come back. */
        char *e = res->stderr_text ? res->stderr_text : xstrdup("");
        res->stderr_text = xasprintf("%s%s[%zu output file(s) not kept: the session holds its "
                                     "limit of %zu files (MAX_SESSION_FILES)]\n",
                                     e, *e && e[strlen(e) - 1] != '\n' ? "\n" : "", dropped,
                                     c->cfg->max_session_files);
        free(e);
    }
    return r;
}

/*** Python state (core/pystate.h) ***/

static bool use_state(struct kcr_core *c, const struct kcr_exec_request *req)
{
    return c->cfg->state_persistence && !strcmp(req->lang->code, "py") &&
           strlen(req->code) <= PYSTATE_MAX_CODE;
}

/* Mounts the session's live state blob (sm); *ret_put tells. */
static int put_state(struct kcr_core *c, struct kcr_pod *pod, const struct kcr_state_meta *sm,
                     bool *ret_put, struct kcr_err *err)
{
    *ret_put = false;
    uint64_t size = 0;
    _cleanup_close_ int fd = statestore_open(c, sm, &size, NULL);
    if (fd < 0)
        return 0;
    if (sidecar_client_put_file(pod, PYSTATE_FILE, fd, size, err) < 0)
        return kcr_err_wrap(err, "mount state");
    *ret_put = true;
    return 0;
}

/* Stores the state the wrapper wrote (bytes first, then the index). A state
 * the pod cannot hand over within bounds is not kept: the previous one stays. */
static int collect_state(struct kcr_core *c, struct kcr_pod *pod, const struct kcr_session *s,
                         const struct kcr_pod_files *before, const struct kcr_pod_files *after,
                         struct kcr_exec_response *res, struct kcr_err *err)
{
    const struct kcr_pod_file *f = find_file(after, PYSTATE_FILE);
    const struct kcr_pod_file *old = find_file(before, PYSTATE_FILE);
    if (!f || f->size < 2 || f->size > PYSTATE_MAX_BYTES ||
        (old && old->size == f->size && old->mtime_ns == f->mtime_ns))
        return 0;
    _cleanup_close_ int fd = c->blob->ops->tmpfile(c->blob, err);
    if (fd < 0)
        return -1;
    struct stat st;
    char hash[65];
    if (sidecar_client_get_file(pod, PYSTATE_FILE, fd, PYSTATE_MAX_BYTES, hash, NULL) < 0 ||
        fstat(fd, &st) < 0 || st.st_size < 2)
        return 0;
    struct kcr_state_meta sm;
    if (statestore_commit_session(c, s, fd, hash, &sm, err) < 0)
        return -1;
    res->has_state = true;
    res->state_size = sm.size;
    memcpy(res->state_hash, sm.hash, sizeof(sm.hash));
    return 0;
}

/*** The run ***/

/* The sidecar ends a stream it had to cut with its own line ("[output
 * truncated: limit of N bytes reached]"); take it off and report the cut with
 * the API's marker instead (docs/api-contract.md rule 4). Returns whether the stream was cut. */
static bool strip_sidecar_mark(const char *data, size_t *len)
{
    static const char head[] = "\n[output truncated: limit of ";
    static const char tail[] = " bytes reached]\n";
    size_t n = *len, hl = strlen(head), tl = strlen(tail);
    if (!data || n < hl + tl + 1 || memcmp(data + n - tl, tail, tl))
        return false;
    size_t digits = 0;
    while (digits < 20 && n - tl - digits > 0 && data[n - tl - digits - 1] >= '0' &&
           data[n - tl - digits - 1] <= '9')
        digits++;
    if (digits == 0 || n < hl + tl + digits)
        return false;
    size_t start = n - tl - digits - hl;
    if (memcmp(data + start, head, hl))
        return false;
    *len = start;
    return true;
}

/* The sidecar ends the stderr of a run it stopped at its deadline with its
 * own "Execution timed out after N seconds" line; kcr writes that line
 * itself (below), once: take the sidecar's off. */
static void strip_sidecar_timeout(const char *data, size_t *len)
{
    static const char head[] = "Execution timed out after ";
    static const char tail[] = " seconds";
    size_t n = *len, hl = strlen(head), tl = strlen(tail);
    if (!data || n < hl + tl + 1 || memcmp(data + n - tl, tail, tl))
        return;
    size_t digits = 0;
    while (digits < 10 && n - tl - digits > 0 && data[n - tl - digits - 1] >= '0' &&
           data[n - tl - digits - 1] <= '9')
        digits++;
    if (digits == 0 || n < hl + tl + digits)
        return;
    size_t start = n - tl - digits - hl;
    if (memcmp(data + start, head, hl) || (start > 0 && data[start - 1] != '\n'))
        return;
    *len = start;
}

static void finish_output(struct kcr_core *c, const struct kcr_lang *lang,
                          const struct kcr_exec_result *r, int timeout_s,
                          struct kcr_exec_response *res)
{
    long mem_mb = (long)((double)c->cfg->max_memory_mb * lang_mem_mult(lang));
    size_t cap = c->cfg->max_output_chars;
    size_t olen = r->stdout_len, elen = r->stderr_len;
    bool ocut = strip_sidecar_mark(r->stdout_data, &olen);
    bool ecut = strip_sidecar_mark(r->stderr_data, &elen);
    if (r->timed_out)
        strip_sidecar_timeout(r->stderr_data, &elen);
    res->stdout_text = output_process(r->stdout_data, olen, cap, true, ocut);
    _cleanup_free_ char *err = output_process(r->stderr_data, elen, cap, false, ecut);
    const char *sep = *err && err[strlen(err) - 1] != '\n' ? "\n" : "";
    res->exit_code = r->exit_code;
    if (r->timed_out) {
        res->outcome = "timeout";
        res->stderr_text =
            xasprintf("%s%sExecution timed out after %d seconds", err, sep, timeout_s);
    } else if (r->oom_killed) {
        res->outcome = "oom";
        res->stderr_text = xasprintf("%s%sOut of memory: the program exceeded the memory limit "
                                     "(%ld MB) and was killed",
                                     err, sep, mem_mb);
    } else if (r->exit_code != 0) {
        res->outcome = "failed";
        /* Inside a pod nothing but the memory cgroup and the user's own code
         * sends SIGKILL; say so when the sidecar could not confirm the OOM. */
        if (r->signal == SIGKILL)
            res->stderr_text = xasprintf("%s%sKilled (signal 9): the program most likely ran out "
                                         "of memory (limit %ld MB)",
                                         err, sep, mem_mb);
        else if (!*err && r->signal)
            res->stderr_text =
                xasprintf("Process killed by signal %d (%s)", r->signal, strsignal(r->signal));
        else if (!*err)
            res->stderr_text = xasprintf("Code execution failed with exit code %d", r->exit_code);
        else
            res->stderr_text = TAKE_PTR(err);
    } else {
        res->outcome = "completed";
        res->stderr_text = TAKE_PTR(err);
    }
}

/* The wall-clock limit of one run: the configured one times the language's
 * multiplier, rounded up and capped like the pod manager's sidecar bound; a
 * client's own timeout can only lower it. */
int orch_timeout_s(const struct kcr_core *c, const struct kcr_exec_request *req)
{
    double mult = lang_time_mult(req->lang); /* table value or LANG_TIME_MULT_<CODE> */
    double want = c->cfg->max_exec_time_s * mult;
    int timeout_s = (int)want + ((double)(int)want < want);
    if (timeout_s < 1)
        timeout_s = 1;
    if (timeout_s > KCR_MAX_EXEC_SECONDS)
        timeout_s = KCR_MAX_EXEC_SECONDS;
    if (req->timeout_ms > 0 && (req->timeout_ms + 999) / 1000 < timeout_s)
        timeout_s = (int)((req->timeout_ms + 999) / 1000);
    return timeout_s;
}

/* Uploads and the session's state (sm, NULL when none) into the pod, then
 * the listing they make. */
static int files_in(struct kcr_core *c, struct orch_run *run, const struct kcr_state_meta *sm,
                    struct kcr_exec_stages *st, struct kcr_err *err)
{
    double t = time_mono_ms_f();
    bool state_put = false;
    int rc = put_files(c, run->pod, run->m, run->nm, err);
    if (rc == 0 && sm)
        rc = put_state(c, run->pod, sm, &state_put, err);
    st->files_in_ms += since_ms(t);
    if (rc < 0)
        return -1;
    /* Pods are single-use and start with an empty /mnt/data: when nothing
     * was put in, the listing before the run is known to be empty, and the
     * HTTP round trip for it (~1.4 ms of a print(1)) is saved. */
    if (run->nm == 0 && !state_put) {
        run->before = (struct kcr_pod_files){0};
        return 0;
    }
    t = time_mono_ms_f();
    rc = sidecar_client_list_files(run->pod, &run->before, err);
    st->list_before_ms += since_ms(t);
    return rc < 0 ? kcr_err_wrap(err, "list inputs") : 0;
}

/* The listing after the run: the one r carries (taken from it), else
 * GET /files (a sidecar that predates list_files, or could not list). */
static int list_after(struct orch_run *run, struct kcr_exec_result *r, struct kcr_pod_files *ret,
                      struct kcr_exec_stages *st, struct kcr_err *err)
{
    if (r->listed) {
        *ret = r->files;
        r->files = (struct kcr_pod_files){0};
        r->listed = false;
        /* Its time was spent within execute (the sidecar's walk, our
         * parse): it is the listing's. */
        double ms = r->list_ms < st->execute_ms ? r->list_ms : st->execute_ms;
        st->execute_ms -= ms;
        st->list_after_ms += ms;
        return 0;
    }
    double t = time_mono_ms_f();
    int rc =
        sidecar_client_list_files(run->pod, ret, err) < 0 ? kcr_err_wrap(err, "list outputs") : 0;
    st->list_after_ms += since_ms(t);
    return rc;
}

/* After the run: the listing, the py state (kept only when the run
 * succeeded), the result files. */
static int collect_results(struct kcr_core *c, const struct kcr_exec_request *req,
                           struct orch_run *run, struct kcr_exec_result *r, bool want_state,
                           struct kcr_exec_response *res, struct kcr_err *err)
{
    struct kcr_exec_stages *st = &res->stages;
    char cls[128];
    _cleanup_free_ char *code_file = lang_code_file(req->lang, req->code, cls, sizeof(cls));
    struct kcr_pod_files after = {0};
    double t;
    int rc = list_after(run, r, &after, st, err);
    if (rc == 0 && want_state) {
        t = time_mono_ms_f();
        rc = collect_state(c, run->pod, &run->s, &run->before, &after, res, err);
        st->state_ms += since_ms(t);
    }
    if (rc == 0) {
        t = time_mono_ms_f();
        rc = collect_files(c, run->pod, &run->s, &run->before, &after, run->m, run->nm, code_file,
                           res, err);
        st->outputs_ms += since_ms(t);
    }
    sidecar_client_files_done(&after);
    return rc;
}

int orch_pod_in(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
                bool state, struct kcr_exec_response *res, struct kcr_err *err)
{
    /* The session's live state, if any, is looked up first: it decides the
     * pod too. A lite pod (pod/pod.h) takes Python that imports only the
     * standard library and has no state to load (a state may hold numpy
     * arrays, which loading it would import). */
    struct kcr_state_meta sm;
    bool has_state = state && statestore_get_session(c, &run->s, &sm, NULL) == 0;
    bool lite = !has_state && !strcmp(req->lang->code, "py") &&
                pyimports_stdlib_only(req->code, strlen(req->code));
    double t = time_mono_ms_f();
    run->pod = pool_acquire(c->pool, req->lang, lite, err);
    res->stages.acquire_ms += since_ms(t);
    if (!run->pod)
        return kcr_err_wrap(err, "acquire %s pod", req->lang->code);
    run->timeout_s = orch_timeout_s(c, req);
    if (files_in(c, run, has_state ? &sm : NULL, &res->stages, err) < 0) {
        orch_pod_release(c, run, res);
        return -1;
    }
    return 0;
}

int orch_pod_out(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
                 struct kcr_exec_result *r, bool want_state, struct kcr_exec_response *res,
                 struct kcr_err *err)
{
    res->run_ms = r->execution_time_ms;
    finish_output(c, req->lang, r, run->timeout_s, res);
    bool succeeded = r->exit_code == 0 && !r->timed_out;
    return collect_results(c, req, run, r, want_state && succeeded, res, err);
}

void orch_pod_release(struct kcr_core *c, struct orch_run *run, struct kcr_exec_response *res)
{
    if (!run->pod)
        return;
    double t = time_mono_ms_f();
    pool_release(c->pool, run->pod);
    res->stages.release_ms += since_ms(t);
    run->pod = NULL;
    sidecar_client_files_done(&run->before);
}

/* The program through the sidecar's /execute. *ret_started tells whether
 * it was sent to the pod: before that, a failure has no effect anyone could
 * see. */
static int run_in_pod(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
                      struct kcr_exec_response *res, bool *ret_started, struct kcr_err *err)
{
    *ret_started = false;
    bool state = use_state(c, req);
    if (orch_pod_in(c, req, run, state, res, err) < 0)
        return -1;
    _cleanup_free_ char *wrapped = state ? pystate_wrap(req->code, strlen(req->code)) : NULL;
    struct kcr_exec_req x = {
        .code = wrapped ? wrapped : req->code,
        .args = req->args,
        .nargs = req->nargs,
        .stdin_data = req->stdin_data,
        .stdin_len = req->stdin_len,
        .timeout_s = run->timeout_s,
        .working_dir = KCR_WORKDIR,
        .list_files = true, /* saves the GET /files after the run */
    };
    struct kcr_exec_result r = {0};
    double t = time_mono_ms_f();
    int rc = sidecar_client_execute(run->pod, &x, &r, err);
    res->stages.execute_ms += since_ms(t);
    /* A pod that died while it waited fails to connect: nothing was sent,
     * so a fresh pod may take the request (the listing before the run,
     * which used to find that out, is skipped for an empty pod). */
    *ret_started = rc == 0 || r.sent;
    if (rc < 0)
        return kcr_err_wrap(err, "execute");
    rc = orch_pod_out(c, req, run, &r, state, res, err);
    sidecar_client_result_done(&r);
    return rc;
}

/* A pod for the run, the run, the pod's release. A warm pod can die while it
 * waits (between health checks): if it fails before the program was sent,
 * the request goes to a fresh pod. */
static int run_on_a_pod(struct kcr_core *c, const struct kcr_exec_request *req,
                        struct orch_run *run, struct kcr_exec_response *res, struct kcr_err *err)
{
    int r = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool started = false;
        r = run_in_pod(c, req, run, res, &started, err);
        bool retry = r < 0 && !started && attempt == 0 && err && err->kind == KCR_ERR_UNAVAILABLE;
        if (retry && run->pod)
            log_json(KCR_LOG_WARN, NULL, "exec: pod failed before the run; trying a fresh one",
                     json_pack("{s:s, s:s}", "pod", run->pod->id, "error", err->msg));
        orch_pod_release(c, run, res);
        if (!retry)
            break;
        orchestrator_response_done(res);
    }
    if (r < 0) {
        /* A transport failure mid-run is the pod backend's failure (503). */
        if (err && err->kind != KCR_ERR_INTERNAL)
            err->kind = KCR_ERR_UNAVAILABLE;
        orchestrator_response_done(res);
    }
    return r;
}

int orch_admit(struct kcr_core *c, const struct kcr_exec_request *req, struct orch_run *run,
               struct kcr_exec_response *res, struct kcr_err *err)
{
    struct kcr_exec_stages *st = &res->stages;
    _cleanup_free_ const char **fsids = xcalloc(req->nfiles + 1, sizeof(char *));
    for (size_t i = 0; i < req->nfiles; i++)
        fsids[i] = req->files[i].session_id;
    double t = time_mono_ms_f();
    int r = session_choose(c, req->principal, req->session_id, fsids, req->nfiles, req->entity_id,
                           req->user_id, &run->s, err);
    st->session_ms = since_ms(t);
    if (r < 0)
        return -1;
    memcpy(res->session_id, run->s.id, sizeof(res->session_id));
    t = time_mono_ms_f();
    r = resolve_files(c, &run->s, req, &run->m, &run->nm, err);
    st->resolve_ms = since_ms(t);
    if (r < 0)
        return -1;
    if (!c->pool)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "pod backend unavailable");
    t = time_mono_ms_f();
    r = admission_enter(c->admission, err);
    st->queue_ms = since_ms(t);
    if (r < 0)
        return -1;
    run->admitted = true;
    return 0;
}

void orch_run_end(struct kcr_core *c, struct orch_run *run, struct kcr_exec_response *res)
{
    orch_pod_release(c, run, res);
    if (run->admitted)
        admission_leave(c->admission);
    run->admitted = false;
    free(run->m);
    run->m = NULL;
    run->nm = 0;
}

int orchestrator_exec(struct kcr_core *c, const struct kcr_exec_request *req,
                      struct kcr_exec_response *res, struct kcr_err *err)
{
    /* The retry of a dead warm pod reads the error's kind: always have one. */
    struct kcr_err local = {0};
    if (!err)
        err = &local;
    memset(res, 0, sizeof(*res));
    double t0 = time_mono_ms_f();
    struct orch_run run = {0};
    /* No session_touch afterwards: choosing the session wrote its last use
     * already, and one more fsync'd commit per execution bought nothing. */
    int r = orch_admit(c, req, &run, res, err);
    if (r == 0)
        r = run_on_a_pod(c, req, &run, res, err);
    orch_run_end(c, &run, res);
    res->stages.total_ms = since_ms(t0);
    return r;
}

void orchestrator_response_done(struct kcr_exec_response *res)
{
    free(res->stdout_text);
    free(res->stderr_text);
    for (size_t i = 0; i < res->nfiles; i++)
        free(res->files[i].name);
    free(res->files);
    char sid[KCR_ID_LEN + 1];
    memcpy(sid, res->session_id, sizeof(sid));
    struct kcr_exec_stages st = res->stages;
    memset(res, 0, sizeof(*res));
    memcpy(res->session_id, sid, sizeof(sid));
    res->stages = st;
}
