/* meta-cases — the metadata store's contract (store/meta.h) as cmocka
 * cases, included by the test of every backend (test_store.c: sqlite,
 * test_meta_redis.c: redis), so that the backends provably agree. The
 * includer defines open_meta(): a new instance on the same store each call
 * (a reopen for sqlite, another replica for redis), on an empty store for
 * each case. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/meta.h"

static struct kcr_meta *open_meta(void);

static void test_sessions(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_session s = {.created_ms = 1000, .last_activity_ms = 1000, .expires_ms = 0};
    strcpy(s.id, "SessionA0123456789abc");
    strcpy(s.owner, "key:a");
    strcpy(s.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_session t = {.created_ms = 1000, .last_activity_ms = 2000, .expires_ms = 5000};
    strcpy(t.id, "SessionB0123456789abc");
    strcpy(t.owner, "key:a");
    strcpy(t.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &t, NULL), 0);
    /* Another owner's session of the same entity is never found for key:a. */
    struct kcr_session o = {.created_ms = 1000, .last_activity_ms = 9000, .expires_ms = 0};
    strcpy(o.id, "SessionC0123456789abc");
    strcpy(o.owner, "key:b");
    strcpy(o.entity_id, "agent_1");
    assert_int_equal(m->ops->session_create(m, &o, NULL), 0);
    /* Creating an existing id fails. */
    struct kcr_err err = {0};
    assert_int_equal(m->ops->session_create(m, &s, &err), -1);

    struct kcr_session got;
    assert_int_equal(m->ops->session_get(m, s.id, 3000, &got, NULL), 0);
    assert_string_equal(got.entity_id, "agent_1");
    assert_string_equal(got.owner, "key:a");
    /* Expired sessions are invisible. */
    assert_int_equal(m->ops->session_get(m, t.id, 6000, &got, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    char id[KCR_ID_LEN + 1];
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, t.id); /* most recently active */
    assert_int_equal(m->ops->session_touch(m, s.id, 4000, NULL), 0);
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, s.id);
    assert_int_equal(m->ops->session_by_entity(m, "key:b", "agent_1", 3000, id, NULL), 0);
    assert_string_equal(id, o.id);
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "nobody", 3000, id, &err), -1);
    assert_int_equal(m->ops->session_by_entity(m, "key:c", "agent_1", 3000, id, &err), -1);

    char ids[4][KCR_ID_LEN + 1];
    size_t n = 0;
    assert_int_equal(m->ops->sessions_expired(m, 6000, ids, 4, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], t.id);
    assert_int_equal(m->ops->session_delete(m, t.id, NULL), 0);
    assert_int_equal(m->ops->sessions_expired(m, 6000, ids, 4, &n, NULL), 0);
    assert_int_equal(n, 0);
    meta_free(m);
}

static void test_files_and_reopen(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_file_meta f = {.size = 3, .created_ms = 10, .kind = KCR_FILE_UPLOAD};
    strcpy(f.id, "FileA0123456789abcdef");
    strcpy(f.session_id, "SessionA0123456789abc");
    strcpy(f.owner, "jwt:t:u");
    strcpy(f.name, "data.csv");
    strcpy(f.content_type, "text/csv");
    strcpy(f.res.kind, "agent");
    strcpy(f.res.id, "agent_x");
    strcpy(f.res.version, "3");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    memset(&f.res, 0, sizeof(f.res));
    f.created_ms = 20;
    f.kind = KCR_FILE_OUTPUT;
    strcpy(f.id, "FileB0123456789abcdef");
    strcpy(f.name, "sub/plot.png");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    meta_free(m);

    /* Everything is still there after a reopen. */
    m = open_meta();
    struct kcr_file_meta g;
    assert_int_equal(
        m->ops->file_get(m, "SessionA0123456789abc", "FileA0123456789abcdef", &g, NULL), 0);
    assert_string_equal(g.name, "data.csv");
    assert_int_equal(g.kind, KCR_FILE_UPLOAD);
    assert_string_equal(g.owner, "jwt:t:u");
    assert_string_equal(g.res.kind, "agent");
    assert_string_equal(g.res.id, "agent_x");
    assert_string_equal(g.res.version, "3");
    assert_int_equal(m->ops->file_find_name(m, "SessionA0123456789abc", "sub/plot.png", &g, NULL),
                     0);
    assert_string_equal(g.id, "FileB0123456789abcdef");
    assert_int_equal(g.kind, KCR_FILE_OUTPUT);
    assert_string_equal(g.res.kind, "");
    struct kcr_err err = {0};
    assert_int_equal(
        m->ops->file_get(m, "OtherSession123456789", "FileA0123456789abcdef", &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->file_list(m, "SessionA0123456789abc", &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "data.csv"); /* oldest first */
    free(v);
    assert_int_equal(m->ops->file_delete(m, "SessionA0123456789abc", "FileA0123456789abcdef", NULL),
                     0);
    assert_int_equal(m->ops->file_delete(m, "SessionA0123456789abc", "FileA0123456789abcdef", &err),
                     -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    meta_free(m);
}

static void test_state_and_keys(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_state_meta s = {.size = 9, .created_ms = 1, .expires_ms = 0};
    strcpy(s.owner, "key:a");
    strcpy(s.session_id, "any-session-name");
    strcpy(s.hash, "abc");
    assert_int_equal(m->ops->state_put(m, &s, NULL), 0);
    /* The same id for another owner is another state. */
    strcpy(s.owner, "key:b");
    s.size = 4;
    assert_int_equal(m->ops->state_put(m, &s, NULL), 0);
    struct kcr_state_meta g;
    assert_int_equal(m->ops->state_get(m, "key:a", "any-session-name", 100, &g, NULL), 0);
    assert_int_equal(g.size, 9);
    assert_string_equal(g.owner, "key:a");
    assert_int_equal(m->ops->state_delete(m, "key:a", "any-session-name", NULL), 0);
    struct kcr_err err = {0};
    assert_int_equal(m->ops->state_get(m, "key:a", "any-session-name", 100, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->state_get(m, "key:b", "any-session-name", 100, &g, NULL), 0);
    assert_int_equal(g.size, 4);

    struct kcr_key_meta got;
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_key_meta k = {.hash = "deadbeef",
                             .prefix = "sk-dead",
                             .name = "ci",
                             .enabled = true,
                             .created_ms = 5,
                             .limits = {-1, 7, -1}};
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, NULL), 0);
    assert_true(got.enabled);
    assert_int_equal(got.limits.exec, -1);
    assert_int_equal(got.limits.upload, 7);
    assert_int_equal(m->ops->key_set_enabled(m, "deadbeef", false, NULL), 0);
    struct kcr_rate_limits l = {5, 0, 9};
    assert_int_equal(m->ops->key_set_limits(m, "deadbeef", &l, NULL), 0);
    assert_int_equal(m->ops->key_get(m, "deadbeef", &got, NULL), 0);
    assert_false(got.enabled);
    assert_int_equal(got.limits.exec, 5);
    assert_int_equal(got.limits.upload, 0);
    assert_int_equal(got.limits.download, 9);
    assert_int_equal(m->ops->key_set_limits(m, "nokey", &l, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->key_list(m, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "ci");
    assert_string_equal(v[0].prefix, "sk-dead");
    free(v);
    assert_int_equal(m->ops->key_delete(m, "deadbeef", NULL), 0);
    assert_int_equal(m->ops->key_delete(m, "deadbeef", &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->ping(m, NULL), 0);
    meta_free(m);
}

struct hitter {
    struct kcr_meta *m;
    int64_t max;
    int errors;
};

/* cmocka's asserts must stay on the main thread: count failures instead. */
static void *hit_many(void *arg)
{
    struct hitter *h = arg;
    for (int i = 0; i < 200; i++) {
        int64_t n = 0;
        if (h->m->ops->rate_hit(h->m, "exec|key:a", 60000, 180000, &n, NULL) < 0)
            h->errors++;
        if (n > h->max)
            h->max = n;
    }
    return NULL;
}

/* Each hit gets its own count, also from threads racing; windows and keys
 * count apart; the counts survive a reopen (a second replica sees them). */
static void test_rate_counters(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct hitter h[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hitter){.m = m};
        assert_int_equal(pthread_create(&t[i], NULL, hit_many, &h[i]), 0);
    }
    int64_t max = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].errors, 0);
        max = h[i].max > max ? h[i].max : max;
    }
    assert_int_equal(max, 800);
    int64_t n = 0;
    assert_int_equal(m->ops->rate_hit(m, "exec|key:b", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:a", 120000, 240000, &n, NULL), 0);
    assert_int_equal(n, 1);
    meta_free(m);
    m = open_meta();
    assert_int_equal(m->ops->rate_hit(m, "exec|key:a", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 801);
    meta_free(m);
}

/* A hit taken back is not counted; never below zero; other windows and
 * keys are untouched; a counter that never existed is not created. */
static void test_rate_undo(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    int64_t n = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(m->ops->rate_hit(m, "exec|key:u", 60000, 180000, &n, NULL), 0);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:u", 120000, 240000, &n, NULL), 0);
    assert_int_equal(m->ops->rate_undo(m, "exec|key:u", 60000, NULL), 0);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:u", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 3); /* 3 - 1 + 1 */
    for (int i = 0; i < 5; i++)
        assert_int_equal(m->ops->rate_undo(m, "exec|key:u", 60000, NULL), 0);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:u", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:u", 120000, 240000, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(m->ops->rate_undo(m, "exec|key:none", 60000, NULL), 0);
    assert_int_equal(m->ops->rate_hit(m, "exec|key:none", 60000, 180000, &n, NULL), 0);
    assert_int_equal(n, 1);
    meta_free(m);
}

static struct kcr_session mk_session(const char *id, const char *owner, const char *entity,
                                     int64_t created, int64_t expires)
{
    struct kcr_session s = {
        .created_ms = created, .last_activity_ms = created, .expires_ms = expires};
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.owner, sizeof(s.owner), "%s", owner);
    snprintf(s.entity_id, sizeof(s.entity_id), "%s", entity);
    return s;
}

static struct kcr_file_meta mk_file(const char *sid, const char *fid, const char *name,
                                    uint64_t size, int64_t created)
{
    struct kcr_file_meta f = {.size = size, .created_ms = created, .kind = KCR_FILE_UPLOAD};
    snprintf(f.session_id, sizeof(f.session_id), "%s", sid);
    snprintf(f.id, sizeof(f.id), "%s", fid);
    snprintf(f.owner, sizeof(f.owner), "key:a");
    snprintf(f.name, sizeof(f.name), "%s", name);
    snprintf(f.content_type, sizeof(f.content_type), "text/plain");
    return f;
}

static struct kcr_state_meta mk_state(const char *owner, const char *sid, uint64_t size,
                                      int64_t expires)
{
    struct kcr_state_meta s = {.size = size, .created_ms = 1, .expires_ms = expires};
    snprintf(s.owner, sizeof(s.owner), "%s", owner);
    snprintf(s.session_id, sizeof(s.session_id), "%s", sid);
    snprintf(s.hash, sizeof(s.hash), "h-%s", sid);
    return s;
}

/* Deleting a session takes its files and the states of its id (every
 * owner's) with it, and nothing of another session. */
static void test_session_delete_cascades(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_session s = mk_session("SessionD0123456789abc", "key:a", "e", 10, 0);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_file_meta f = mk_file(s.id, "FileA0123456789abcdef", "a.txt", 3, 10);
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    struct kcr_file_meta other =
        mk_file("SessionE0123456789abc", "FileB0123456789abcdef", "b", 4, 1);
    assert_int_equal(m->ops->file_put(m, &other, NULL), 0);
    struct kcr_state_meta st = mk_state("key:a", s.id, 5, 0);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    st = mk_state("key:b", s.id, 6, 0);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    assert_int_equal(m->ops->session_delete(m, s.id, NULL), 0);
    /* Deleting what is not there is not an error. */
    assert_int_equal(m->ops->session_delete(m, s.id, NULL), 0);

    struct kcr_err err = {0};
    struct kcr_session gs;
    assert_int_equal(m->ops->session_get(m, s.id, 20, &gs, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    char id[KCR_ID_LEN + 1];
    assert_int_equal(m->ops->session_by_entity(m, "key:a", "e", 20, id, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_file_meta g;
    assert_int_equal(m->ops->file_get(m, s.id, f.id, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_file_meta *v = NULL;
    size_t n = 9;
    assert_int_equal(m->ops->file_list(m, s.id, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(v);
    struct kcr_state_meta gst;
    assert_int_equal(m->ops->state_get(m, "key:b", s.id, 20, &gst, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->file_get(m, other.session_id, other.id, &g, NULL), 0);
    struct kcr_store_summary sum;
    assert_int_equal(m->ops->summary(m, 20, &sum, NULL), 0);
    assert_int_equal(sum.sessions, 0);
    assert_int_equal(sum.files, 1);
    assert_int_equal(sum.file_bytes, 4);
    assert_int_equal(sum.states, 0);
    assert_int_equal(sum.state_bytes, 0);
    meta_free(m);
}

/* A file put again under its id replaces the record (and its bytes in the
 * totals); the newest of a name wins; listing is by creation. */
static void test_file_replace_and_order(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    const char *sid = "SessionF0123456789abc";
    struct kcr_file_meta f = mk_file(sid, "File30123456789abcdef", "same", 10, 30);
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    f = mk_file(sid, "File10123456789abcdef", "same", 20, 10);
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    f = mk_file(sid, "File20123456789abcdef", "other", 30, 20);
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    f.size = 7;
    snprintf(f.content_type, sizeof(f.content_type), "image/png");
    assert_int_equal(m->ops->file_put(m, &f, NULL), 0);
    struct kcr_file_meta g;
    assert_int_equal(m->ops->file_find_name(m, sid, "same", &g, NULL), 0);
    assert_string_equal(g.id, "File30123456789abcdef");
    assert_int_equal(m->ops->file_get(m, sid, "File20123456789abcdef", &g, NULL), 0);
    assert_int_equal(g.size, 7);
    assert_string_equal(g.content_type, "image/png");
    struct kcr_err err = {0};
    assert_int_equal(m->ops->file_find_name(m, sid, "none", &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->file_list(m, sid, &v, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].id, "File10123456789abcdef");
    assert_string_equal(v[1].id, "File20123456789abcdef");
    assert_string_equal(v[2].id, "File30123456789abcdef");
    assert_string_equal(v[2].session_id, sid);
    free(v);
    struct kcr_store_summary sum;
    assert_int_equal(m->ops->summary(m, 0, &sum, NULL), 0);
    assert_int_equal(sum.files, 3);
    assert_int_equal(sum.file_bytes, 37);
    meta_free(m);
}

/* Expired states are listed for the sweeper (up to max), live ones not;
 * replacing a state replaces its expiry; the summary counts every state and
 * the live sessions with the oldest one's creation. */
static void test_expiry_and_summary(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_state_meta st = mk_state("key:a", "s1", 100, 50);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    st = mk_state("key:b", "s2", 200, 60);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    st = mk_state("key:a", "s3", 300, 0);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    st = mk_state("key:a", "s4", 400, 5000);
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    st = mk_state("key:a", "s4", 40, 70); /* replaced: expires sooner */
    assert_int_equal(m->ops->state_put(m, &st, NULL), 0);
    struct kcr_state_meta v[4];
    size_t n = 0;
    assert_int_equal(m->ops->states_expired(m, 40, v, 4, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_int_equal(m->ops->states_expired(m, 60, v, 4, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_int_equal(m->ops->states_expired(m, 100, v, 1, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(m->ops->states_expired(m, 100, v, 4, &n, NULL), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_true(v[i].expires_ms != 0 && v[i].expires_ms <= 100);
        if (strcmp(v[i].session_id, "s2") == 0) {
            assert_string_equal(v[i].owner, "key:b");
            assert_int_equal(v[i].size, 200);
            assert_string_equal(v[i].hash, "h-s2");
        }
    }
    struct kcr_state_meta g;
    struct kcr_err err = {0};
    assert_int_equal(m->ops->state_get(m, "key:a", "s1", 50, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->state_get(m, "key:a", "s1", 49, &g, NULL), 0);
    assert_int_equal(g.expires_ms, 50);
    assert_int_equal(m->ops->state_delete(m, "key:a", "s1", NULL), 0);
    assert_int_equal(m->ops->state_delete(m, "key:a", "s1", NULL), 0);

    struct kcr_session s = mk_session("SessionX0123456789abc", "key:a", "", 5, 100);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    s = mk_session("SessionY0123456789abc", "key:a", "", 7, 0);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    s = mk_session("SessionZ0123456789abc", "key:a", "", 9, 300);
    assert_int_equal(m->ops->session_create(m, &s, NULL), 0);
    struct kcr_store_summary sum;
    assert_int_equal(m->ops->summary(m, 50, &sum, NULL), 0);
    assert_int_equal(sum.sessions, 3);
    assert_int_equal(sum.oldest_ms, 5);
    assert_int_equal(sum.states, 3);
    assert_int_equal(sum.state_bytes, 540);
    assert_int_equal(m->ops->summary(m, 100, &sum, NULL), 0);
    assert_int_equal(sum.sessions, 2);
    assert_int_equal(sum.oldest_ms, 7);
    /* A touch does not extend an expiry; a touch of nothing is no error. */
    assert_int_equal(m->ops->session_touch(m, "SessionX0123456789abc", 90, NULL), 0);
    assert_int_equal(m->ops->session_touch(m, "NoSuchSession", 90, NULL), 0);
    char ids[4][KCR_ID_LEN + 1];
    assert_int_equal(m->ops->sessions_expired(m, 100, ids, 4, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "SessionX0123456789abc");
    meta_free(m);
}

/* key_add of an existing hash replaces it (it then lists last, as new);
 * key_list is by creation. */
static void test_key_replace_and_order(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    struct kcr_key_meta k = {.hash = "bb",
                             .prefix = "sk-b",
                             .name = "b",
                             .enabled = true,
                             .created_ms = 20,
                             .limits = {-1, -1, -1}};
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    k = (struct kcr_key_meta){.hash = "aa",
                              .prefix = "sk-a",
                              .name = "a",
                              .enabled = false,
                              .created_ms = 10,
                              .limits = {1, 2, 3}};
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    k.enabled = true;
    snprintf(k.name, sizeof(k.name), "a2");
    assert_int_equal(m->ops->key_add(m, &k, NULL), 0);
    struct kcr_key_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(m->ops->key_list(m, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].hash, "aa");
    assert_string_equal(v[0].name, "a2");
    assert_true(v[0].enabled);
    assert_int_equal(v[0].limits.download, 3);
    assert_string_equal(v[1].hash, "bb");
    free(v);
    struct kcr_err err = {0};
    assert_int_equal(m->ops->key_set_enabled(m, "cc", true, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    meta_free(m);
}

static struct kcr_cont_meta mk_cont(const char *key, const char *owner, const char *replica,
                                    int64_t created, int64_t expires)
{
    struct kcr_cont_meta c = {.created_ms = created, .expires_ms = expires};
    snprintf(c.key, sizeof(c.key), "%s", key);
    snprintf(c.owner, sizeof(c.owner), "%s", owner);
    snprintf(c.replica, sizeof(c.replica), "%s", replica);
    return c;
}

/* Continuation records: put, get (only until their expiry), replace, and a
 * delete that spares a record naming another replica; another instance (a
 * reopen, another replica) sees them. */
static void test_continuations(void **state)
{
    (void)state;
    struct kcr_meta *m = open_meta();
    char k1[65], k2[65];
    memset(k1, 'a', 64);
    memset(k2, 'b', 64);
    k1[64] = k2[64] = '\0';
    struct kcr_cont_meta c = mk_cont(k1, "key:a", "http://10.0.0.5:8000", 1000, 61000);
    assert_int_equal(m->ops->cont_put(m, &c, NULL), 0);
    c = mk_cont(k2, "jwt:legacy:u1", "http://10.0.0.6:8000", 1000, 61000);
    assert_int_equal(m->ops->cont_put(m, &c, NULL), 0);

    struct kcr_cont_meta g;
    struct kcr_err err = {0};
    assert_int_equal(m->ops->cont_get(m, k1, 2000, &g, NULL), 0);
    assert_string_equal(g.key, k1);
    assert_string_equal(g.owner, "key:a");
    assert_string_equal(g.replica, "http://10.0.0.5:8000");
    assert_int_equal(g.created_ms, 1000);
    assert_int_equal(g.expires_ms, 61000);
    /* Expired: gone, though the store may still hold it. */
    assert_int_equal(m->ops->cont_get(m, k1, 61000, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->cont_get(m, "nope", 2000, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);

    /* Another instance sees it; a put replaces it (another replica, owner). */
    meta_free(m);
    m = open_meta();
    assert_int_equal(m->ops->cont_get(m, k2, 2000, &g, NULL), 0);
    assert_string_equal(g.owner, "jwt:legacy:u1");
    c = mk_cont(k1, "key:b", "https://r2.example:8443", 3000, 63000);
    assert_int_equal(m->ops->cont_put(m, &c, NULL), 0);
    assert_int_equal(m->ops->cont_get(m, k1, 62000, &g, NULL), 0);
    assert_string_equal(g.owner, "key:b");
    assert_string_equal(g.replica, "https://r2.example:8443");

    /* A delete for another replica spares it; for its own, or any, removes. */
    assert_int_equal(m->ops->cont_delete(m, k1, "http://10.0.0.5:8000", NULL), 0);
    assert_int_equal(m->ops->cont_get(m, k1, 4000, &g, NULL), 0);
    assert_int_equal(m->ops->cont_delete(m, k1, "https://r2.example:8443", NULL), 0);
    assert_int_equal(m->ops->cont_get(m, k1, 4000, &g, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(m->ops->cont_delete(m, k2, NULL, NULL), 0);
    assert_int_equal(m->ops->cont_get(m, k2, 4000, &g, &err), -1);
    assert_int_equal(m->ops->cont_delete(m, k2, NULL, NULL), 0); /* none: no error */
    meta_free(m);
}

#define META_CASES(setup, teardown)                                                                \
    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),                               \
        cmocka_unit_test_setup_teardown(test_files_and_reopen, setup, teardown),                   \
        cmocka_unit_test_setup_teardown(test_state_and_keys, setup, teardown),                     \
        cmocka_unit_test_setup_teardown(test_rate_counters, setup, teardown),                      \
        cmocka_unit_test_setup_teardown(test_rate_undo, setup, teardown),                          \
        cmocka_unit_test_setup_teardown(test_session_delete_cascades, setup, teardown),            \
        cmocka_unit_test_setup_teardown(test_file_replace_and_order, setup, teardown),             \
        cmocka_unit_test_setup_teardown(test_expiry_and_summary, setup, teardown),                 \
        cmocka_unit_test_setup_teardown(test_key_replace_and_order, setup, teardown),              \
        cmocka_unit_test_setup_teardown(test_continuations, setup, teardown)
