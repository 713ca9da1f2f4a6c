/* Unit tests for core/ptc.c (programmatic tool calling, docs/ptc.md) and the
 * sidecar client's programmatic calls (pod/sidecar-client-ptc.c), on the real
 * embedded stores (SQLite + blob files in a temporary directory) and the fake
 * pod backend (fakes/pod-fake.h). The fake sidecar plays a pod's /mnt/data as
 * a table (fakes/pod-table.h, as in test_orchestrator.c), and the
 * programmatic routes from a script the test writes: each POST /programmatic
 * or /programmatic/continue takes the next scripted reply (a pause on tool
 * calls, an end, or anything hostile), and every request body is recorded. A step may instead be
 * held (no answer yet): POST /programmatic/cancel then answers it as a killed program, or the test
 * answers it itself. Covered: pause and continuation (only id, name and input of a tool call go on;
 * tool_results reach the sidecar unchanged), tokens (single use, one per pause, only for their
 * principal), hostile sidecar replies (errors, the run ended and its pod destroyed), the round-trip
 * cap, the cap on runs in progress, expiry of paused runs (and not of running ones), cancel
 * (paused, running, someone else's, unknown), the outcomes' error strings, output files, and
 * ptc_free.
 *
 * Four tests fail on 3669b04, each for a bug in src/core/ptc.c named in its
 * comment ("FAILS on 3669b04"): test_client_timeout_lowers_the_limit,
 * test_sidecar_http_error_on_continue, test_round_trips_count_handed_pauses,
 * test_cancel_before_the_program_starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/lang.h"
#include "common/time.h"
#include "common/xalloc.h"
#include "core/core.h"
#include "core/files.h"
#include "core/orchestrator.h"
#include "core/ptc.h"
#include "core/session.h"
#include "fakes/core-fixture.h"
#include "fakes/pod-fake.h"
#include "fakes/pod-table.h"
#include "fakes/tmpdir.h"

/*** The fake pod: /mnt/data a table (fakes/pod-table.h), programmatic routes scripted ***/

#define MAX_SEEN   32
#define MAX_SCRIPT 16

struct scripted {
    int status; /* HTTP status */
    char *body;
    bool done; /* an end: the program's writes land in /mnt/data */
};

static struct pod_table pod = POD_TABLE_INIT;

/* The programmatic routes' side, under pod.mu. */
static struct {
    struct scripted script[MAX_SCRIPT]; /* replies of the next steps, in order */
    size_t nscript, next;
    bool hold_step; /* the next step gets no answer: its connection is kept */
    int held_fd;    /* that connection, or -1 */
    /* Seen by the sidecar. */
    unsigned n_start, n_continue, n_cancel, n_held;
    char *start_body;              /* the last /programmatic body */
    char *continue_body[MAX_SEEN]; /* each /programmatic/continue body */
} fp = {.held_fd = -1};

/* Forgets everything: files, writes, script, holds and what was seen. */
static void fake_reset(void)
{
    pod_table_clear(&pod);
    pthread_mutex_lock(&pod.mu);
    for (size_t i = 0; i < fp.nscript; i++)
        free(fp.script[i].body);
    memset(fp.script, 0, sizeof(fp.script));
    fp.nscript = fp.next = 0;
    fp.hold_step = false;
    if (fp.held_fd >= 0)
        close(fp.held_fd);
    fp.held_fd = -1;
    fp.n_start = fp.n_continue = fp.n_cancel = fp.n_held = 0;
    free(fp.start_body);
    fp.start_body = NULL;
    for (size_t i = 0; i < MAX_SEEN; i++) {
        free(fp.continue_body[i]);
        fp.continue_body[i] = NULL;
    }
    pthread_mutex_unlock(&pod.mu);
}

/* The next step answers status with body. */
static void script(int status, const char *body, bool done)
{
    pthread_mutex_lock(&pod.mu);
    /* Replies already given make room. */
    for (size_t i = 0; i < fp.next; i++)
        free(fp.script[i].body);
    memmove(fp.script, fp.script + fp.next, (fp.nscript - fp.next) * sizeof(fp.script[0]));
    fp.nscript -= fp.next;
    fp.next = 0;
    if (fp.nscript >= MAX_SCRIPT) /* under pod.mu: no cmocka assert */
        abort();
    fp.script[fp.nscript++] = (struct scripted){status, xstrdup(body), done};
    pthread_mutex_unlock(&pod.mu);
}

static void script_json(json_t *j, bool done)
{
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    script(200, s, done);
    free(s);
    json_decref(j);
}

/* The next step pauses on calls (a JSON array, or any JSON value). */
static void script_calls(const char *calls)
{
    json_error_t e;
    json_t *c = json_loads(calls, 0, &e);
    if (!c)
        fail_msg("bad test JSON %s: %s", calls, e.text);
    script_json(json_pack("{s:s, s:o}", "status", "tool_call_required", "tool_calls", c), false);
}

static json_t *done_json(int exit_code, const char *out, const char *err, bool timed_out, bool oom,
                         int sig)
{
    return json_pack("{s:s, s:i, s:s, s:s, s:b, s:b, s:i, s:i}", "status", "done", "exit_code",
                     exit_code, "stdout", out, "stderr", err, "timed_out", timed_out, "oom_killed",
                     oom, "signal", sig, "execution_time_ms", 7);
}

/* The next step ends the program. */
static void script_done(int exit_code, const char *out, const char *err)
{
    script_json(done_json(exit_code, out, err, false, false, 0), true);
}

/* The run will write name before it ends. */
static void will_write(const char *name, const char *data)
{
    pod_table_will_write(&pod, name, data, strlen(data));
}

/* Answers a held step with j (taken) and closes its connection. */
static void answer_fd(int fd, json_t *j)
{
    pod_fake_reply_json(fd, 200, j);
    close(fd);
}

/* Answers the held step, if any, with j (taken). */
static void answer_held(json_t *j)
{
    pthread_mutex_lock(&pod.mu);
    int fd = fp.held_fd;
    fp.held_fd = -1;
    pthread_mutex_unlock(&pod.mu);
    if (fd >= 0)
        answer_fd(fd, j);
    else
        json_decref(j);
}

/* POST /programmatic and /programmatic/continue. */
static void on_step(const struct pod_fake_request *req, int fd, bool start)
{
    pthread_mutex_lock(&pod.mu);
    if (start) {
        fp.n_start++;
        free(fp.start_body);
        fp.start_body = xstrdup(req->body);
        pod_table_put_code(&pod);
    } else {
        if (fp.n_continue < MAX_SEEN)
            fp.continue_body[fp.n_continue] = xstrdup(req->body);
        fp.n_continue++;
    }
    if (fp.hold_step) {
        fp.hold_step = false;
        if (fp.held_fd >= 0) /* one at a time (no cmocka asserts off the test's thread) */
            abort();
        fp.held_fd = dup(fd);
        fp.n_held++;
        pthread_mutex_unlock(&pod.mu);
        return;
    }
    if (fp.next >= fp.nscript) {
        pthread_mutex_unlock(&pod.mu);
        pod_fake_reply(fd, 500, NULL, "{\"error\":\"nothing scripted\"}", 28);
        return;
    }
    struct scripted s = fp.script[fp.next++];
    if (s.done)
        pod_table_put_writes(&pod);
    char *body = xstrdup(s.body);
    /* A done answer carries the listing when the start asked for it, as the
     * sidecar's does (whichever step ends the run). */
    json_t *asked = fp.start_body ? json_loads(fp.start_body, 0, NULL) : NULL;
    json_t *answer = s.done ? json_loads(body, 0, NULL) : NULL;
    if (json_is_object(answer) && json_is_true(json_object_get(asked, "list_files"))) {
        json_object_set_new(answer, "listing", pod_table_listing(&pod));
        free(body);
        body = json_dumps(answer, JSON_COMPACT);
    }
    json_decref(answer);
    json_decref(asked);
    pthread_mutex_unlock(&pod.mu);
    pod_fake_reply(fd, s.status, NULL, body, strlen(body));
    free(body);
}

/* POST /programmatic/cancel: a held step ends as a killed program. */
static void on_cancel(int fd)
{
    pthread_mutex_lock(&pod.mu);
    fp.n_cancel++;
    int held = fp.held_fd;
    fp.held_fd = -1;
    pthread_mutex_unlock(&pod.mu);
    pod_fake_reply_json(fd, 200, json_pack("{s:b}", "cancelled", 1));
    if (held >= 0)
        answer_fd(held, done_json(137, "", "", false, false, 9));
}

static void handler(const struct pod_fake_request *req, int fd, void *ud)
{
    (void)ud;
    bool post = !strcmp(req->method, "POST");
    if (post && !strcmp(req->path, "/programmatic"))
        on_step(req, fd, true);
    else if (post && !strcmp(req->path, "/programmatic/continue"))
        on_step(req, fd, false);
    else if (post && !strcmp(req->path, "/programmatic/cancel"))
        on_cancel(fd);
    else
        pod_table_handler(req, fd, &pod);
}

/* A counter of fp or pod (*n) under pod.mu. */
static unsigned seen(const unsigned *n)
{
    pthread_mutex_lock(&pod.mu);
    unsigned v = *n;
    pthread_mutex_unlock(&pod.mu);
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Polls until a counter of fp or pod (*n) reaches want (at most 5 s); whether it did.
 * (A test with a run in a thread asserts only after joining it.) */
static bool wait_seen(const unsigned *n, unsigned want)
{
    for (int i = 0; i < 1000 && seen(n) < want; i++)
        sleep_ms(5);
    return seen(n) == want;
}

/*** The core ***/

static char dir[TMPDIR_SIZE];
static struct kcr_serve_config cfg;
static struct kcr_core core;
static struct kcr_principal alice, bob;

static void new_ptc(long max_runs)
{
    struct kcr_err err = {0};
    core.ptc = ptc_free(core.ptc);
    core.ptc = ptc_new(&core, max_runs, &err);
    if (!core.ptc)
        fail_msg("ptc_new: %s", err.msg);
}

static int setup(void **state)
{
    (void)state;
    core_fixture_open(&core, &cfg, dir, "ptc", handler, NULL);
    cfg.ptc_continuation_s = 60;
    cfg.ptc_max_round_trips = 20;
    new_ptc(4);
    principal_key(&alice, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
    principal_key(&bob, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL);
    fake_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Let go of anything still held, so that no run waits on the fake. */
    pod_table_hold_uploads(&pod, false);
    core_fixture_close(&core, dir);
    fake_reset();
    return 0;
}

static struct pod_fake_stats stats(void)
{
    struct pod_fake_stats s;
    pod_fake_get_stats(core.backend, &s);
    return s;
}

static struct kcr_ptc_stats pstats(void)
{
    struct kcr_ptc_stats s;
    ptc_stats(core.ptc, &s);
    return s;
}

static void assert_no_runs(void)
{
    struct kcr_ptc_stats s = pstats();
    assert_int_equal(s.running, 0);
    assert_int_equal(s.paused, 0);
}

static const char *const tools[] = {"get_weather", "lookup"};

static struct kcr_ptc_request request(const struct kcr_principal *who, const char *lang,
                                      const char *code, const char *request_id)
{
    const struct kcr_lang *l = lang_find(lang);
    assert_non_null(l);
    pod_table_set_code_file(&pod, l->file);
    return (struct kcr_ptc_request){
        .exec = {.principal = who, .lang = l, .code = code},
        .tools = tools,
        .ntools = 2,
        .request_id = request_id,
    };
}

static json_t *json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

static bool is_token(const char *t)
{
    if (strlen(t) != KCR_PTC_TOKEN_LEN)
        return false;
    for (const char *c = t; *c; c++)
        if (!isxdigit((unsigned char)*c) || isupper((unsigned char)*c))
            return false;
    return true;
}

#define RESULTS  "[{\"call_id\":\"call_1\",\"result\":{\"temp\":18},\"is_error\":false}]"
#define ONE_CALL "[{\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"SF\"}}]"

/* Starts alice's run and expects a pause; its token into token. */
static void start_paused(const char *request_id, char token[KCR_PTC_TOKEN_LEN + 1])
{
    script_calls(ONE_CALL);
    struct kcr_ptc_request req =
        request(&alice, "py", "w = await get_weather(city='SF')", request_id);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    if (ptc_start(core.ptc, &req, &ans, &err) < 0)
        fail_msg("ptc_start: %s", err.msg);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    assert_true(is_token(ans.token));
    memcpy(token, ans.token, KCR_PTC_TOKEN_LEN + 1);
    ptc_answer_done(&ans);
}

/* ptc_continue with results (JSON text); 0 or -1. */
static int resume(const struct kcr_principal *who, const char *token, const char *results,
                  const char *request_id, struct kcr_ptc_answer *ans, struct kcr_err *err)
{
    json_t *r = json(results);
    int rc = ptc_continue(core.ptc, who, token, r, request_id, ans, err);
    json_decref(r);
    return rc;
}

/* A continuation with token is refused as not found, and the sidecar never
 * hears of it. */
static void assert_token_dead(const struct kcr_principal *who, const char *token)
{
    unsigned before = seen(&fp.n_continue);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(resume(who, token, RESULTS, NULL, &ans, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_null(ans.tool_calls);
    ptc_answer_done(&ans);
    assert_int_equal(seen(&fp.n_continue), before);
}

/*** 1. Start, pause, continue, end ***/

static void test_pause_then_complete(void **state)
{
    (void)state;
    /* The sidecar adds a field of its own to a call: it must not go on. */
    script_calls("[{\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"SF\"},"
                 "\"pod_secret\":\"leak\"},"
                 "{\"id\":\"call_2\",\"name\":\"lookup\",\"input\":\"just a string\"}]");
    script_done(0, "18\n", "");
    struct kcr_ptc_request req = request(&alice, "py", "w = await get_weather(city='SF')", NULL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    assert_true(is_token(ans.token));
    assert_true(id_is_valid(ans.exec.session_id));
    json_t *want = json("[{\"id\":\"call_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"SF\"}},"
                        "{\"id\":\"call_2\",\"name\":\"lookup\",\"input\":\"just a string\"}]");
    assert_true(json_equal(ans.tool_calls, want));
    json_decref(want);
    assert_null(json_object_get(json_array_get(ans.tool_calls, 0), "pod_secret"));
    char token[KCR_PTC_TOKEN_LEN + 1], sid[KCR_ID_LEN + 1];
    memcpy(token, ans.token, sizeof(token));
    memcpy(sid, ans.exec.session_id, sizeof(sid));
    ptc_answer_done(&ans);

    /* What went to /programmatic: the code, the tools' names, the language,
     * the time limit (MAX_EXECUTION_TIME), the working directory. */
    json_t *body = json(fp.start_body);
    json_t *names = json("[\"get_weather\",\"lookup\"]");
    assert_true(json_equal(json_object_get(body, "tools"), names));
    json_decref(names);
    assert_string_equal(json_string_value(json_object_get(body, "lang")), "py");
    assert_string_equal(json_string_value(json_object_get(body, "code")),
                        "w = await get_weather(city='SF')");
    assert_int_equal(json_integer_value(json_object_get(body, "timeout")), 30);
    assert_string_equal(json_string_value(json_object_get(body, "working_dir")), "/mnt/data");
    assert_true(json_is_true(json_object_get(body, "list_files")));
    json_decref(body);

    /* Paused: one run, one pod, nothing listed or fetched yet. */
    struct kcr_ptc_stats ps = pstats();
    assert_int_equal(ps.paused, 1);
    assert_int_equal(ps.running, 0);
    assert_int_equal(ps.round_trips, 1);
    assert_int_equal(stats().creates, 1);
    assert_int_equal(stats().destroys, 0);
    assert_int_equal(pod.n_list + pod.n_get, 0);

    static const char results[] =
        "[{\"call_id\":\"call_1\",\"result\":{\"temp\":18},\"is_error\":false},"
        "{\"call_id\":\"call_2\",\"result\":null,\"is_error\":true,\"error_message\":\"boom\"}]";
    assert_int_equal(resume(&alice, token, results, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    assert_null(ans.error);
    assert_null(ans.tool_calls);
    assert_string_equal(ans.exec.stdout_text, "18\n");
    assert_string_equal(ans.exec.outcome, "completed");
    assert_string_equal(ans.exec.session_id, sid);
    ptc_answer_done(&ans);

    /* The results reached the sidecar unchanged. */
    assert_int_equal(fp.n_continue, 1);
    body = json(fp.continue_body[0]);
    json_t *sent = json(results);
    assert_true(json_equal(json_object_get(body, "tool_results"), sent));
    json_decref(sent);
    json_decref(body);

    assert_no_runs();
    assert_int_equal(stats().creates, 1);
    core_fixture_wait_destroys(&core, 1);
}

/* The client's `timeout` (ms) lowers the program's limit, as for /exec
 * (docs/ptc.md, docs/api.md).
 * FAILS on 3669b04: ptc_start copies only lang and code into run->req, the
 * request orch_pod_in takes the limit from, so timeout_ms is lost. */
static void test_client_timeout_lowers_the_limit(void **state)
{
    (void)state;
    script_done(0, "", "");
    struct kcr_ptc_request req = request(&alice, "py", "x", NULL);
    req.exec.timeout_ms = 15000;
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    ptc_answer_done(&ans);
    json_t *body = json(fp.start_body);
    json_int_t timeout = json_integer_value(json_object_get(body, "timeout"));
    json_decref(body);
    if (timeout != 15)
        fail_msg("/programmatic got timeout %lld s, not the client's 15 s", (long long)timeout);
}

/*** 2. A token is used once, and only by its principal ***/

static void test_token_single_use_and_owned(void **state)
{
    (void)state;
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, token);
    script_done(0, "ok\n", "");

    /* Someone else's token is unknown to them; the run is untouched. */
    assert_token_dead(&bob, token);
    assert_int_equal(pstats().paused, 1);
    /* So are a prefix of it, an empty one and one never made. */
    char prefix[KCR_PTC_TOKEN_LEN];
    memcpy(prefix, token, sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    assert_token_dead(&alice, prefix);
    assert_token_dead(&alice, "");
    char other[KCR_PTC_TOKEN_LEN + 1];
    memcpy(other, token, sizeof(other));
    other[0] = other[0] == '0' ? '1' : '0';
    assert_token_dead(&alice, other);
    assert_int_equal(pstats().paused, 1);

    /* Its owner still goes on with it. */
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    assert_string_equal(ans.exec.stdout_text, "ok\n");
    ptc_answer_done(&ans);

    /* Used: a second continuation is not found. */
    assert_token_dead(&alice, token);
    assert_int_equal(fp.n_continue, 1);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
}

/*** 3. Each pause makes a new token ***/

static void test_new_token_each_pause(void **state)
{
    (void)state;
    script_calls(ONE_CALL);
    script_calls("[{\"id\":\"call_2\",\"name\":\"lookup\",\"input\":{}}]");
    script_done(0, "", "");
    struct kcr_ptc_request req = request(&alice, "bash", "get_weather '{}'", NULL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    char t1[KCR_PTC_TOKEN_LEN + 1], t2[KCR_PTC_TOKEN_LEN + 1];
    memcpy(t1, ans.token, sizeof(t1));
    ptc_answer_done(&ans);
    json_t *body = json(fp.start_body);
    assert_string_equal(json_string_value(json_object_get(body, "lang")), "bash");
    json_decref(body);

    assert_int_equal(resume(&alice, t1, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    assert_true(is_token(ans.token));
    assert_string_not_equal(ans.token, t1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ans.tool_calls, 0), "id")),
                        "call_2");
    memcpy(t2, ans.token, sizeof(t2));
    ptc_answer_done(&ans);
    assert_int_equal(pstats().round_trips, 2);

    /* The first token died with its pause. */
    assert_token_dead(&alice, t1);
    assert_int_equal(resume(&alice, t2, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    ptc_answer_done(&ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
}

/*** 4. Hostile sidecar replies ***/

static char *calls_body(const char *calls)
{
    return xasprintf("{\"status\":\"tool_call_required\",\"tool_calls\":%s}", calls);
}

/* n calls named get_weather with ids of idlen characters ("id" of the index,
 * padded with 'x'). */
static char *many_calls(size_t n, size_t idlen)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[128];
        int k = snprintf(id, sizeof(id), "c%zu", i);
        while ((size_t)k < idlen)
            id[k++] = 'x';
        id[idlen] = '\0';
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:{}}", "id", id, "name", "get_weather", "input"));
    }
    char *calls = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    char *b = calls_body(calls);
    free(calls);
    return b;
}

/* The replies no pause may come from: each is an error, never an answer. */
static char **hostile_replies(size_t *ret_n)
{
    char id65[66];
    memset(id65, 'a', 65);
    id65[65] = '\0';
    char *one65 = xasprintf("[{\"id\":\"%s\",\"name\":\"lookup\",\"input\":{}}]", id65);
    char **v = xcalloc(32, sizeof(char *));
    size_t n = 0;
    /* A tool the run was not given (nor a case variant of one). */
    v[n++] = calls_body("[{\"id\":\"c1\",\"name\":\"rm_rf\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":\"c1\",\"name\":\"Get_Weather\",\"input\":{}}]");
    /* Duplicate ids. */
    v[n++] = calls_body("[{\"id\":\"c1\",\"name\":\"lookup\",\"input\":{}},"
                        "{\"id\":\"c1\",\"name\":\"get_weather\",\"input\":{}}]");
    /* Ids that are not short printable strings. */
    v[n++] = calls_body("[{\"id\":\"c 1\",\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":\"c\\u0001\",\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":\"c\\n\",\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":\"caf\\u00e9\",\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":\"\",\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body("[{\"id\":7,\"name\":\"lookup\",\"input\":{}}]");
    v[n++] = calls_body(one65);
    /* A call without input, one that is not an object. */
    v[n++] = calls_body("[{\"id\":\"c1\",\"name\":\"lookup\"}]");
    v[n++] = calls_body("[\"c1\"]");
    /* 65 calls. */
    v[n++] = many_calls(65, 8);
    /* tool_calls not an array, empty, absent. */
    v[n++] = calls_body("{\"id\":\"c1\",\"name\":\"lookup\",\"input\":{}}");
    v[n++] = calls_body("[]");
    v[n++] = xstrdup("{\"status\":\"tool_call_required\"}");
    /* A status nobody knows, or none. */
    v[n++] = xstrdup("{\"status\":\"paused\",\"tool_calls\":[{\"id\":\"c1\",\"name\":\"lookup\","
                     "\"input\":{}}]}");
    v[n++] = xstrdup("{\"tool_calls\":[{\"id\":\"c1\",\"name\":\"lookup\",\"input\":{}}]}");
    /* An end without its fields. */
    v[n++] = xstrdup("{\"status\":\"done\"}");
    /* Not JSON, not an object. */
    v[n++] = xstrdup("<html>pwned</html>");
    v[n++] = xstrdup("[\"status\",\"done\"]");
    free(one65);
    *ret_n = n;
    return v;
}

static void free_replies(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* On the start: ptc_start fails (503), the run and its pod are gone. */
static void test_hostile_reply_to_start(void **state)
{
    (void)state;
    size_t n = 0;
    char **v = hostile_replies(&n);
    for (size_t i = 0; i < n; i++) {
        script(200, v[i], false);
        struct kcr_ptc_request req = request(&alice, "py", "x", "rid");
        struct kcr_ptc_answer ans;
        struct kcr_err err = {0};
        if (ptc_start(core.ptc, &req, &ans, &err) == 0)
            fail_msg("reply %zu accepted: %s", i, v[i]);
        if (err.kind != KCR_ERR_UNAVAILABLE)
            fail_msg("reply %zu: kind %d (%s)", i, err.kind, err.msg);
        assert_null(ans.tool_calls);
        assert_string_equal(ans.token, "");
        ptc_answer_done(&ans);
        assert_no_runs();
        /* The program was sent: no second pod was tried. */
        assert_int_equal(stats().creates, i + 1);
        assert_int_equal(fp.n_start, i + 1);
        core_fixture_wait_destroys(&core, (unsigned)(i + 1));
        /* Not cancellable either: it is gone. */
        assert_false(ptc_cancel(core.ptc, &alice, "rid"));
    }
    free_replies(v, n);
    /* Every run left its execution slot: a start still works. */
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, token);
}

/* On a continuation: the same, and the token is dead. */
static void test_hostile_reply_to_continue(void **state)
{
    (void)state;
    size_t n = 0;
    char **v = hostile_replies(&n);
    for (size_t i = 0; i < n; i++) {
        char token[KCR_PTC_TOKEN_LEN + 1];
        start_paused(NULL, token);
        script(200, v[i], false);
        struct kcr_ptc_answer ans;
        struct kcr_err err = {0};
        if (resume(&alice, token, RESULTS, NULL, &ans, &err) == 0)
            fail_msg("reply %zu accepted: %s", i, v[i]);
        if (err.kind != KCR_ERR_UNAVAILABLE)
            fail_msg("reply %zu: kind %d (%s)", i, err.kind, err.msg);
        assert_null(ans.tool_calls);
        ptc_answer_done(&ans);
        assert_no_runs();
        core_fixture_wait_destroys(&core, (unsigned)(i + 1));
        assert_token_dead(&alice, token);
    }
    free_replies(v, n);
}

/* The bounds themselves are allowed: 64 calls, ids of 64 characters, ids
 * with punctuation, an input that is null. */
static void test_calls_at_the_bounds(void **state)
{
    (void)state;
    char *b = many_calls(64, 64);
    script(200, b, false);
    free(b);
    struct kcr_ptc_request req = request(&alice, "py", "x", NULL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    if (ptc_start(core.ptc, &req, &ans, &err) < 0)
        fail_msg("ptc_start: %s", err.msg);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    assert_int_equal(json_array_size(ans.tool_calls), 64);
    assert_int_equal(
        strlen(json_string_value(json_object_get(json_array_get(ans.tool_calls, 63), "id"))), 64);
    char token[KCR_PTC_TOKEN_LEN + 1];
    memcpy(token, ans.token, sizeof(token));
    ptc_answer_done(&ans);

    script_calls("[{\"id\":\"toolu_01A!~{}\",\"name\":\"lookup\",\"input\":null}]");
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    json_t *want = json("[{\"id\":\"toolu_01A!~{}\",\"name\":\"lookup\",\"input\":null}]");
    assert_true(json_equal(ans.tool_calls, want));
    json_decref(want);
    ptc_answer_done(&ans);
}

/* A sidecar that answers a continuation with an HTTP error is the pod
 * failing (503), as on the start and for /exec: its status must not turn
 * into the client's own error (400) carrying the pod's text.
 * FAILS on 3669b04: ptc_continue keeps KCR_ERR_INVALID (sidecar 400/422). */
static void test_sidecar_http_error_on_continue(void **state)
{
    (void)state;
    static const int statuses[] = {400, 422, 404, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        char token[KCR_PTC_TOKEN_LEN + 1];
        start_paused(NULL, token);
        script(statuses[i], "{\"error\":\"the pod says: your key is invalid\"}", false);
        struct kcr_ptc_answer ans;
        struct kcr_err err = {0};
        assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), -1);
        if (err.kind != KCR_ERR_UNAVAILABLE)
            fail_msg("sidecar HTTP %d on continue: kind %d, not UNAVAILABLE (%s)", statuses[i],
                     err.kind, err.msg);
        ptc_answer_done(&ans);
        assert_no_runs();
        core_fixture_wait_destroys(&core, (unsigned)(i + 1));
    }
}

/*** 5. The round-trip cap ***/

static void test_round_trip_cap(void **state)
{
    (void)state;
    cfg.ptc_max_round_trips = 2;
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, token);
    script_calls(ONE_CALL);
    script_calls(ONE_CALL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    memcpy(token, ans.token, sizeof(token));
    ptc_answer_done(&ans);
    assert_int_equal(stats().destroys, 0);

    /* The third pause ends the run. */
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_ERROR);
    assert_non_null(ans.error);
    assert_string_equal(ans.error, "Too many tool call round trips (PTC_MAX_ROUND_TRIPS is 2)");
    assert_null(ans.tool_calls);
    assert_string_equal(ans.token, "");
    assert_true(id_is_valid(ans.exec.session_id));
    ptc_answer_done(&ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
    assert_token_dead(&alice, token);
    assert_int_equal(fp.n_continue, 2);
}

/* kcr_ptc_round_trips_total counts "pauses handed to clients" (docs/ptc.md,
 * the metric's HELP): the pause that hit the cap was not handed to anyone.
 * FAILS on 3669b04: after_step counts it before it checks the cap. */
static void test_round_trips_count_handed_pauses(void **state)
{
    (void)state;
    cfg.ptc_max_round_trips = 1;
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, token);
    script_calls(ONE_CALL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_ERROR);
    ptc_answer_done(&ans);
    assert_int_equal(pstats().round_trips, 1);
}

/*** 6. Runs in progress are capped ***/

static void test_max_runs(void **state)
{
    (void)state;
    new_ptc(1);
    assert_int_equal(pstats().max_runs, 1);
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, token);

    /* A second start is refused before it takes anything. */
    struct kcr_ptc_request req = request(&bob, "py", "x", NULL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_LIMIT);
    assert_true(ans.too_many);
    ptc_answer_done(&ans);
    assert_int_equal(stats().creates, 1);
    assert_int_equal(fp.n_start, 1);
    assert_int_equal(pstats().paused, 1);

    /* The first one ends: a start works again. */
    script_done(0, "", "");
    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    ptc_answer_done(&ans);
    script_done(0, "second\n", "");
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    assert_false(ans.too_many);
    assert_string_equal(ans.exec.stdout_text, "second\n");
    ptc_answer_done(&ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 2);
}

/*** 7. Paused runs expire; running ones do not ***/

struct bg_continue {
    char token[KCR_PTC_TOKEN_LEN + 1];
    struct kcr_ptc_answer ans;
    struct kcr_err err;
    int r;
};

static void *bg_continue_main(void *arg)
{
    struct bg_continue *b = arg;
    json_t *r = json(RESULTS);
    b->r = ptc_continue(core.ptc, &alice, b->token, r, NULL, &b->ans, &b->err);
    json_decref(r);
    return NULL;
}

static void test_expiry(void **state)
{
    (void)state;
    cfg.ptc_continuation_s = 1;
    char waits[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, waits);
    /* A second run goes on at once and then runs longer than the wait. */
    struct bg_continue bg = {0};
    start_paused(NULL, bg.token);
    pthread_mutex_lock(&pod.mu);
    fp.hold_step = true;
    pthread_mutex_unlock(&pod.mu);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_continue_main, &bg), 0);
    bool held = wait_seen(&fp.n_held, 1);

    int64_t t0 = time_mono_ms();
    while (pstats().paused > 0 && time_mono_ms() - t0 < 5000)
        sleep_ms(20);
    int64_t took = time_mono_ms() - t0;
    struct kcr_ptc_stats ps = pstats();
    unsigned destroys = stats().destroys;
    answer_held(done_json(0, "late\n", "", false, false, 0));
    pthread_join(th, NULL);

    assert_true(held);
    assert_int_equal(ps.paused, 0);
    assert_true(took <= 3000);
    assert_int_equal(ps.expired, 1);
    /* The running one was still there, past its own pause's deadline. */
    assert_int_equal(ps.running, 1);
    assert_int_equal(destroys, 1);
    /* The expired run's token is dead. */
    assert_token_dead(&alice, waits);
    assert_int_equal(bg.r, 0);
    assert_int_equal(bg.ans.status, KCR_PTC_COMPLETED);
    assert_string_equal(bg.ans.exec.stdout_text, "late\n");
    ptc_answer_done(&bg.ans);
    assert_no_runs();
    assert_int_equal(pstats().expired, 1);
    core_fixture_wait_destroys(&core, 2);
}

/*** 8. Cancel ***/

static void test_cancel_paused(void **state)
{
    (void)state;
    char token[KCR_PTC_TOKEN_LEN + 1];
    start_paused("req-1", token);
    /* Someone else's, unknown, empty: nothing happens. */
    assert_false(ptc_cancel(core.ptc, &bob, "req-1"));
    assert_false(ptc_cancel(core.ptc, &alice, "req-2"));
    assert_false(ptc_cancel(core.ptc, &alice, ""));
    assert_false(ptc_cancel(core.ptc, &alice, NULL));
    assert_int_equal(pstats().paused, 1);
    assert_int_equal(stats().destroys, 0);

    /* A continuation renames the run: the last request id counts. */
    script_calls(ONE_CALL);
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(resume(&alice, token, RESULTS, "req-2", &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    memcpy(token, ans.token, sizeof(token));
    ptc_answer_done(&ans);
    assert_false(ptc_cancel(core.ptc, &alice, "req-1"));
    assert_int_equal(pstats().paused, 1);

    assert_true(ptc_cancel(core.ptc, &alice, "req-2"));
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
    assert_token_dead(&alice, token);
    /* Once: it is gone. */
    assert_false(ptc_cancel(core.ptc, &alice, "req-2"));
}

struct bg_start {
    struct kcr_ptc_request req;
    struct kcr_ptc_answer ans;
    struct kcr_err err;
    int r;
};

static void *bg_start_main(void *arg)
{
    struct bg_start *b = arg;
    b->r = ptc_start(core.ptc, &b->req, &b->ans, &b->err);
    return NULL;
}

/* The program runs (the sidecar holds /programmatic): the cancel reaches the
 * sidecar, which kills it, and the start answers "Execution cancelled". */
static void test_cancel_running(void **state)
{
    (void)state;
    pthread_mutex_lock(&pod.mu);
    fp.hold_step = true;
    pthread_mutex_unlock(&pod.mu);
    struct bg_start bg = {.req = request(&alice, "py", "while True: pass", "run-1")};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_start_main, &bg), 0);
    bool held = wait_seen(&fp.n_held, 1);
    struct kcr_ptc_stats ps = pstats();
    bool bobs = ptc_cancel(core.ptc, &bob, "run-1");
    unsigned cancels = seen(&fp.n_cancel);
    bool alices = ptc_cancel(core.ptc, &alice, "run-1");
    if (!alices) /* so that the join cannot wait for the step's own timeout */
        answer_held(done_json(0, "", "", false, false, 0));
    pthread_join(th, NULL);

    assert_true(held);
    assert_int_equal(ps.running, 1);
    assert_int_equal(ps.paused, 0);
    assert_false(bobs);
    assert_int_equal(cancels, 0);
    assert_true(alices);
    assert_int_equal(fp.n_cancel, 1);
    assert_int_equal(bg.r, 0);
    assert_int_equal(bg.ans.status, KCR_PTC_ERROR);
    assert_non_null(bg.ans.error);
    assert_string_equal(bg.ans.error, "Execution cancelled");
    assert_null(bg.ans.tool_calls);
    assert_true(id_is_valid(bg.ans.exec.session_id));
    ptc_answer_done(&bg.ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
    assert_int_equal(pstats().round_trips, 0);
}

/* Cancelled while its inputs were still going into the pod (no program yet):
 * the cancel answered true, so the program must not be started afterwards.
 * FAILS on 3669b04: start_on_a_pod sends it anyway, and it runs unkilled
 * until it pauses or ends (up to its whole time limit). */
static void test_cancel_before_the_program_starts(void **state)
{
    (void)state;
    struct kcr_session s;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta f = core_fixture_store(&core, &s, "in.txt", "input");
    struct kcr_file_ref ref = {.id = f.id, .session_id = s.id, .name = "in.txt"};

    pod_table_hold_uploads(&pod, true);
    script_done(0, "ran anyway\n", "");
    struct bg_start bg = {.req = request(&alice, "py", "while True: pass", "run-2")};
    bg.req.exec.files = &ref;
    bg.req.exec.nfiles = 1;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_start_main, &bg), 0);
    bool put = wait_seen(&pod.n_put, 1);
    bool cancelled = ptc_cancel(core.ptc, &alice, "run-2");
    pod_table_hold_uploads(&pod, false);
    pthread_join(th, NULL);
    assert_true(put);
    assert_true(cancelled);
    assert_int_equal(bg.r, 0);
    assert_int_equal(bg.ans.status, KCR_PTC_ERROR);
    assert_string_equal(bg.ans.error, "Execution cancelled");
    ptc_answer_done(&bg.ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, 1);
    /* The bug: the program was sent after the cancel. */
    if (fp.n_start != 0)
        fail_msg("the program was started after ptc_cancel had answered true");
}

/*** 9. Outcomes and output files ***/

static void expect_end(const char *done, const char *want_error, const char *want_outcome,
                       bool after_pause)
{
    fake_reset();
    unsigned destroys = stats().destroys;
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    int r;
    if (after_pause) {
        char token[KCR_PTC_TOKEN_LEN + 1];
        start_paused(NULL, token);
        script(200, done, true);
        r = resume(&alice, token, RESULTS, NULL, &ans, &err);
    } else {
        script(200, done, true);
        struct kcr_ptc_request req = request(&alice, "py", "x", NULL);
        r = ptc_start(core.ptc, &req, &ans, &err);
    }
    if (r < 0)
        fail_msg("%s: %s", done, err.msg);
    assert_int_equal(ans.status, KCR_PTC_ERROR);
    assert_non_null(ans.error);
    assert_string_equal(ans.error, want_error);
    assert_string_equal(ans.exec.outcome, want_outcome);
    assert_non_null(ans.exec.stdout_text);
    assert_string_equal(ans.exec.stdout_text, "partial\n");
    assert_non_null(strstr(ans.exec.stderr_text, "boom"));
    assert_null(ans.tool_calls);
    ptc_answer_done(&ans);
    assert_no_runs();
    core_fixture_wait_destroys(&core, destroys + 1);
}

static char *done_text(int exit_code, const char *out, const char *err, bool timed_out, bool oom,
                       int sig)
{
    json_t *j = done_json(exit_code, out, err, timed_out, oom, sig);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void test_outcomes(void **state)
{
    (void)state;
    char *d = done_text(124, "partial\n", "boom\n", true, false, 9);
    expect_end(d, "Time limit exceeded", "timeout", false);
    expect_end(d, "Time limit exceeded", "timeout", true);
    free(d);
    d = done_text(137, "partial\n", "boom\n", false, true, 9);
    expect_end(d, "Out of memory", "oom", true);
    free(d);
    d = done_text(3, "partial\n", "boom\n", false, false, 0);
    expect_end(d, "Sandbox exited with code 3", "failed", false);
    expect_end(d, "Sandbox exited with code 3", "failed", true);
    free(d);
    d = done_text(1, "partial\n", "Traceback: boom\n", false, false, 0);
    expect_end(d, "Sandbox exited with code 1", "failed", true);
    free(d);
}

/* Files the program wrote come back as /exec's do once it ends: new or
 * changed ones, not the code, not dangerous ones; inputs go in first. */
static void test_output_files(void **state)
{
    (void)state;
    struct kcr_session s;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta in = core_fixture_store(&core, &s, "keep.txt", "same");
    struct kcr_file_ref ref = {.id = in.id, .session_id = s.id, .name = "keep.txt"};

    will_write("out.csv", "a,b\n1,2\n");
    will_write("plots/p.png", "png");
    will_write("evil.sh", "#!/bin/sh");
    char token[KCR_PTC_TOKEN_LEN + 1];
    script_calls(ONE_CALL);
    script_done(0, "", "");
    struct kcr_ptc_request req = request(&alice, "py", "x", NULL);
    req.exec.session_id = s.id;
    req.exec.files = &ref;
    req.exec.nfiles = 1;
    struct kcr_ptc_answer ans;
    struct kcr_err err = {0};
    assert_int_equal(ptc_start(core.ptc, &req, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_TOOL_CALLS);
    assert_string_equal(ans.exec.session_id, s.id);
    assert_int_equal(ans.exec.nfiles, 0);
    memcpy(token, ans.token, sizeof(token));
    ptc_answer_done(&ans);
    assert_int_equal(pod.n_put, 1);
    assert_int_equal(pod.n_get, 0);

    assert_int_equal(resume(&alice, token, RESULTS, NULL, &ans, &err), 0);
    assert_int_equal(ans.status, KCR_PTC_COMPLETED);
    assert_int_equal(ans.exec.nfiles, 2);
    assert_string_equal(ans.exec.files[0].name, "out.csv");
    assert_string_equal(ans.exec.files[1].name, "plots/p.png");
    assert_int_equal(pod.n_get, 2);
    /* Listed by GET before the run (an input went in), after it by the
     * done answer (list_files). */
    assert_int_equal(pod.n_list, 1);
    char *b = core_fixture_file_bytes(&core, &alice, s.id, ans.exec.files[0].id);
    assert_string_equal(b, "a,b\n1,2\n");
    free(b);
    struct kcr_file_meta f;
    assert_int_equal(files_get_readable(&core, &alice, s.id, ans.exec.files[1].id, NULL, &f, NULL),
                     0);
    assert_int_equal(f.kind, KCR_FILE_OUTPUT);
    size_t count = 0;
    assert_int_equal(files_count(&core, s.id, &count, NULL), 0);
    assert_int_equal(count, 3);
    ptc_answer_done(&ans);
    core_fixture_wait_destroys(&core, 1);
}

/*** 10. ptc_free ends paused runs ***/

static void test_free_destroys_paused_pods(void **state)
{
    (void)state;
    char t1[KCR_PTC_TOKEN_LEN + 1], t2[KCR_PTC_TOKEN_LEN + 1];
    start_paused(NULL, t1);
    start_paused(NULL, t2);
    assert_int_equal(stats().live, 2);
    core.ptc = ptc_free(core.ptc);
    assert_null(core.ptc);
    core_fixture_wait_destroys(&core, 2);
    assert_int_equal(stats().live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_then_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_timeout_lowers_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_single_use_and_owned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_token_each_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_reply_to_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_reply_to_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calls_at_the_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sidecar_http_error_on_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trips_count_handed_pauses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_paused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_before_the_program_starts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_destroys_paused_pods, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
