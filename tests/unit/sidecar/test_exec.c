/* sidecar-exec without namespaces: writing the code file safely, and failing
 * cleanly when kcr-nsexec cannot be started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sidecar/sidecar-exec.h"

struct dir {
    char path[64];
    int fd;
};

static int setup(void **state)
{
    static struct dir d;
    strcpy(d.path, "/tmp/kcr-test-exec-XXXXXX");
    if (!mkdtemp(d.path))
        return -1;
    d.fd = open(d.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *state = &d;
    return d.fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    struct dir *d = *state;
    close(d->fd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
    return system(cmd) == 0 ? 0 : -1;
}

static void read_file(int dirfd, const char *name, char *out, size_t size)
{
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, out, size - 1);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
}

static void test_write_code_replaces_symlinks_and_fifos(void **state)
{
    struct dir *d = *state;
    char victim[128], buf[64], cls[64];
    snprintf(victim, sizeof(victim), "%s.victim", d->path);
    FILE *f = fopen(victim, "w");
    fputs("untouched", f);
    fclose(f);
    assert_int_equal(symlinkat(victim, d->fd, "code.py"), 0);

    struct sidecar_request req = {.code = "print(1)", .code_len = 8, .lang = lang_find("py")};
    struct kcr_err err = {0};
    char *name = sidecar_exec_write_code(d->fd, &req, cls, sizeof(cls), &err);
    assert_non_null(name);
    assert_string_equal(name, "code.py");
    free(name);
    read_file(d->fd, "code.py", buf, sizeof(buf));
    assert_string_equal(buf, "print(1)");
    read_file(AT_FDCWD, victim, buf, sizeof(buf));
    assert_string_equal(buf, "untouched");
    unlink(victim);

    /* a FIFO under the name would block a plain open(): it is replaced */
    assert_int_equal(unlinkat(d->fd, "code.py", 0), 0);
    assert_int_equal(mkfifoat(d->fd, "code.py", 0666), 0);
    name = sidecar_exec_write_code(d->fd, &req, cls, sizeof(cls), &err);
    assert_non_null(name);
    free(name);
    struct stat st;
    assert_int_equal(fstatat(d->fd, "code.py", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_write_code_java_and_nul_bytes(void **state)
{
    struct dir *d = *state;
    char cls[64], buf[64];
    const char code[] = "public class Hi {}\0tail";
    struct sidecar_request req = {
        .code = (char *)code, .code_len = sizeof(code) - 1, .lang = lang_find("java")};
    struct kcr_err err = {0};
    char *name = sidecar_exec_write_code(d->fd, &req, cls, sizeof(cls), &err);
    assert_non_null(name);
    assert_string_equal(name, "Hi.java");
    assert_string_equal(cls, "Hi");
    free(name);
    struct stat st;
    assert_int_equal(fstatat(d->fd, "Hi.java", &st, 0), 0);
    assert_int_equal(st.st_size, sizeof(code) - 1);
    read_file(d->fd, "Hi.java", buf, sizeof(buf));
    assert_string_equal(buf, "public class Hi {}");
}

static void test_write_code_directory_in_the_way(void **state)
{
    struct dir *d = *state;
    char cls[64];
    assert_int_equal(mkdirat(d->fd, "code.sh", 0755), 0);
    struct sidecar_request req = {.code = "echo", .code_len = 4, .lang = lang_find("bash")};
    struct kcr_err err = {0};
    assert_null(sidecar_exec_write_code(d->fd, &req, cls, sizeof(cls), &err));
    assert_int_equal(err.kind, KCR_ERR_INTERNAL);
}

static void test_missing_nsexec_is_an_error(void **state)
{
    struct dir *d = *state;
    struct sidecar_exec_params p = {
        .nsexec_path = "/nonexistent/kcr-nsexec",
        .target = getpid(),
        .data_dir = d->path,
        .uid = 65532,
        .max_output = 1024,
        .oom_fd = -1,
    };
    struct sidecar_request req = {.code = "echo",
                                  .code_len = 4,
                                  .lang = lang_find("bash"),
                                  .timeout_s = 5,
                                  .working_dir = "/mnt/data"};
    struct sidecar_result res;
    struct kcr_err err = {0};
    assert_int_equal(sidecar_exec_run(&p, &req, NULL, &res, &err), -1);
    assert_int_equal(err.kind, KCR_ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "spawn"));
    sidecar_result_done(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_code_replaces_symlinks_and_fifos, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_code_java_and_nul_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_code_directory_in_the_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_nsexec_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
