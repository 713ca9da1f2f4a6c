/* Unit tests for core/orchestrator.c, the heart of POST /exec, on the real
 * embedded stores (SQLite + blob files in a temporary directory) and the fake
 * pod backend (fakes/pod-fake.h), whose sidecar here plays a pod's
 * /mnt/data as a table (fakes/pod-table.h: uploads land in it, listings and
 * downloads read it); /execute applies what the test says the program wrote
 * and answers with the test's result. Covered: the one retry when a warm pod is dead
 * before the program was sent (and none after), Python state collection
 * (kept after a successful run only), output truncation at MAX_OUTPUT_SIZE
 * characters, output-file collection (new or modified files; not too large,
 * dangerous, the code or the state file; at most MAX_OUTPUT_FILES), and
 * files[] resolution (a file of another session copied once; a missing one
 * is a 404 before anything is copied or any pod is used). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/lang.h"
#include "common/xalloc.h"
#include "core/core.h"
#include "core/files.h"
#include "core/orchestrator.h"
#include "core/output.h"
#include "core/pystate.h"
#include "core/session.h"
#include "core/statestore.h"
#include "fakes/core-fixture.h"
#include "fakes/pod-fake.h"
#include "fakes/pod-table.h"
#include "fakes/tmpdir.h"

/*** The fake pod: /mnt/data as a table (fakes/pod-table.h), /execute here ***/

static struct pod_table pod = POD_TABLE_INIT;

/* How /execute answers list_files. */
enum listing {
    LISTING_SENT,  /* the listing, as a sidecar that knows the field */
    LISTING_NONE,  /* nothing: a sidecar image older than the field */
    LISTING_ERROR, /* "listing_error": the sidecar could not list */
};

/* /execute's side, under pod.mu. */
static struct {
    int exec_status;  /* HTTP status of /execute (200) */
    char *exec_reply; /* its body */
    unsigned n_exec;
    char *exec_body; /* the last /execute request body */
    enum listing listing;
} fp;

/* A new, empty pod (pods are single-use; every pod shares the one fake
 * sidecar) and a clean record of what it saw. */
static void fresh_pod(void)
{
    pod_table_new_pod(&pod);
    pthread_mutex_lock(&pod.mu);
    fp.n_exec = 0;
    free(fp.exec_body);
    fp.exec_body = NULL;
    pthread_mutex_unlock(&pod.mu);
}

static void answer_listing(enum listing l)
{
    pthread_mutex_lock(&pod.mu);
    fp.listing = l;
    pthread_mutex_unlock(&pod.mu);
}

/* /execute answers status with a result of these fields (timed out or not). */
static void will_answer_run(int status, int exit_code, const char *out, size_t out_len,
                            const char *err, bool timed_out)
{
    json_t *j = json_pack("{s:i, s:s%, s:s, s:b, s:i}", "exit_code", exit_code, "stdout", out,
                          out_len, "stderr", err, "timed_out", timed_out, "execution_time_ms", 7);
    assert_non_null(j);
    pthread_mutex_lock(&pod.mu);
    free(fp.exec_reply);
    fp.exec_reply = json_dumps(j, JSON_COMPACT);
    fp.exec_status = status;
    pthread_mutex_unlock(&pod.mu);
    json_decref(j);
}

static void will_answer(int status, int exit_code, const char *out, size_t out_len, const char *err)
{
    will_answer_run(status, exit_code, out, out_len, err, false);
}

/* POST /execute: the code file and the program's writes land in the table;
 * asked for list_files, the answer carries the table after them (as
 * fp.listing says). */
static void on_execute(const struct pod_fake_request *req, int fd)
{
    json_t *body = json_loads(req->body, 0, NULL);
    bool list = json_is_true(json_object_get(body, "list_files"));
    json_decref(body);
    pthread_mutex_lock(&pod.mu);
    fp.n_exec++;
    free(fp.exec_body);
    fp.exec_body = xstrdup(req->body);
    pod_table_put_code(&pod);
    pod_table_put_writes(&pod);
    json_t *answer = json_loads(fp.exec_reply, 0, NULL);
    if (list && answer && fp.listing == LISTING_SENT) {
        json_object_set_new(answer, "listing", pod_table_listing(&pod));
        json_object_set_new(answer, "listing_ms", json_real(0.25));
    } else if (list && answer && fp.listing == LISTING_ERROR) {
        json_object_set_new(answer, "listing_error", json_string("working directory unavailable"));
    }
    char *reply = answer ? json_dumps(answer, JSON_COMPACT) : xstrdup(fp.exec_reply);
    json_decref(answer);
    int status = fp.exec_status;
    pthread_mutex_unlock(&pod.mu);
    pod_fake_reply(fd, status, NULL, reply, strlen(reply));
    free(reply);
}

static void handler(const struct pod_fake_request *req, int fd, void *ud)
{
    (void)ud;
    if (!strcmp(req->method, "POST") && !strcmp(req->path, "/execute"))
        on_execute(req, fd);
    else
        pod_table_handler(req, fd, &pod);
}

/*** The core ***/

static char dir[TMPDIR_SIZE];
static struct kcr_serve_config cfg;
static struct kcr_core core;
static struct kcr_principal alice, bob;

static int setup(void **state)
{
    (void)state;
    core_fixture_open(&core, &cfg, dir, "orch", handler, NULL);
    principal_key(&alice, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
    principal_key(&bob, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL);
    pod_table_clear(&pod);
    fresh_pod();
    will_answer(200, 0, "", 0, "");
    answer_listing(LISTING_SENT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    core_fixture_close(&core, dir);
    pod_table_clear(&pod);
    pthread_mutex_lock(&pod.mu);
    free(fp.exec_reply);
    free(fp.exec_body);
    fp.exec_reply = fp.exec_body = NULL;
    pthread_mutex_unlock(&pod.mu);
    return 0;
}

static struct pod_fake_stats stats(void)
{
    struct pod_fake_stats s;
    pod_fake_get_stats(core.backend, &s);
    return s;
}

static struct kcr_exec_request request(const char *lang, const char *code)
{
    const struct kcr_lang *l = lang_find(lang);
    assert_non_null(l);
    pod_table_set_code_file(&pod, l->file);
    return (struct kcr_exec_request){.principal = &alice, .lang = l, .code = code};
}

static size_t session_files(const char *sid)
{
    size_t n = 0;
    assert_int_equal(files_count(&core, sid, &n, NULL), 0);
    return n;
}

/*** (a) A warm pod dead before the run ***/

/* The first pod's sidecar is gone: /execute cannot connect, nothing was
 * sent, and the request runs on a fresh pod. */
static void test_retry_on_a_dead_pod(void **state)
{
    (void)state;
    will_answer(200, 0, "1\n", 2, "");
    pod_fake_set_dead_pods(core.backend, 1);
    struct kcr_exec_request req = request("js", "console.log(1)");
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    assert_int_equal(orchestrator_exec(&core, &req, &res, &err), 0);
    assert_string_equal(res.stdout_text, "1\n");
    assert_string_equal(res.outcome, "completed");
    assert_int_equal(stats().creates, 2);
    assert_int_equal(fp.n_exec, 1);
    assert_true(res.stages.acquire_ms > 0);
    orchestrator_response_done(&res);
    core_fixture_wait_destroys(&core, 2);
    assert_int_equal(stats().live, 0);
}

/* With files to mount the dead pod fails at the first upload, before
 * /execute: the fresh pod gets every file once. */
static void test_retry_when_the_upload_fails(void **state)
{
    (void)state;
    struct kcr_session s;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta f = core_fixture_store(&core, &s, "in.txt", "input");
    struct kcr_file_ref ref = {.id = f.id, .session_id = s.id, .name = "in.txt"};
    pod_fake_set_dead_pods(core.backend, 1);
    struct kcr_exec_request req = request("js", "1");
    req.files = &ref;
    req.nfiles = 1;
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    int r = orchestrator_exec(&core, &req, &res, &err);
    if (r < 0)
        fail_msg("%s", err.msg);
    assert_string_equal(res.session_id, s.id);
    assert_int_equal(stats().creates, 2);
    assert_int_equal(pod.n_put, 1);
    assert_string_equal(pod.puts[0], "in.txt");
    assert_int_equal(fp.n_exec, 1);
    orchestrator_response_done(&res);
    core_fixture_wait_destroys(&core, 2);
}

/* One retry only: when the fresh pod is dead too, the request fails (503). */
static void test_retry_once_only(void **state)
{
    (void)state;
    pod_fake_set_dead_pods(core.backend, 3);
    struct kcr_exec_request req = request("js", "1");
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    assert_int_equal(orchestrator_exec(&core, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_int_equal(stats().creates, 2);
    assert_int_equal(fp.n_exec, 0);
    /* The session was chosen before the pods failed and is still named. */
    assert_true(id_is_valid(res.session_id));
    assert_null(res.stdout_text);
    orchestrator_response_done(&res);
    core_fixture_wait_destroys(&core, 2);
}

/* A failure once the program was sent is not retried: it may have run. */
static void test_no_retry_after_the_program_was_sent(void **state)
{
    (void)state;
    will_answer(500, 0, "", 0, "");
    struct kcr_exec_request req = request("js", "1");
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    assert_int_equal(orchestrator_exec(&core, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_UNAVAILABLE);
    assert_int_equal(stats().creates, 1);
    assert_int_equal(fp.n_exec, 1);
    orchestrator_response_done(&res);
    core_fixture_wait_destroys(&core, 1);
}

/*** (b) Python state ***/

static struct kcr_state_meta session_state(const char *sid, bool *ret_found)
{
    struct kcr_session s;
    struct kcr_state_meta sm = {0};
    assert_int_equal(session_get_owned(&core, &alice, sid, &s, NULL), 0);
    *ret_found = statestore_get_session(&core, &s, &sm, NULL) == 0;
    return sm;
}

static void test_state_kept_after_success_only(void **state)
{
    (void)state;
    static const char one[] = "\001state-one";
    static const char two[] = "\001state-two, longer";
    /* Run 1 saves a state: it is stored, and is no output. */
    will_answer(200, 0, "", 0, "");
    pod_table_will_write(&pod, PYSTATE_FILE, one, sizeof(one) - 1);
    struct kcr_exec_request req = request("py", "x = 1");
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_true(res.has_state);
    assert_int_equal(res.state_size, sizeof(one) - 1);
    assert_int_equal(res.nfiles, 0);
    /* The code went in wrapped (the wrapper restores and saves globals). */
    assert_non_null(fp.exec_body);
    assert_null(strstr(fp.exec_body, "\"code\":\"x = 1\""));
    char sid[KCR_ID_LEN + 1];
    memcpy(sid, res.session_id, sizeof(sid));
    bool found = false;
    struct kcr_state_meta first = session_state(sid, &found);
    assert_true(found);
    assert_int_equal(first.size, sizeof(one) - 1);
    assert_string_equal(first.hash, res.state_hash);
    orchestrator_response_done(&res);

    /* Run 2 fails: the state was mounted, the new one is not kept. */
    fresh_pod();
    will_answer(200, 1, "", 0, "Traceback: boom\n");
    pod_table_will_write(&pod, PYSTATE_FILE, two, sizeof(two) - 1);
    req.session_id = sid;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_string_equal(res.outcome, "failed");
    assert_false(res.has_state);
    assert_int_equal(pod.n_put, 1);
    assert_string_equal(pod.puts[0], PYSTATE_FILE);
    assert_int_equal(pod.n_get, 0);
    assert_int_equal(res.nfiles, 0);
    struct kcr_state_meta kept = session_state(sid, &found);
    assert_true(found);
    assert_string_equal(kept.hash, first.hash);
    orchestrator_response_done(&res);

    /* Run 3 succeeds: its state replaces the first. */
    fresh_pod();
    will_answer(200, 0, "", 0, "");
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_true(res.has_state);
    assert_int_equal(res.state_size, sizeof(two) - 1);
    struct kcr_state_meta now = session_state(sid, &found);
    assert_true(found);
    assert_string_not_equal(now.hash, first.hash);
    orchestrator_response_done(&res);
}

/* A state the run did not change (same size and time as mounted) is not
 * fetched again. */
static void test_state_unchanged_is_not_fetched(void **state)
{
    (void)state;
    static const char one[] = "\001state-one";
    pod_table_will_write(&pod, PYSTATE_FILE, one, sizeof(one) - 1);
    struct kcr_exec_request req = request("py", "x = 1");
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_true(res.has_state);
    char sid[KCR_ID_LEN + 1];
    memcpy(sid, res.session_id, sizeof(sid));
    orchestrator_response_done(&res);
    /* Run 2 writes nothing: the mounted state is listed as it was put. */
    fresh_pod();
    pod_table_no_writes(&pod);
    req.session_id = sid;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_false(res.has_state);
    assert_int_equal(pod.n_put, 1);
    assert_int_equal(pod.n_get, 0);
    orchestrator_response_done(&res);
}

/*** (c) Output truncation ***/

static void test_output_truncated_at_max_chars(void **state)
{
    (void)state;
    cfg.max_output_chars = 100;
    /* 250 two-byte characters: cut at 100 characters, not bytes. */
    char out[501];
    for (int i = 0; i < 250; i++)
        memcpy(out + 2 * i, "\xc3\xa9", 2);
    out[500] = '\0';
    will_answer(200, 0, out, 500, "short\n");
    struct kcr_exec_request req = request("js", "1");
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_memory_equal(res.stdout_text, out, 200);
    assert_string_equal(res.stdout_text + 200, OUTPUT_TRUNCATED_MARK "\n");
    assert_string_equal(res.stderr_text, "short\n");
    orchestrator_response_done(&res);

    /* Under the cap, a stream the sidecar cut itself: its own line is taken
     * off and the API's marker says so instead. */
    fresh_pod();
    char cut[128];
    int n = snprintf(cut, sizeof(cut), "%s\n[output truncated: limit of 1024 bytes reached]\n",
                     "bbbbbbbbbb");
    will_answer(200, 0, cut, (size_t)n, "");
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_string_equal(res.stdout_text, "bbbbbbbbbb" OUTPUT_TRUNCATED_MARK "\n");
    orchestrator_response_done(&res);
}

/* The sidecar's own timeout line is replaced by the API's, so that it
 * appears once (docs/api-contract.md rule 4); the program's text stays. */
static void test_timeout_line_once(void **state)
{
    (void)state;
    struct kcr_exec_request req = request("js", "1");
    struct kcr_exec_response res;
    static const char *const sidecar_err[] = {
        "partial\nExecution timed out after 30 seconds",
        "Execution timed out after 30 seconds",
        "no newline at the end\nExecution timed out after 30 seconds",
    };
    static const char *const want[] = {
        "partial\nExecution timed out after 30 seconds",
        "Execution timed out after 30 seconds",
        "no newline at the end\nExecution timed out after 30 seconds",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        fresh_pod();
        will_answer_run(200, 124, "", 0, sidecar_err[i], true);
        assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
        assert_string_equal(res.outcome, "timeout");
        assert_string_equal(res.stderr_text, want[i]);
        orchestrator_response_done(&res);
    }
    /* A program that prints the words itself, mid-stream, keeps them. */
    fresh_pod();
    will_answer_run(200, 124, "", 0, "Execution timed out after 30 seconds!\n", true);
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_string_equal(res.stderr_text,
                        "Execution timed out after 30 seconds!\nExecution timed out after 30 "
                        "seconds");
    orchestrator_response_done(&res);
}

/*** (d) Output files ***/

static void test_output_files(void **state)
{
    (void)state;
    cfg.max_file_size = 1000;
    cfg.max_output_files = 4;
    pod_table_will_write(&pod, "a.txt", "alpha", 5);
    pod_table_will_write(&pod, "big.bin", NULL, 1001);  /* over MAX_FILE_SIZE */
    pod_table_will_write(&pod, "edge.bin", NULL, 1000); /* at it */
    pod_table_will_write(&pod, "evil.sh", "#!/bin/sh", 9);
    pod_table_will_write(&pod, "RUN.EXE", "MZ", 2);
    pod_table_will_write(&pod, "plots/p.png", "png", 3);
    pod_table_will_write(&pod, "z1.txt", "z1", 2);
    pod_table_will_write(&pod, "z2.txt", "z2", 2); /* past MAX_OUTPUT_FILES */
    struct kcr_exec_request req = request("js", "1");
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    /* In name order, at most MAX_OUTPUT_FILES. */
    assert_int_equal(res.nfiles, 4);
    assert_string_equal(res.files[0].name, "a.txt");
    assert_string_equal(res.files[1].name, "edge.bin");
    assert_string_equal(res.files[2].name, "plots/p.png");
    assert_string_equal(res.files[3].name, "z1.txt");
    /* Only the results were fetched. */
    assert_int_equal(pod.n_get, 4);
    for (unsigned i = 0; i < pod.n_get; i++)
        assert_string_equal(pod.gets[i], res.files[i].name);
    /* Each is an output of the session with the pod's bytes. */
    assert_int_equal(session_files(res.session_id), 4);
    char *b = core_fixture_file_bytes(&core, &alice, res.session_id, res.files[0].id);
    assert_string_equal(b, "alpha");
    free(b);
    struct kcr_file_meta f;
    assert_int_equal(
        files_get_readable(&core, &alice, res.session_id, res.files[2].id, NULL, &f, NULL), 0);
    assert_int_equal(f.kind, KCR_FILE_OUTPUT);
    assert_string_equal(f.content_type, "image/png");
    orchestrator_response_done(&res);
}

/* Mounted files come back only when the run changed them. */
static void test_output_files_modified_uploads(void **state)
{
    (void)state;
    struct kcr_session s;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta keep = core_fixture_store(&core, &s, "keep.txt", "same");
    struct kcr_file_meta edit = core_fixture_store(&core, &s, "edit.csv", "a,b\n");
    struct kcr_file_ref refs[] = {{.id = keep.id, .session_id = s.id, .name = "keep.txt"},
                                  {.id = edit.id, .session_id = s.id, .name = "edit.csv"}};
    pod_table_will_write(&pod, "edit.csv", "a,b\n1,2\n", 8);
    struct kcr_exec_request req = request("js", "1");
    req.files = refs;
    req.nfiles = 2;
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_string_equal(res.session_id, s.id);
    assert_int_equal(pod.n_put, 2);
    assert_int_equal(pod.n_list, 1); /* before the run; after it, /execute's answer */
    assert_int_equal(res.nfiles, 1);
    assert_string_equal(res.files[0].name, "edit.csv");
    assert_string_not_equal(res.files[0].id, edit.id);
    char *b = core_fixture_file_bytes(&core, &alice, s.id, res.files[0].id);
    assert_string_equal(b, "a,b\n1,2\n");
    free(b);
    assert_int_equal(session_files(s.id), 3);
    orchestrator_response_done(&res);
}

/* The listing after the run comes with /execute's answer (list_files), so no
 * GET /files follows; an answer without one (a sidecar image older than the
 * field, or one that could not list) is followed by the GET, and the results
 * are the same every way. */
static void test_listing_in_the_answer(void **state)
{
    (void)state;
    const enum listing ways[] = {LISTING_SENT, LISTING_NONE, LISTING_ERROR};
    for (size_t i = 0; i < sizeof(ways) / sizeof(*ways); i++) {
        fresh_pod();
        answer_listing(ways[i]);
        pod_table_will_write(&pod, "out.txt", "made", 4);
        pod_table_will_write(&pod, "plots/p.png", "png", 3);
        struct kcr_exec_request req = request("js", "1");
        struct kcr_exec_response res;
        assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
        json_t *sent = json_loads(fp.exec_body, 0, NULL);
        assert_true(json_is_true(json_object_get(sent, "list_files")));
        json_decref(sent);
        assert_int_equal(pod.n_list, ways[i] == LISTING_SENT ? 0 : 1);
        assert_int_equal(res.nfiles, 2);
        assert_string_equal(res.files[0].name, "out.txt");
        assert_string_equal(res.files[1].name, "plots/p.png");
        assert_int_equal(pod.n_get, 2);
        /* The listing's time is list_after's, not execute's, either way. */
        assert_true(res.stages.list_after_ms > 0);
        assert_true(res.stages.execute_ms >= 0);
        orchestrator_response_done(&res);
    }
}

/*** (e) files[] references ***/

/* A file of another of the caller's sessions is copied into the chosen
 * one once, however many names it is mounted under. */
static void test_reference_copied_once(void **state)
{
    (void)state;
    struct kcr_session s1, s2;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s1, NULL), 0);
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s2, NULL), 0);
    struct kcr_file_meta f = core_fixture_store(&core, &s1, "data.csv", "x,y\n");
    struct kcr_file_ref refs[] = {{.id = f.id, .session_id = s1.id, .name = "data.csv"},
                                  {.id = f.id, .session_id = s1.id, .name = "copy.csv"},
                                  {.id = f.id, .session_id = s1.id, .name = "data.csv"}};
    struct kcr_exec_request req = request("js", "1");
    req.session_id = s2.id;
    req.files = refs;
    req.nfiles = 3;
    struct kcr_exec_response res;
    assert_int_equal(orchestrator_exec(&core, &req, &res, NULL), 0);
    assert_string_equal(res.session_id, s2.id);
    assert_int_equal(session_files(s2.id), 1);
    assert_int_equal(session_files(s1.id), 1);
    /* Each mount name once, the first reference winning. */
    assert_int_equal(pod.n_put, 2);
    assert_string_equal(pod.puts[0], "data.csv");
    assert_string_equal(pod.puts[1], "copy.csv");
    pthread_mutex_lock(&pod.mu);
    for (size_t i = 0; i < pod.nfiles; i++)
        if (strcmp(pod.files[i].name, "code.js"))
            assert_memory_equal(pod.files[i].data, "x,y\n", 4);
    pthread_mutex_unlock(&pod.mu);
    assert_int_equal(res.nfiles, 0);
    orchestrator_response_done(&res);
    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(files_list_readable(&core, &alice, s2.id, NULL, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "data.csv");
    assert_string_not_equal(v[0].id, f.id);
    free(v);
}

/* A missing reference fails the request (404 naming it) before anything is
 * copied or any pod is taken; another principal's file is just as missing. */
static void test_missing_reference_copies_nothing(void **state)
{
    (void)state;
    struct kcr_session s1, s2, theirs;
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s1, NULL), 0);
    assert_int_equal(session_create(&core, &alice, NULL, NULL, &s2, NULL), 0);
    assert_int_equal(session_create(&core, &bob, NULL, NULL, &theirs, NULL), 0);
    struct kcr_file_meta f = core_fixture_store(&core, &s1, "data.csv", "x,y\n");
    struct kcr_file_meta g = core_fixture_store(&core, &theirs, "secret.txt", "bob's");
    struct kcr_file_ref refs[] = {
        {.id = f.id, .session_id = s1.id, .name = "data.csv"},
        {.id = "Ghost0123456789abcdef", .session_id = s1.id, .name = "ghost.txt"},
        {.id = g.id, .session_id = theirs.id, .name = "secret.txt"}};
    struct kcr_exec_request req = request("js", "1");
    req.session_id = s2.id;
    req.files = refs;
    req.nfiles = 3;
    struct kcr_exec_response res;
    struct kcr_err err = {0};
    assert_int_equal(orchestrator_exec(&core, &req, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "2 file(s)"));
    assert_non_null(strstr(err.msg, "Ghost0123456789abcdef"));
    assert_int_equal(session_files(s2.id), 0);
    assert_int_equal(session_files(theirs.id), 1);
    assert_int_equal(stats().creates, 0);
    assert_int_equal(pod.n_put + pod.n_list + fp.n_exec + pod.n_get, 0);
    orchestrator_response_done(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_on_a_dead_pod, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_when_the_upload_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_once_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_retry_after_the_program_was_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_kept_after_success_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_unchanged_is_not_fetched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_truncated_at_max_chars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_line_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_files_modified_uploads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_in_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_copied_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_reference_copies_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
