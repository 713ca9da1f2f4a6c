/* Rule tests: for every rule a Dockerfile that breaks it (reported at the
 * right line with the guide's lesson) and one that satisfies it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "lint/lint-rules.h"

/* A Dockerfile that follows the guide's template: lints clean. Line numbers
 * matter to the tests below. */
#define GOOD_HEAD                                                                                  \
    "# syntax=docker/dockerfile:1\n"                          /* 1 */                              \
    "ARG PY=3.14\n"                                           /* 2 */                              \
    "FROM dhi.io/python:${PY}-debian13-dev AS builder\n"      /* 3 */                              \
    "RUN pip install numpy\n"                                 /* 4 */                              \
    "FROM dhi.io/python:${PY}-debian13-dev AS runtime-deps\n" /* 5 */                              \
    "RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data && \\\n"          \
    "    chown 65532:65532 /mnt/data\n"                                                /* 7 */     \
    "FROM dhi.io/python:${PY}-debian13 AS final\n"                                     /* 8 */     \
    "ARG PY\n"                                                                         /* 9 */     \
    "COPY --from=runtime-deps /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu\n"   /* 10 */    \
    "COPY --from=runtime-deps /usr/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu\n" /* 11 */    \
    "COPY --from=builder /opt/python/lib/python${PY}/site-packages "                               \
    "/opt/python/lib/python${PY}/site-packages\n" /* 12 */

#define GOOD_TAIL                                                                                  \
    "COPY --from=runtime-deps /usr/bin/env /usr/bin/sleep /usr/bin/\n" /* 13 */                    \
    "COPY --from=runtime-deps /mnt/data /mnt/data\n"                   /* 14 */                    \
    "WORKDIR /mnt/data\n"                                              /* 15 */                    \
    "ENTRYPOINT [\"/usr/bin/env\", \"-i\", \\\n"                       /* 16 */                    \
    "    \"PATH=/opt/python/bin:/usr/bin:/bin\", \\\n"                 /* 17 */                    \
    "    \"HOME=/tmp\", \"TMPDIR=/tmp\", \"PYTHONUNBUFFERED=1\"]\n"    /* 18 */                    \
    "CMD [\"sleep\", \"infinity\"]\n"                                  /* 19 */

static const char good[] = GOOD_HEAD GOOD_TAIL;

/* The compiled-language shape: -dev final stage, USER 65532 last. */
static const char good_dev[] = "FROM dhi.io/eclipse-temurin:25-jdk-debian13-dev AS builder\n"
                               "RUN mkdir -p /build/lib\n"
                               "FROM dhi.io/eclipse-temurin:25-jdk-debian13-dev AS final\n"
                               "COPY --from=builder /build/lib /opt/java/lib\n"
                               "RUN mkdir -p /mnt/data && chown 65532:65532 /mnt/data\n"
                               "WORKDIR /mnt/data\n"
                               "USER 65532\n"
                               "ENTRYPOINT [\"/usr/bin/env\", \"-i\", \"PATH=/usr/bin:/bin\", "
                               "\"HOME=/tmp\", \"TMPDIR=/tmp\"]\n"
                               "CMD [\"sleep\", \"infinity\"]\n";

static void lint(const char *text, struct lint_report *rep)
{
    struct kcr_err err = {0};
    struct df_file *df = dockerfile_parse_string("t.Dockerfile", text, strlen(text), &err);
    assert_non_null(df);
    lint_rules_check(df, rep);
    dockerfile_parse_free(df);
}

static size_t count_rule(const struct lint_report *rep, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->count; i++)
        n += !strcmp(rep->items[i].rule, rule);
    return n;
}

static void dump(const struct lint_report *rep)
{
    lint_rules_print(rep, stderr);
}

/* text breaks `rule`: a finding at `line` with `lesson`. */
static void expect(const char *text, const char *rule, int line, const char *lesson)
{
    struct lint_report rep;
    lint(text, &rep);
    bool found = false;
    for (size_t i = 0; i < rep.count; i++) {
        const struct lint_finding *f = &rep.items[i];
        if (strcmp(f->rule, rule) != 0 || f->line != line)
            continue;
        found = true;
        if (lesson)
            assert_string_equal(f->lesson, lesson);
        assert_non_null(f->fix);
        assert_true(strlen(f->fix) > 5);
    }
    if (!found) {
        fprintf(stderr, "expected [%s] at line %d; got:\n", rule, line);
        dump(&rep);
    }
    assert_true(found);
    lint_rules_report_done(&rep);
}

static void expect_none(const char *text, const char *rule)
{
    struct lint_report rep;
    lint(text, &rep);
    size_t n = rule ? count_rule(&rep, rule) : rep.count;
    if (n)
        dump(&rep);
    assert_int_equal(n, 0);
    lint_rules_report_done(&rep);
}

/* good with line `line` (1-based) replaced by repl (which may hold several lines or none). */
static char *edit(const char *text, int line, const char *repl)
{
    const char *p = text;
    for (int i = 1; i < line; i++)
        p = strchr(p, '\n') + 1;
    const char *e = strchr(p, '\n') + 1;
    return xasprintf("%.*s%s%s", (int)(p - text), text, repl, e);
}

static void test_good_files_are_clean(void **state)
{
    (void)state;
    expect_none(good, NULL);
    expect_none(good_dev, NULL);
}

static void test_final_user(void **state)
{
    (void)state;
    static const char dev_no_user[] = "FROM dhi.io/rust:1-debian13-dev AS final\n"
                                      "RUN mkdir -p /mnt/data\n";
    expect(dev_no_user, "final-user", 1, "8");
    _cleanup_free_ char *root = edit(good_dev, 7, "USER 65532\nRUN true\nUSER root\n");
    expect(root, "final-user", 9, "8");
    /* USER earlier in the stage followed by a switch back to root */
    expect_none(good_dev, "final-user");
    _cleanup_free_ char *nonroot = edit(good_dev, 7, "USER nonroot:nonroot\n");
    expect_none(nonroot, "final-user");
    /* A minimal final stage is already 65532. */
    expect_none(good, "final-user");
    /* An ARG without default still ends in -dev. */
    expect("ARG BASE\nFROM ${BASE}-dev AS final\nRUN true\n", "final-user", 2, "8");
    /* A final stage built FROM a -dev stage inherits root. */
    expect("FROM dhi.io/rust:1-debian13-dev AS base\nUSER 65532\nFROM base AS final\n"
           "USER 0\n",
           "final-user", 4, "8");
}

static void test_entrypoint_env(void **state)
{
    (void)state;
    _cleanup_free_ char *none = edit(good, 16, "");
    _cleanup_free_ char *n2 = edit(none, 16, "");
    _cleanup_free_ char *n3 = edit(n2, 16, "");
    expect(n3, "entrypoint-env", 16, "6"); /* the CMD sleep line after removal */
    _cleanup_free_ char *no_i = edit(good, 16, "ENTRYPOINT [\"/usr/bin/env\", \\\n");
    expect(no_i, "entrypoint-env", 16, "6");
    _cleanup_free_ char *no_tmp = edit(good, 18, "    \"HOME=/tmp\", \"PYTHONUNBUFFERED=1\"]\n");
    expect(no_tmp, "entrypoint-env", 16, "6");
    _cleanup_free_ char *s1 = edit(good, 18, "");
    _cleanup_free_ char *s2 = edit(s1, 17, "");
    _cleanup_free_ char *shell =
        edit(s2, 16, "ENTRYPOINT /usr/bin/env -i PATH=/usr/bin HOME=/tmp TMPDIR=/tmp\n");
    expect(shell, "entrypoint-env", 16, "6");
    _cleanup_free_ char *rel = edit(good, 16, "ENTRYPOINT [\"env\", \"-i\", \\\n");
    expect(rel, "entrypoint-env", 16, "6");
    expect_none(good, "entrypoint-env");
    /* Not a main container (no CMD sleep): no env -i required (e.g. the sidecar). */
    expect_none("FROM dhi.io/debian-base:trixie\nUSER 65532\n"
                "ENTRYPOINT [\"/usr/local/bin/kcr-sidecar\"]\n",
                "entrypoint-env");
}

/* ENTRYPOINT + CMD as the runtime joins them: a program in ENTRYPOINT makes
 * CMD sleep its argument; a shell-form ENTRYPOINT drops CMD altogether. */
static void test_main_command(void **state)
{
    (void)state;
    expect_none(good, "main-command");
    expect_none(good_dev, "main-command");
    _cleanup_free_ char *py = edit(good, 18, "    \"HOME=/tmp\", \"TMPDIR=/tmp\", \"python\"]\n");
    expect(py, "main-command", 16, "6");
    _cleanup_free_ char *e1 = edit(good, 18, "");
    _cleanup_free_ char *e2 = edit(e1, 17, "");
    _cleanup_free_ char *shell_ep = edit(e2, 16, "ENTRYPOINT exec /usr/bin/python3\n");
    expect(shell_ep, "main-command", 16, "6");
    /* sleep in ENTRYPOINT itself, CMD its arguments: fine. */
    expect_none("FROM debian\nENTRYPOINT [\"/usr/bin/env\", \"-i\", \"PATH=/bin\", \"sleep\"]\n"
                "CMD [\"infinity\"]\n",
                "main-command");
    /* Not a main container: nothing to judge. */
    expect_none("FROM debian\nENTRYPOINT [\"/usr/local/bin/kcr-sidecar\"]\n", "main-command");
}

static void test_exec_form_var(void **state)
{
    (void)state;
    _cleanup_free_ char *bad = edit(good, 17, "    \"PATH=$PHP_HOME/bin:/usr/bin:/bin\", \\\n");
    expect(bad, "exec-form-var", 17, "5");
    expect("FROM dhi.io/php:8.4-debian13-dev\nUSER 65532\nCMD [\"php\", \"${APP}/x.php\"]\n",
           "exec-form-var", 3, "5");
    expect_none(good, "exec-form-var");
    /* shell form does expand */
    expect_none("FROM debian\nCMD php $APP/x.php\n", "exec-form-var");
}

static void test_versioned_path(void **state)
{
    (void)state;
    _cleanup_free_ char *node =
        edit(good, 17, "    \"PATH=/opt/nodejs/node-v24.11.0/bin:/usr/bin:/bin\", \\\n");
    expect(node, "versioned-path", 17, "5");
    _cleanup_free_ char *php = edit(good, 17, "    \"PATH=/opt/php-8.4/bin:/usr/bin:/bin\", \\\n");
    expect(php, "versioned-path", 17, "5");
    _cleanup_free_ char *sym = edit(good, 17, "    \"PATH=/opt/node/bin:/opt/php/bin:/bin\", \\\n");
    expect_none(sym, "versioned-path");
}

static void test_no_shell(void **state)
{
    (void)state;
    _cleanup_free_ char *run = edit(good, 15, "RUN mkdir -p /tmp/x\n");
    expect(run, "no-shell", 15, "6");
    _cleanup_free_ char *cmd = edit(good, 19, "CMD sleep infinity\n");
    expect(cmd, "no-shell", 19, "6");
    _cleanup_free_ char *chain =
        edit(good, 19, "CMD [\"sh\", \"-c\", \"tsc a.ts && node a.js\"]\n");
    expect(chain, "shell-chain", 19, "7");
    /* exec-form RUN is fine in a minimal image; shell form is fine in -dev images */
    _cleanup_free_ char *exec = edit(good, 15, "RUN [\"/opt/python/bin/python\", \"-V\"]\n");
    expect_none(exec, "no-shell");
    expect_none(good_dev, "no-shell");
}

static void test_env_and_sleep_copied(void **state)
{
    (void)state;
    _cleanup_free_ char *none = edit(good, 13, "");
    expect(none, "env-copied", 15, "6");
    expect(none, "sleep-copied", 18, "13");
    _cleanup_free_ char *env_only =
        edit(good, 13, "COPY --from=runtime-deps /usr/bin/env /usr/bin/env\n");
    expect(env_only, "sleep-copied", 19, "13");
    expect_none(env_only, "env-copied");
    expect_none(good, "env-copied");
    expect_none(good, "sleep-copied");
    /* -dev images have both */
    expect_none(good_dev, "sleep-copied");
}

static void test_mnt_data_owner(void **state)
{
    (void)state;
    _cleanup_free_ char *nochown =
        edit(good, 6,
             "RUN mkdir -p /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /mnt/data && \\\n"
             "    true\n");
    _cleanup_free_ char *bad = edit(nochown, 8, "");
    expect(bad, "mnt-data-owner", 8, "8");
    _cleanup_free_ char *chown_copy =
        edit(bad, 14, "COPY --chown=65532:65532 --from=runtime-deps /mnt/data /mnt/data\n");
    expect_none(chown_copy, "mnt-data-owner");
    expect_none(good, "mnt-data-owner");
    expect_none(good_dev, "mnt-data-owner");
}

static void test_python_path(void **state)
{
    (void)state;
    _cleanup_free_ char *bad = edit(good, 12,
                                    "COPY --from=builder \\\n"
                                    "  /usr/local/lib/python3.14/site-packages /opt/python/lib/\n");
    expect(bad, "python-path", 13, "3");
    expect_none(good, "python-path");
    /* Not from a DHI stage: /usr/local is right for Docker Official Images. */
    expect_none("FROM python:3.14 AS b\nFROM dhi.io/python:3.14-debian13\n"
                "COPY --from=b /usr/local/lib/python3.14 /x\n",
                "python-path");
}

static void test_cache_mount_copy(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
                              "RUN --mount=type=cache,target=/go/pkg/mod go mod download\n"
                              "FROM dhi.io/golang:1.25-debian13 AS final\n"
                              "COPY --from=builder --chown=65532:65532 /go/pkg/mod /go/pkg/mod\n";
    expect(bad, "cache-mount-copy", 4, "11");
    static const char parent[] = "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
                                 "ENV GOMODCACHE=/go/pkg/mod\n"
                                 "RUN --mount=type=cache,target=${GOMODCACHE} go mod download\n"
                                 "FROM dhi.io/golang:1.25-debian13 AS final\n"
                                 "COPY --from=builder --chown=65532:65532 \\\n"
                                 "    /go/pkg /go/pkg\n";
    expect(parent, "cache-mount-copy", 6, "11");
    static const char fine[] =
        "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
        "RUN --mount=type=cache,target=/root/.cache/go-build go mod download\n"
        "FROM dhi.io/golang:1.25-debian13 AS final\n"
        "COPY --from=builder --chown=65532:65532 /go/pkg/mod /go/pkg/mod\n";
    expect_none(fine, "cache-mount-copy");
}

static void test_multiarch_dirs(void **state)
{
    (void)state;
    _cleanup_free_ char *nomk =
        edit(good, 6, "RUN mkdir -p /usr/lib/x86_64-linux-gnu /mnt/data && \\\n");
    expect(nomk, "multiarch-dirs", 10, "4");
    expect(nomk, "multiarch-dirs", 11, "4");
    _cleanup_free_ char *one = edit(good, 11, "");
    expect(one, "multiarch-dirs", 10, "4");
    expect_none(good, "multiarch-dirs");
}

static void test_go_mod_chown(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
                              "RUN go mod download\n"
                              "FROM dhi.io/golang:1.25-debian13 AS final\n"
                              "ENV GOPATH=/go\n"
                              "COPY --from=builder ${GOPATH}/pkg/mod/ /go/pkg/mod\n";
    expect(bad, "go-mod-chown", 5, "10");
    static const char wrong[] = "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
                                "FROM dhi.io/golang:1.25-debian13 AS final\n"
                                "COPY --from=builder --chown=root /go/pkg/mod /go/pkg/mod\n";
    expect(wrong, "go-mod-chown", 3, "10");
    static const char fine[] = "FROM dhi.io/golang:1.25-debian13-dev AS builder\n"
                               "FROM dhi.io/golang:1.25-debian13 AS final\n"
                               "COPY --from=builder --chown=65532:65532 /go/pkg/mod /go/pkg/mod\n";
    expect_none(fine, "go-mod-chown");
}

static void test_debian13_names(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/debian-base:trixie-dev\n"
                              "RUN apt-get update && \\\n"
                              "    apt-get install -y \\\n"
                              "    # TLS\n"
                              "    libssl3:amd64 \\\n"
                              "    zlib1g\n"
                              "RUN <<EOF\n"
                              "apt-get install -y libpng16-16=1.6.39-2\n"
                              "EOF\n"
                              "USER 65532\n";
    expect(bad, "debian13-names", 5, "9");
    expect(bad, "debian13-names", 8, "9");
    expect_none("FROM dhi.io/debian-base:trixie-dev\n"
                "RUN apt-get install -y libssl3t64 libpng16-16t64 libssl-dev\nUSER 65532\n",
                "debian13-names");
}

static void test_x11_packages(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/python:3.14-debian13-dev\n"
                              "RUN apt-get install -y gcc \\\n"
                              "    libcairo2-dev libpango-1.0-0\n"
                              "RUN pip install pygame\n"
                              "USER 65532\n";
    expect(bad, "x11-packages", 3, "1");
    expect(bad, "x11-packages", 4, "1");
    expect_none("FROM dhi.io/python:3.14-debian13-dev\n"
                "RUN apt-get install -y libfreetype6 libpng16-16t64\nUSER 65532\n",
                "x11-packages");
}

static void test_alpine_idiom(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/debian-base:trixie-dev\n"
                              "RUN apk add --no-cache gcc \\\n"
                              "    musl-dev\n"
                              "RUN adduser -D app\n"
                              "USER 65532\n";
    expect(bad, "alpine-idiom", 2, "12");
    expect(bad, "alpine-idiom", 3, "12");
    expect(bad, "alpine-idiom", 4, "12");
    expect_none("FROM dhi.io/debian-base:trixie-dev\n"
                "RUN apt-get install -y libc6-dev && useradd -u 1000 x\nUSER 65532\n",
                "alpine-idiom");
    /* apk is right on Alpine itself */
    expect_none("FROM alpine:3.20\nRUN apk add --no-cache musl-dev\nUSER 65532\n", "alpine-idiom");
}

static void test_version_arg(void **state)
{
    (void)state;
    static const char bad[] = "FROM dhi.io/php:8.4-debian13-dev AS builder\n"
                              "ENV PHP_HOME=/opt/php-8.4\n"
                              "RUN ln -sf /opt/php-8.4 /opt/php\n"
                              "USER 65532\n";
    expect(bad, "version-arg", 3, "16");
    static const char fine[] = "ARG PHP_MAJOR=8.4\n"
                               "FROM dhi.io/php:${PHP_MAJOR}-debian13-dev AS builder\n"
                               "ARG PHP_MAJOR\n"
                               "ENV PHP_HOME=/opt/php-${PHP_MAJOR}\n"
                               "RUN ln -sf /opt/php-${PHP_MAJOR} /opt/php\n"
                               "USER 65532\n";
    expect_none(fine, "version-arg");
    /* Once beyond FROM is fine (the guide's own template); 8.4.17 is another version. */
    expect_none("FROM dhi.io/php:8.4-debian13-dev\nENV H=/opt/php-8.4\n"
                "RUN wget php-8.4.17.tar.xz\nUSER 65532\n",
                "version-arg");
}

static void test_syntax_and_ignore(void **state)
{
    (void)state;
    expect("FROM dhi.io/debian-base:trixie-dev\nRUN <<EOF\necho\n", "syntax", 2, NULL);
    expect("RUN true\n", "syntax", 1, NULL);
    static const char ignored[] = "# kcr-lint ignore=final-user\n"
                                  "FROM dhi.io/rust:1-debian13-dev AS final\n";
    expect_none(ignored, "final-user");
}

static void test_every_rule_is_tested(void **state)
{
    (void)state;
    /* Keeps this file honest: a new rule needs a test above. */
    static const char *const tested[] = {
        "syntax",       "final-user",       "entrypoint-env", "exec-form-var", "versioned-path",
        "no-shell",     "shell-chain",      "env-copied",     "sleep-copied",  "mnt-data-owner",
        "python-path",  "cache-mount-copy", "multiarch-dirs", "go-mod-chown",  "debian13-names",
        "x11-packages", "alpine-idiom",     "version-arg",    "main-command",
    };
    size_t n = 0;
    for (const char *const *id = lint_rules_ids(); *id; id++, n++) {
        bool ok = false;
        for (size_t i = 0; i < sizeof(tested) / sizeof(tested[0]); i++)
            ok |= !strcmp(tested[i], *id);
        if (!ok)
            fprintf(stderr, "rule %s has no test\n", *id);
        assert_true(ok);
    }
    assert_int_equal(n, sizeof(tested) / sizeof(tested[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files_are_clean),
        cmocka_unit_test(test_final_user),
        cmocka_unit_test(test_entrypoint_env),
        cmocka_unit_test(test_main_command),
        cmocka_unit_test(test_exec_form_var),
        cmocka_unit_test(test_versioned_path),
        cmocka_unit_test(test_no_shell),
        cmocka_unit_test(test_env_and_sleep_copied),
        cmocka_unit_test(test_mnt_data_owner),
        cmocka_unit_test(test_python_path),
        cmocka_unit_test(test_cache_mount_copy),
        cmocka_unit_test(test_multiarch_dirs),
        cmocka_unit_test(test_go_mod_chown),
        cmocka_unit_test(test_debian13_names),
        cmocka_unit_test(test_x11_packages),
        cmocka_unit_test(test_alpine_idiom),
        cmocka_unit_test(test_version_arg),
        cmocka_unit_test(test_syntax_and_ignore),
        cmocka_unit_test(test_every_rule_is_tested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
