/* core-fixture — a kcr_core on the fake pod backend (see core-fixture.h). */
#include "fakes/core-fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/xalloc.h"
#include "pod/pool.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void core_fixture_open(struct kcr_core *core, struct kcr_serve_config *cfg, char dir[TMPDIR_SIZE],
                       const char *name, pod_fake_handler handler, void *userdata)
{
    tmpdir_new(dir, name);
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_exec_time_s = 30;
    cfg->max_output_chars = 65536;
    cfg->max_file_size = 10u << 20;
    cfg->max_output_files = 10;
    cfg->max_memory_mb = 512;
    cfg->max_session_files = 500;
    cfg->state_persistence = true;
    cfg->cleanup_interval_s = 600;
    *core = (struct kcr_core){.cfg = cfg};
    assert_int_equal(core_open_stores(core, dir, NULL), 0);
    assert_non_null(core->meta);
    assert_non_null(core->blob);
    struct kcr_err err = {0};
    core->backend = pod_fake_new(&err);
    assert_non_null(core->backend);
    pod_fake_set_handler(core->backend, handler, userdata);
    struct kcr_pool_config pc = {.acquire_wait_ms = 0, .health_every_s = 30};
    core->pool = pool_new(core->backend, &pc, &err);
    assert_non_null(core->pool);
    core->admission = admission_new(4, 1000);
}

void core_fixture_close(struct kcr_core *core, const char *dir)
{
    core_close(core);
    tmpdir_remove(dir);
}

static unsigned destroys(struct kcr_core *core)
{
    struct pod_fake_stats s;
    pod_fake_get_stats(core->backend, &s);
    return s.destroys;
}

void core_fixture_wait_destroys(struct kcr_core *core, unsigned n)
{
    for (int i = 0; i < 500 && destroys(core) < n; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    assert_int_equal(destroys(core), n);
}

struct kcr_file_meta core_fixture_store(struct kcr_core *core, const struct kcr_session *s,
                                        const char *name, const char *data)
{
    struct kcr_file_meta want = {.kind = KCR_FILE_UPLOAD}, f;
    strcpy(want.session_id, s->id);
    strcpy(want.owner, s->owner);
    strcpy(want.name, name);
    int fd = core->blob->ops->tmpfile(core->blob, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    assert_int_equal(files_store(core, &want, fd, strlen(data), &f, NULL), 0);
    close(fd);
    return f;
}

char *core_fixture_file_bytes(struct kcr_core *core, const struct kcr_principal *who,
                              const char *sid, const char *id)
{
    struct kcr_file_meta f;
    assert_int_equal(files_get_readable(core, who, sid, id, NULL, &f, NULL), 0);
    uint64_t size = 0;
    int fd = files_open(core, &f, &size, NULL);
    assert_true(fd >= 0);
    char *b = xcalloc(1, size + 1);
    assert_int_equal(pread(fd, b, size, 0), (ssize_t)size);
    close(fd);
    return b;
}
