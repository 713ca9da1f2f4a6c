/* Parser tests: continuations, comments, heredocs, exec vs shell form, flags,
 * ENV/ARG pairs, stages and variable expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "lint/dockerfile-parse.h"

static struct df_file *parse(const char *text)
{
    struct kcr_err err = {0};
    struct df_file *df = dockerfile_parse_string("t.Dockerfile", text, strlen(text), &err);
    assert_non_null(df);
    return df;
}

static void test_continuation_and_comments(void **state)
{
    (void)state;
    struct df_file *df = parse("FROM debian\n"
                               "# a comment\n"
                               "RUN apt-get install -y \\\n"
                               "    # comment inside the continuation\n"
                               "\n"
                               "    curl \\   \n"
                               "    wget\n"
                               "USER 65532\n");
    assert_int_equal(df->ninstrs, 3);
    const struct df_instr *run = &df->instrs[1];
    assert_int_equal(run->kind, DF_RUN);
    assert_int_equal(run->line, 3);
    assert_int_equal(run->end_line, 7);
    assert_string_equal(run->text, "apt-get install -y     curl     wget");
    assert_int_equal(dockerfile_parse_line_at(run, (size_t)(strstr(run->text, "curl") - run->text)),
                     6);
    assert_int_equal(dockerfile_parse_line_at(run, (size_t)(strstr(run->text, "wget") - run->text)),
                     7);
    assert_int_equal(dockerfile_parse_line_at(run, 0), 3);
    assert_int_equal(df->instrs[2].line, 8);
    assert_int_equal(df->nproblems, 0);
    dockerfile_parse_free(df);
}

static void test_heredocs(void **state)
{
    (void)state;
    struct df_file *df = parse("FROM debian\n"
                               "RUN <<EOF\n"
                               "set -e\n"
                               "# not a Dockerfile comment\n"
                               "echo hi\n"
                               "EOF\n"
                               "COPY <<-\"A\" <<'B' /dst/\n"
                               "\tline a\n"
                               "\tA\n"
                               "line b\n"
                               "B\n"
                               "USER 65532\n");
    assert_int_equal(df->ninstrs, 4);
    const struct df_instr *run = &df->instrs[1];
    assert_int_equal(run->nheredocs, 1);
    assert_string_equal(run->heredocs[0].delim, "EOF");
    assert_string_equal(run->heredocs[0].body, "set -e\n# not a Dockerfile comment\necho hi\n");
    assert_int_equal(run->heredocs[0].line, 3);
    assert_int_equal(run->end_line, 6);
    const struct df_instr *copy = &df->instrs[2];
    assert_int_equal(copy->nheredocs, 2);
    assert_string_equal(copy->heredocs[0].body, "line a\n");
    assert_string_equal(copy->heredocs[1].body, "line b\n");
    assert_int_equal(copy->heredocs[1].line, 10);
    assert_int_equal(df->instrs[3].kind, DF_USER);
    assert_int_equal(df->instrs[3].line, 12);
    assert_int_equal(df->nproblems, 0);
    dockerfile_parse_free(df);
}

static void test_heredoc_unterminated(void **state)
{
    (void)state;
    struct df_file *df = parse("FROM debian\nRUN <<EOF\necho hi\n");
    assert_int_equal(df->nproblems, 1);
    assert_int_equal(df->problems[0].line, 2);
    assert_non_null(strstr(df->problems[0].msg, "unterminated heredoc"));
    dockerfile_parse_free(df);
}

static void test_here_string_is_not_heredoc(void **state)
{
    (void)state;
    struct df_file *df = parse("FROM debian\nRUN cat <<< hello\nUSER 1\n");
    assert_int_equal(df->instrs[1].nheredocs, 0);
    assert_int_equal(df->ninstrs, 3);
    dockerfile_parse_free(df);
}

static void test_exec_and_shell_form(void **state)
{
    (void)state;
    struct df_file *df = parse("FROM debian\n"
                               "ENTRYPOINT [\"/usr/bin/env\", \"-i\", \\\n"
                               "    \"PATH=/usr/bin\"]\n"
                               "CMD sleep infinity\n"
                               "CMD [not json\n"
                               "RUN [\"/bin/true\", 1]\n");
    const struct df_instr *ep = &df->instrs[1];
    assert_true(ep->exec_form);
    assert_int_equal(ep->argc, 3);
    assert_string_equal(ep->argv[2], "PATH=/usr/bin");
    const struct df_instr *cmd = &df->instrs[2];
    assert_false(cmd->exec_form);
    assert_int_equal(cmd->argc, 2);
    assert_string_equal(cmd->argv[0], "sleep");
    assert_false(df->instrs[3].exec_form); /* invalid JSON is shell form, as in Docker */
    assert_false(df->instrs[4].exec_form); /* non-string element */
    dockerfile_parse_free(df);
}

static void test_flags_and_words(void **state)
{
    (void)state;
    struct df_file *df =
        parse("FROM --platform=linux/amd64 dhi.io/golang:1.25-debian13-dev AS Builder\n"
              "RUN --mount=type=cache,target=/root/.cache --mount=type=bind,source=x,target=/x "
              "go build\n"
              "COPY --from=builder --chown=65532:65532 \"/a b\" /c /dst/\n");
    const struct df_instr *from = &df->instrs[0];
    assert_string_equal(dockerfile_parse_flag(from, "platform"), "linux/amd64");
    assert_int_equal(df->nstages, 1);
    assert_string_equal(df->stages[0].name, "builder");
    assert_string_equal(df->stages[0].base, "dhi.io/golang:1.25-debian13-dev");
    const struct df_instr *run = &df->instrs[1];
    assert_int_equal(run->nflags, 2);
    assert_string_equal(dockerfile_parse_flag_nth(run, "mount", 1), "type=bind,source=x,target=/x");
    assert_null(dockerfile_parse_flag_nth(run, "mount", 2));
    assert_string_equal(run->rest, "go build");
    const struct df_instr *copy = &df->instrs[2];
    assert_string_equal(dockerfile_parse_flag(copy, "chown"), "65532:65532");
    assert_int_equal(copy->argc, 3);
    assert_string_equal(copy->argv[0], "/a b");
    assert_int_equal(dockerfile_parse_stage_ref(df, "BUILDER", 1), 0);
    assert_int_equal(dockerfile_parse_stage_ref(df, "0", 1), 0);
    assert_int_equal(dockerfile_parse_stage_ref(df, "alpine", 1), -1);
    dockerfile_parse_free(df);
}

static void test_env_arg_and_expansion(void **state)
{
    (void)state;
    struct df_file *df = parse("ARG PHP_MAJOR=8.4\n"
                               "ARG BASE=dhi.io/php:${PHP_MAJOR}-debian13\n"
                               "FROM ${BASE}-dev AS builder\n"
                               "ARG PHP_MAJOR\n"
                               "ENV PHP_HOME=/opt/php-${PHP_MAJOR} OTHER=\"a b\"\n"
                               "ENV LEGACY value with spaces\n"
                               "FROM builder AS final\n"
                               "RUN echo $PHP_HOME ${MISSING:-dflt} ${PHP_HOME:+set} $NOPE \\$X\n");
    assert_int_equal(df->nstages, 2);
    assert_int_equal(df->stages[1].parent, 0);
    _cleanup_free_ char *img = dockerfile_parse_stage_image(df, 1);
    assert_string_equal(img, "dhi.io/php:8.4-debian13-dev");
    const struct df_instr *env = &df->instrs[4];
    assert_int_equal(env->nkvs, 2);
    assert_string_equal(env->kvs[1].key, "OTHER");
    assert_string_equal(env->kvs[1].value, "a b");
    assert_string_equal(df->instrs[5].kvs[0].key, "LEGACY");
    assert_string_equal(df->instrs[5].kvs[0].value, "value with spaces");
    assert_null(df->instrs[3].kvs[0].value);
    _cleanup_free_ char *x = dockerfile_parse_expand(df, 7, df->instrs[7].text);
    assert_string_equal(x, "echo /opt/php-8.4 dflt set $NOPE $X");
    dockerfile_parse_free(df);
}

static void test_escape_directive_and_crlf(void **state)
{
    (void)state;
    struct df_file *df = parse("# escape=`\r\n"
                               "FROM windows\r\n"
                               "RUN dir `\r\n"
                               "  c:\\\r\n");
    assert_int_equal(df->escape, '`');
    assert_int_equal(df->ninstrs, 2);
    assert_string_equal(df->instrs[1].text, "dir   c:\\");
    dockerfile_parse_free(df);
}

static void test_ignore_comment_and_unknown(void **state)
{
    (void)state;
    struct df_file *df = parse("# kcr-lint ignore=final-user,x11-packages\n"
                               "FROM debian\n"
                               "FROBNICATE x\n");
    assert_int_equal(df->instrs[0].nignore, 2);
    assert_string_equal(df->instrs[0].ignore[1], "x11-packages");
    assert_int_equal(df->instrs[1].nignore, 0);
    assert_int_equal(df->nproblems, 1);
    assert_int_equal(df->problems[0].line, 3);
    dockerfile_parse_free(df);
}

static void test_binary_refused(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    assert_null(dockerfile_parse_string("bin", "FROM\0x", 6, &err));
    assert_non_null(strstr(err.msg, "NUL"));
    assert_null(dockerfile_parse_file("/nonexistent/Dockerfile", &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_continuation_and_comments),
        cmocka_unit_test(test_heredocs),
        cmocka_unit_test(test_heredoc_unterminated),
        cmocka_unit_test(test_here_string_is_not_heredoc),
        cmocka_unit_test(test_exec_and_shell_form),
        cmocka_unit_test(test_flags_and_words),
        cmocka_unit_test(test_env_arg_and_expansion),
        cmocka_unit_test(test_escape_directive_and_crlf),
        cmocka_unit_test(test_ignore_comment_and_unknown),
        cmocka_unit_test(test_binary_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
