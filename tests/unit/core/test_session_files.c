/* Unit tests for core/session.c, core/files.c and core/statestore.c on the
 * real embedded stores in a temporary directory: the session choice order,
 * TTL expiry and the reaper's cleanup, file storage (bytes before records),
 * resolution by id, by name and across sessions (copy), deletion, MIME types;
 * and who may touch what (principals, unowned data, agent files shared within
 * a tenant, states per owner). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/time.h"
#include "core/core.h"
#include "core/files.h"
#include "core/session.h"
#include "core/statestore.h"
#include "fakes/tmpdir.h"
#include "store/blob-fs.h"
#include "store/meta-sqlite.h"

static char dir[TMPDIR_SIZE];
static struct kcr_serve_config cfg;
static struct kcr_core core;

static int setup(void **state)
{
    (void)state;
    tmpdir_new(dir, "core");
    memset(&cfg, 0, sizeof(cfg));
    cfg.cleanup_interval_s = 600;
    core = (struct kcr_core){.cfg = &cfg};
    assert_int_equal(core_open_stores(&core, dir, NULL), 0);
    assert_non_null(core.meta);
    assert_non_null(core.blob);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    core.meta = meta_free(core.meta);
    core.blob = blob_free(core.blob);
    tmpdir_remove(dir);
    return 0;
}

static int data_fd(const char *s)
{
    int fd = core.blob->ops->tmpfile(core.blob, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    return fd;
}

static struct kcr_principal key_a, key_b, user_a, user_b, other_tenant_a;

static int setup_principals(void **state)
{
    principal_key(&key_a, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
    principal_key(&key_b, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL);
    principal_jwt(&user_a, "acme", "alice");
    principal_jwt(&user_b, "acme", "bob");
    principal_jwt(&other_tenant_a, "globex", "alice");
    return setup(state);
}

/* Stores data as a file of session s named name for resource res (may be NULL). */
static struct kcr_file_meta store(const struct kcr_session *s, const char *name, const char *data,
                                  const struct kcr_resource *res)
{
    struct kcr_file_meta want = {.kind = KCR_FILE_UPLOAD}, f;
    strcpy(want.session_id, s->id);
    strcpy(want.owner, s->owner);
    strcpy(want.name, name);
    if (res)
        want.res = *res;
    int fd = data_fd(data);
    assert_int_equal(files_store(&core, &want, fd, strlen(data), &f, NULL), 0);
    close(fd);
    return f;
}

static void test_choice_order(void **state)
{
    (void)state;
    struct kcr_session a, b, e, got;
    assert_int_equal(session_create(&core, &key_a, NULL, "u", &a, NULL), 0);
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &b, NULL), 0);
    assert_int_equal(session_create(&core, &key_a, "agent_x", NULL, &e, NULL), 0);
    assert_true(id_is_valid(a.id));
    assert_string_equal(a.owner, key_a.id);
    const char *fs[] = {"NoSuchSession12345678", b.id};
    /* session_id first ... */
    assert_int_equal(session_choose(&core, &key_a, a.id, fs, 2, "agent_x", NULL, &got, NULL), 0);
    assert_string_equal(got.id, a.id);
    /* ... then the first existing files[].session_id ... */
    assert_int_equal(
        session_choose(&core, &key_a, "NoSuchSession12345678", fs, 2, "agent_x", NULL, &got, NULL),
        0);
    assert_string_equal(got.id, b.id);
    /* ... then the entity's session ... */
    assert_int_equal(session_choose(&core, &key_a, NULL, fs, 1, "agent_x", NULL, &got, NULL), 0);
    assert_string_equal(got.id, e.id);
    /* ... else a new one, remembered for its entity. */
    assert_int_equal(session_choose(&core, &key_a, NULL, NULL, 0, "agent_y", NULL, &got, NULL), 0);
    assert_true(id_is_valid(got.id) && strcmp(got.id, a.id) && strcmp(got.id, b.id) &&
                strcmp(got.id, e.id));
    struct kcr_session again;
    assert_int_equal(session_choose(&core, &key_a, NULL, NULL, 0, "agent_y", NULL, &again, NULL),
                     0);
    assert_string_equal(again.id, got.id);
}

/* Another principal's session ids, files[] sessions and entity are passed
 * over as if they did not exist: B always lands in a session of its own. */
static void test_choice_never_crosses_principals(void **state)
{
    (void)state;
    struct kcr_session a, got;
    assert_int_equal(session_create(&core, &key_a, "agent_x", NULL, &a, NULL), 0);
    const char *fs[] = {a.id};
    const struct kcr_principal *others[] = {&key_b, &user_a, &user_b};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(session_choose(&core, others[i], a.id, fs, 1, "agent_x", NULL, &got, NULL),
                         0);
        assert_string_not_equal(got.id, a.id);
        assert_string_equal(got.owner, others[i]->id);
        struct kcr_err err = {0};
        assert_int_equal(session_get_owned(&core, others[i], a.id, &got, &err), -1);
        assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    }
    /* The same sub in another tenant is another principal. */
    struct kcr_session u;
    assert_int_equal(session_create(&core, &user_a, NULL, NULL, &u, NULL), 0);
    assert_int_equal(session_get_owned(&core, &other_tenant_a, u.id, &got, NULL), -1);
    assert_int_equal(session_get_owned(&core, &user_a, u.id, &got, NULL), 0);
}

/* Data from before owners existed is every API key's, and no JWT user's. */
static void test_unowned_is_for_keys_only(void **state)
{
    (void)state;
    struct kcr_session old = {.created_ms = 1, .last_activity_ms = 1};
    id_new(old.id);
    strcpy(old.owner, KCR_OWNER_UNOWNED);
    strcpy(old.entity_id, "agent_old");
    assert_int_equal(core.meta->ops->session_create(core.meta, &old, NULL), 0);
    struct kcr_file_meta f = store(&old, "old.txt", "old", NULL);
    struct kcr_session got;
    assert_int_equal(session_get_owned(&core, &key_a, old.id, &got, NULL), 0);
    assert_int_equal(session_get_owned(&core, &key_b, old.id, &got, NULL), 0);
    assert_int_equal(session_get_owned(&core, &user_a, old.id, &got, NULL), -1);
    assert_int_equal(session_choose(&core, &key_b, NULL, NULL, 0, "agent_old", NULL, &got, NULL),
                     0);
    assert_string_equal(got.id, old.id);
    assert_int_equal(session_choose(&core, &user_a, NULL, NULL, 0, "agent_old", NULL, &got, NULL),
                     0);
    assert_string_not_equal(got.id, old.id);
    struct kcr_file_meta g;
    assert_int_equal(files_get_readable(&core, &key_b, old.id, f.id, NULL, &g, NULL), 0);
    assert_int_equal(files_get_readable(&core, &user_a, old.id, f.id, NULL, &g, NULL), -1);
}

static void test_ttl_and_reap(void **state)
{
    (void)state;
    cfg.session_ttl_hours = 1;
    struct kcr_session s, got;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta f = store(&s, "a.txt", "bytes", NULL);
    assert_int_equal(session_get_owned(&core, &key_a, s.id, &got, NULL), 0);
    /* Nothing expires early. */
    assert_int_equal(session_reap(&core, time_wall_ms()), 0);
    assert_int_equal(session_get_owned(&core, &key_a, s.id, &got, NULL), 0);
    /* Two hours later the session, its records and its bytes are gone. */
    assert_int_equal(session_reap(&core, time_wall_ms() + 2 * 3600 * 1000), 1);
    struct kcr_file_meta g;
    assert_int_equal(core.meta->ops->file_get(core.meta, s.id, f.id, &g, NULL), -1);
    uint64_t size;
    assert_int_equal(files_open(&core, &f, &size, NULL), -1);
    cfg.session_ttl_hours = 0;
}

/* The dashboard's summary: live sessions and the oldest, every file and
 * state with their bytes. */
static void test_summary(void **state)
{
    (void)state;
    struct kcr_store_summary sum;
    assert_int_equal(session_summary(&core, &sum, NULL), 0);
    assert_int_equal(sum.sessions, 0);
    assert_int_equal(sum.oldest_ms, 0);
    assert_int_equal(sum.files + sum.file_bytes + sum.states + sum.state_bytes, 0);
    /* An expired session is not counted, nor is its creation the oldest. */
    struct kcr_session gone = {.created_ms = 5, .last_activity_ms = 5, .expires_ms = 6};
    id_new(gone.id);
    strcpy(gone.owner, key_a.id);
    assert_int_equal(core.meta->ops->session_create(core.meta, &gone, NULL), 0);
    struct kcr_session a, b;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &a, NULL), 0);
    assert_int_equal(session_create(&core, &key_b, NULL, NULL, &b, NULL), 0);
    store(&a, "a.txt", "12345", NULL);
    store(&b, "b.txt", "123", NULL);
    assert_int_equal(statestore_save(&core, &key_a, a.id,
                                     "\x01"
                                     "state!",
                                     7, NULL, NULL),
                     0);
    assert_int_equal(session_summary(&core, &sum, NULL), 0);
    assert_int_equal(sum.sessions, 2);
    assert_int_equal(sum.oldest_ms, a.created_ms);
    assert_int_equal(sum.files, 2);
    assert_int_equal(sum.file_bytes, 8);
    assert_int_equal(sum.states, 1);
    assert_int_equal(sum.state_bytes, 7);
}

/* STATE_TTL_SECONDS: an expired state of a live session is removed (record
 * and bytes) while the session and its files stay. */
static void test_state_ttl_and_reap(void **state)
{
    (void)state;
    cfg.state_ttl_s = 60;
    struct kcr_session s, got;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &s, NULL), 0);
    struct kcr_file_meta f = store(&s, "a.txt", "bytes", NULL);
    struct kcr_state_meta st;
    assert_int_equal(statestore_save(&core, &key_a, s.id, "\001S", 2, &st, NULL), 0);
    assert_int_equal(statestore_reap(&core, time_wall_ms()), 0);
    assert_int_equal(statestore_get_session(&core, &s, &st, NULL), 0);
    uint64_t size = 0;
    int fd = statestore_open(&core, &st, &size, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(statestore_reap(&core, time_wall_ms() + 120 * 1000), 1);
    assert_int_equal(statestore_get_session(&core, &s, &st, NULL), -1);
    assert_true(statestore_open(&core, &st, &size, NULL) < 0);
    assert_int_equal(session_get_owned(&core, &key_a, s.id, &got, NULL), 0);
    fd = files_open(&core, &f, &size, NULL);
    assert_true(fd >= 0);
    close(fd);
    cfg.state_ttl_s = 0;
}

static void test_reaper_starts_and_stops(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    /* No TTL: no thread. */
    assert_null(session_reaper_start(&core, &err));
    assert_int_equal(err.kind, KCR_ERR_NONE);
    /* With a TTL the thread runs and stops at once when asked (no interval wait). */
    cfg.session_ttl_hours = 1;
    struct kcr_session_reaper *r = session_reaper_start(&core, &err);
    assert_non_null(r);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_null(session_reaper_stop(r));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    cfg.session_ttl_hours = 0;
}

/* A blob whose record was never written (a crash between the two) is
 * swept once old enough; recorded files and states stay. */
static void test_orphan_sweep(void **state)
{
    (void)state;
    struct kcr_session s1;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &s1, NULL), 0);
    struct kcr_file_meta f = store(&s1, "kept.txt", "kept", NULL);
    char orphan[64], other[64], st[64];
    snprintf(orphan, sizeof(orphan), "%s/Orphan0123456789abcd", s1.id);
    snprintf(other, sizeof(other), "NoSuchSession01234567/Orphan0123456789abce");
    snprintf(st, sizeof(st), "%s/st_0123456789abcdef0123456789abcdef", s1.id);
    struct kcr_blob *b = core.blob;
    assert_int_equal(b->ops->put(b, orphan, "o", 1, NULL), 0);
    assert_int_equal(b->ops->put(b, other, "o", 1, NULL), 0);
    assert_int_equal(b->ops->put(b, st, "s", 1, NULL), 0);
    /* Too young: nothing goes. */
    assert_int_equal(files_sweep_orphans(&core, time_wall_ms() - 60000), 0);
    assert_int_equal(files_sweep_orphans(&core, time_wall_ms() + 60000), 2);
    struct kcr_err err = {0};
    assert_int_equal(b->ops->open(b, orphan, NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(b->ops->open(b, other, NULL, &err), -1);
    uint64_t size = 0;
    int fd = files_open(&core, &f, &size, NULL);
    assert_true(fd >= 0);
    assert_int_equal(size, 4);
    close(fd);
    fd = b->ops->open(b, st, NULL, NULL);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(files_sweep_orphans(&core, time_wall_ms() + 60000), 0);
}

static void test_store_resolve_copy_delete(void **state)
{
    (void)state;
    struct kcr_session s1, s2;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &s1, NULL), 0);
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &s2, NULL), 0);
    struct kcr_file_meta f = store(&s1, "data.csv", "a,b\n", NULL);
    assert_string_equal(f.content_type, "text/csv");

    struct kcr_file_meta r;
    struct kcr_file_ref by_id = {.id = f.id, .session_id = s1.id, .name = "whatever"};
    assert_int_equal(files_resolve(&core, &key_a, &s1, &by_id, &r, NULL), 0);
    assert_string_equal(r.id, f.id);
    struct kcr_file_ref by_name = {
        .id = "Unknown0123456789abcd", .session_id = s1.id, .name = "data.csv"};
    assert_int_equal(files_resolve(&core, &key_a, &s1, &by_name, &r, NULL), 0);
    assert_string_equal(r.id, f.id);
    /* LibreChat's original name resolves to the sanitised stored one. */
    struct kcr_file_meta sp = store(&s1, "my_data.csv", "x", NULL);
    struct kcr_file_ref raw = {.session_id = s1.id, .name = "my data.csv"};
    assert_int_equal(files_resolve(&core, &key_a, &s1, &raw, &r, NULL), 0);
    assert_string_equal(r.id, sp.id);

    /* From another session: a copy with a new id in the chosen session. */
    assert_int_equal(files_resolve(&core, &key_a, &s2, &by_id, &r, NULL), 0);
    assert_string_equal(r.session_id, s2.id);
    assert_string_not_equal(r.id, f.id);
    uint64_t size = 0;
    int rfd = files_open(&core, &r, &size, NULL);
    char buf[16] = {0};
    assert_int_equal(read(rfd, buf, sizeof(buf)), 4);
    assert_string_equal(buf, "a,b\n");
    close(rfd);

    struct kcr_err err = {0};
    struct kcr_file_ref ghost = {.id = "Ghost0123456789abcdef", .session_id = s1.id, .name = "x"};
    assert_int_equal(files_resolve(&core, &key_a, &s1, &ghost, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "Ghost0123456789abcdef"));

    assert_int_equal(files_delete(&core, &key_a, s1.id, f.id, NULL), 0);
    assert_int_equal(files_delete(&core, &key_a, s1.id, f.id, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
}

/* Nothing of A's is resolved, read, listed or deleted for B; B's /exec
 * never gets a copy of A's file. */
static void test_files_stay_with_their_owner(void **state)
{
    (void)state;
    struct kcr_session a, b;
    assert_int_equal(session_create(&core, &user_a, NULL, NULL, &a, NULL), 0);
    assert_int_equal(session_create(&core, &user_b, NULL, NULL, &b, NULL), 0);
    struct kcr_file_meta f = store(&a, "secret.txt", "A's", NULL);
    struct kcr_file_meta r, *v = NULL;
    size_t n = 9;
    struct kcr_err err = {0};
    struct kcr_file_ref ref = {.id = f.id, .session_id = a.id, .name = "secret.txt"};
    assert_int_equal(files_resolve(&core, &user_b, &b, &ref, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    struct kcr_file_ref by_name = {.session_id = a.id, .name = "secret.txt"};
    assert_int_equal(files_resolve(&core, &user_b, &b, &by_name, &r, NULL), -1);
    assert_int_equal(files_get_readable(&core, &user_b, a.id, f.id, NULL, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(files_list_readable(&core, &user_b, a.id, NULL, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(files_delete(&core, &user_b, a.id, f.id, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(files_get_readable(&core, &user_a, a.id, f.id, NULL, &r, NULL), 0);
    /* The owner lists it, and naming kind=user does not change that. */
    struct kcr_resource mine = {.kind = "user", .id = "alice"};
    assert_int_equal(files_list_readable(&core, &user_a, a.id, &mine, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    free(v);
}

/* Agent and skill files are shared with the users of the owner's tenant
 * that name the same resource; nobody else, and never for writing. */
static void test_agent_files_shared_in_tenant(void **state)
{
    (void)state;
    struct kcr_session a, b;
    struct kcr_resource agent = {.kind = "agent", .id = "agent_x"};
    assert_int_equal(session_create(&core, &user_a, NULL, NULL, &a, NULL), 0);
    struct kcr_file_meta f = store(&a, "kb.csv", "shared", &agent);
    struct kcr_file_meta r;
    assert_int_equal(files_get_readable(&core, &user_b, a.id, f.id, &agent, &r, NULL), 0);
    /* Not without naming it, not another agent, not another tenant, not a key. */
    struct kcr_resource other = {.kind = "agent", .id = "agent_y"};
    assert_int_equal(files_get_readable(&core, &user_b, a.id, f.id, NULL, &r, NULL), -1);
    assert_int_equal(files_get_readable(&core, &user_b, a.id, f.id, &other, &r, NULL), -1);
    assert_int_equal(files_get_readable(&core, &other_tenant_a, a.id, f.id, &agent, &r, NULL), -1);
    assert_int_equal(files_get_readable(&core, &key_a, a.id, f.id, &agent, &r, NULL), -1);
    assert_int_equal(files_delete(&core, &user_b, a.id, f.id, NULL), -1);
    /* B's execution gets its own copy, in B's session. */
    assert_int_equal(session_create(&core, &user_b, NULL, NULL, &b, NULL), 0);
    struct kcr_file_ref ref = {.id = f.id, .session_id = a.id, .res = agent};
    assert_int_equal(files_resolve(&core, &user_b, &b, &ref, &r, NULL), 0);
    assert_string_equal(r.session_id, b.id);
    assert_string_equal(r.owner, user_b.id);
    /* A listing of A's session by B shows only what B may read. */
    store(&a, "private.txt", "mine", NULL);
    struct kcr_file_meta *v = NULL;
    size_t n = 0;
    assert_int_equal(files_list_readable(&core, &user_b, a.id, &agent, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].name, "kb.csv");
    free(v);
}

/* One caller's state of an id is never another's, whatever the id. */
static void test_states_per_owner(void **state)
{
    (void)state;
    struct kcr_session a;
    assert_int_equal(session_create(&core, &key_a, NULL, NULL, &a, NULL), 0);
    assert_int_equal(statestore_save(&core, &key_a, a.id, "\001A", 2, NULL, NULL), 0);
    struct kcr_state_meta st;
    assert_int_equal(statestore_get_session(&core, &a, &st, NULL), 0);
    assert_int_equal(st.size, 2);
    /* B sees none under A's session id and may store none there. */
    assert_int_equal(statestore_get(&core, &key_b, a.id, &st, NULL), -1);
    struct kcr_err err = {0};
    assert_int_equal(statestore_save(&core, &key_b, a.id, "\001BBB", 4, NULL, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_NOT_FOUND);
    assert_int_equal(statestore_get(&core, &key_b, a.id, &st, NULL), -1);
    assert_int_equal(statestore_get(&core, &key_a, a.id, &st, NULL), 0);
    assert_int_equal(st.size, 2);
    uint64_t size = 0;
    int fd = statestore_open(&core, &st, &size, NULL);
    char buf[8] = {0};
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 2);
    assert_memory_equal(buf, "\001A", 2);
    close(fd);
    assert_int_equal(statestore_delete(&core, &key_b, a.id, NULL), 0);
    assert_int_equal(statestore_get(&core, &key_a, a.id, &st, NULL), 0);
    /* Ids that are not sessions of the caller's hold no state. */
    assert_int_equal(statestore_save(&core, &user_a, "any-name", "\002x", 2, NULL, NULL), -1);
    assert_int_equal(statestore_get(&core, &user_a, "any-name", &st, NULL), -1);
    assert_false(statestore_id_ok("../x"));
    assert_int_equal(statestore_save(&core, &user_a, "../x", "\002x", 2, NULL, NULL), -1);
}

static void test_mime(void **state)
{
    (void)state;
    assert_string_equal(files_mime("plot.png"), "image/png");
    assert_string_equal(files_mime("dir/A.JPG"), "image/jpeg");
    assert_string_equal(files_mime("r.json"), "application/json");
    assert_string_equal(files_mime("noext"), "application/octet-stream");
    assert_string_equal(files_mime(".png"), "application/octet-stream");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_choice_order, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_choice_never_crosses_principals, setup_principals,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unowned_is_for_keys_only, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_and_reap, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_state_ttl_and_reap, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_reaper_starts_and_stops, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_store_resolve_copy_delete, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_orphan_sweep, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_files_stay_with_their_owner, setup_principals,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_files_shared_in_tenant, setup_principals,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_states_per_owner, setup_principals, teardown),
        cmocka_unit_test_setup_teardown(test_mime, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
