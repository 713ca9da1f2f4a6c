/* Unit tests for core/principal.c (principal ids, ownership, the kind/id/
 * version rules, who may read a file) and core/ratelimit.c (limits, windows
 * that reset at the minute, callers and classes counted apart) on the real
 * SQLite store in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/principal.h"
#include "core/ratelimit.h"
#include "fakes/tmpdir.h"
#include "store/meta-sqlite.h"

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_ids(void **state)
{
    (void)state;
    struct kcr_principal p;
    principal_key(&p, HASH_A, NULL);
    assert_int_equal(p.kind, KCR_PRINCIPAL_KEY);
    assert_string_equal(p.id, "key:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(p.limits.exec, -1);
    struct kcr_rate_limits l = {5, 6, 7};
    principal_key(&p, HASH_A, &l);
    assert_int_equal(p.limits.upload, 6);
    principal_jwt(&p, "acme", "alice");
    assert_string_equal(p.id, "jwt:acme:alice");
    assert_string_equal(p.sub, "alice");
    /* ':' and '%' are encoded, so the tenant always ends at the second ':'. */
    principal_jwt(&p, "a:b", "c:d%");
    assert_string_equal(p.id, "jwt:a%3Ab:c%3Ad%25");
    assert_string_equal(p.tenant, "a:b");
    struct kcr_principal q;
    principal_jwt(&q, "a", "b:c:d%");
    assert_string_not_equal(p.id, q.id);
    principal_trusted(&p);
    assert_string_equal(p.id, "trusted");
}

static void test_owns(void **state)
{
    (void)state;
    struct kcr_principal key, user, trusted;
    principal_key(&key, HASH_A, NULL);
    principal_jwt(&user, "acme", "alice");
    principal_trusted(&trusted);
    assert_true(principal_owns(&key, key.id));
    assert_false(principal_owns(&key, user.id));
    assert_true(principal_owns(&user, "jwt:acme:alice"));
    assert_false(principal_owns(&user, "jwt:acme:alice2"));
    /* Data from before owners: every key's, no one else's. */
    assert_true(principal_owns(&key, KCR_OWNER_UNOWNED));
    assert_false(principal_owns(&user, KCR_OWNER_UNOWNED));
    assert_false(principal_owns(&trusted, KCR_OWNER_UNOWNED));
}

static void test_resource_rules(void **state)
{
    (void)state;
    struct kcr_principal user, key;
    principal_jwt(&user, "acme", "alice");
    principal_key(&key, HASH_A, NULL);
    struct kcr_resource r;
    struct kcr_err err = {0};
    assert_int_equal(principal_resource(&user, NULL, NULL, NULL, &r, NULL), 0);
    assert_string_equal(r.kind, "");
    assert_int_equal(principal_resource(&user, "user", "alice", NULL, &r, NULL), 0);
    assert_string_equal(r.id, "alice");
    assert_int_equal(principal_resource(&user, "user", "bob", NULL, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_FORBIDDEN);
    /* Keys stand for their own users: no sub to compare with. */
    assert_int_equal(principal_resource(&key, "user", "bob", NULL, &r, NULL), 0);
    assert_int_equal(principal_resource(&user, "agent", "agent_x", "3", &r, NULL), 0);
    assert_string_equal(r.version, "3");
    assert_int_equal(principal_resource(&user, "robot", "x", NULL, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_int_equal(principal_resource(&user, "agent", NULL, NULL, &r, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_int_equal(principal_resource(&user, "agent", "a\nb", NULL, &r, &err), -1);
    char longid[KCR_RESOURCE_ID_MAX + 2];
    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(principal_resource(&user, "agent", longid, NULL, &r, &err), -1);
}

static void test_may_read(void **state)
{
    (void)state;
    struct kcr_principal alice, bob, eve, key;
    principal_jwt(&alice, "acme", "alice");
    principal_jwt(&bob, "acme", "bob");
    principal_jwt(&eve, "acmex", "bob"); /* a tenant whose name extends acme */
    principal_key(&key, HASH_B, NULL);
    struct kcr_file_meta f = {.res = {.kind = "skill", .id = "s1", .version = "2"}};
    strcpy(f.owner, alice.id);
    struct kcr_resource want = {.kind = "skill", .id = "s1", .version = "2"};
    assert_true(principal_may_read(&alice, &f, NULL));
    assert_true(principal_may_read(&bob, &f, &want));
    assert_false(principal_may_read(&bob, &f, NULL));
    assert_false(principal_may_read(&eve, &f, &want));
    assert_false(principal_may_read(&key, &f, &want));
    struct kcr_resource other_version = {.kind = "skill", .id = "s1", .version = "3"};
    assert_false(principal_may_read(&bob, &f, &other_version));
    struct kcr_resource any_version = {.kind = "skill", .id = "s1"};
    assert_true(principal_may_read(&bob, &f, &any_version));
    /* A user's own files are never shared. */
    strcpy(f.res.kind, "user");
    strcpy(f.res.id, "alice");
    struct kcr_resource user = {.kind = "user", .id = "alice"};
    assert_false(principal_may_read(&bob, &f, &user));
}

static char dir[TMPDIR_SIZE];
static struct kcr_serve_config cfg;
static struct kcr_core core;

static int setup(void **state)
{
    (void)state;
    tmpdir_new(dir, "rate");
    char p[128];
    snprintf(p, sizeof(p), "%s/kcr.db", dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.rate_limits = (struct kcr_rate_limits){3, 0, 10};
    core = (struct kcr_core){.cfg = &cfg, .meta = meta_sqlite_open(p, NULL)};
    assert_non_null(core.meta);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    core.meta = meta_free(core.meta);
    tmpdir_remove(dir);
    return 0;
}

static struct kcr_rate_state hit(const struct kcr_principal *p, enum kcr_rate_class cls,
                                 int64_t now_ms)
{
    struct kcr_rate_state s;
    assert_int_equal(ratelimit_hit(&core, p, cls, now_ms, &s, NULL), 0);
    return s;
}

static void test_windows(void **state)
{
    (void)state;
    struct kcr_principal a, b;
    principal_key(&a, HASH_A, NULL);
    principal_key(&b, HASH_B, NULL);
    int64_t t = 1800000000000; /* a minute boundary */
    struct kcr_rate_state s = hit(&a, KCR_RATE_EXEC, t + 1000);
    assert_int_equal(s.limit, 3);
    assert_int_equal(s.remaining, 2);
    assert_int_equal(s.reset_s, 59);
    assert_false(s.limited);
    hit(&a, KCR_RATE_EXEC, t + 2000);
    s = hit(&a, KCR_RATE_EXEC, t + 59000);
    assert_int_equal(s.remaining, 0);
    assert_false(s.limited);
    s = hit(&a, KCR_RATE_EXEC, t + 59500);
    assert_true(s.limited);
    assert_int_equal(s.reset_s, 1);
    /* Another caller and another class count apart. */
    assert_false(hit(&b, KCR_RATE_EXEC, t + 59600).limited);
    assert_false(hit(&a, KCR_RATE_DOWNLOAD, t + 59600).limited);
    /* The next minute starts from zero. */
    s = hit(&a, KCR_RATE_EXEC, t + 60000);
    assert_false(s.limited);
    assert_int_equal(s.remaining, 2);
    assert_int_equal(s.reset_s, 60);
    /* 0 = no limit: nothing counted, nothing to report. */
    s = hit(&a, KCR_RATE_UPLOAD, t);
    assert_int_equal(s.limit, 0);
    assert_false(s.limited);
}

static void test_own_limits(void **state)
{
    (void)state;
    struct kcr_rate_limits own = {1, 2, -1};
    struct kcr_principal k;
    principal_key(&k, HASH_A, &own);
    assert_int_equal(ratelimit_limit(&core, &k, KCR_RATE_EXEC), 1);
    assert_int_equal(ratelimit_limit(&core, &k, KCR_RATE_UPLOAD), 2);
    assert_int_equal(ratelimit_limit(&core, &k, KCR_RATE_DOWNLOAD), 10);
    int64_t t = 1800000000000;
    assert_false(hit(&k, KCR_RATE_EXEC, t).limited);
    assert_true(hit(&k, KCR_RATE_EXEC, t + 1).limited);
    assert_string_equal(ratelimit_class_name(KCR_RATE_UPLOAD), "upload");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_owns),
        cmocka_unit_test(test_resource_rules),
        cmocka_unit_test(test_may_read),
        cmocka_unit_test_setup_teardown(test_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_limits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
