/* Programmatic tool calling without processes: framing and parsing of what a
 * hostile program sends, the answers, /continue bodies, tool names and the
 * identifiers the client promises the model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sidecar/sidecar-ptc-proto.h"
#include "sidecar/sidecar-ptc-runner.h"

static int frame(const char *s, size_t *h, size_t *b)
{
    return ptc_frame_parse(s, strlen(s), h, b);
}

static void test_frames(void **state)
{
    (void)state;
    size_t h = 0, b = 0;
    assert_int_equal(frame("", &h, &b), 0);
    assert_int_equal(frame("12", &h, &b), 0);
    assert_int_equal(frame("5\n{\"a\"", &h, &b), 0);
    assert_int_equal(frame("5\n{\"a\":", &h, &b), 1);
    assert_int_equal(h, 2);
    assert_int_equal(b, 5);
    /* A longer buffer holds the next frame: only this one counts. */
    assert_int_equal(frame("2\n{}3\n[1]", &h, &b), 1);
    assert_int_equal(h + b, 4);
    /* Garbage is refused at its first byte, before any newline. */
    assert_int_equal(frame("h", &h, &b), -1);
    assert_int_equal(frame("1x", &h, &b), -1);
    assert_int_equal(frame("-1\n", &h, &b), -1);
    assert_int_equal(frame(" 1\n", &h, &b), -1);
    assert_int_equal(frame("\n", &h, &b), -1);
    assert_int_equal(frame("0\n", &h, &b), -1);
    /* The bound: 1 MiB of body, 20 bytes of header. */
    assert_int_equal(frame("1048576\n", &h, &b), 0);
    assert_int_equal(frame("1048577\n", &h, &b), -1);
    assert_int_equal(frame("99999999999999999999999", &h, &b), -1);
    assert_int_equal(frame("0000000000000000001\nx", &h, &b), 1); /* 20 bytes of header */
    assert_int_equal(frame("00000000000000000001\nx", &h, &b), -1);
    assert_int_equal(frame("0000000000000000000", &h, &b), 0);
    assert_int_equal(frame("00000000000000000000", &h, &b), -1);
}

static int parse(const char *s, struct ptc_msg *m)
{
    return ptc_msg_parse(s, strlen(s), m);
}

static void test_messages(void **state)
{
    (void)state;
    struct ptc_msg m;
    assert_int_equal(parse("{\"calls\":[{\"id\":1,\"name\":\"a\",\"input\":{\"x\":[1]}},"
                           "{\"id\":\"k\",\"name\":\"b\"},"
                           "{\"id\":2,\"name\":\"c\",\"input_json\":\"{\\\"y\\\": 2}\"},"
                           "{\"id\":3,\"input_json\":\"not json\"}]}",
                           &m),
                     0);
    assert_int_equal(m.n, 4);
    assert_int_equal(json_integer_value(m.calls[0].id), 1);
    assert_string_equal(m.calls[0].name, "a");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(m.calls[0].input, "x"), 0)),
                     1);
    assert_string_equal(json_string_value(m.calls[1].id), "k");
    assert_true(json_is_object(m.calls[1].input) && json_object_size(m.calls[1].input) == 0);
    assert_int_equal(json_integer_value(json_object_get(m.calls[2].input, "y")), 2);
    assert_string_equal(m.calls[3].name, "");
    assert_string_equal(json_string_value(m.calls[3].input), "not json");
    ptc_msg_done(&m);

    /* Invalid UTF-8 is repaired, not fatal (bash forwards bytes as they are). */
    assert_int_equal(parse("{\"calls\":[{\"id\":1,\"name\":\"a\",\"input\":\"\xff\"}]}", &m), 0);
    assert_string_equal(json_string_value(m.calls[0].input), "\xef\xbf\xbd");
    ptc_msg_done(&m);
    assert_int_equal(parse("{\"calls\":[]}", &m), 0);
    assert_int_equal(m.n, 0);

    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"calls\":{}}",
        "{\"calls\":[1]}",
        "{\"calls\":[{\"name\":\"a\"}]}",
        "{\"calls\":[{\"id\":1.5,\"name\":\"a\"}]}",
        "{\"calls\":[{\"id\":null,\"name\":\"a\"}]}",
        "{\"calls\":[{\"id\":1,\"name\":7}]}",
        "{\"calls\":[{\"id\":1,\"input_json\":7}]}",
        "{\"calls\":[{\"id\":1,\"name\":\"a\",\"name\":\"b\"}]}",
        "{\"calls\":[{\"id\":1}],}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &m), -1);
        assert_int_equal(m.n, 0);
    }
}

static void test_bounds(void **state)
{
    (void)state;
    struct ptc_msg m;
    char *s = malloc(PTC_MAX_MESSAGE), *w = s;
    w += sprintf(w, "{\"calls\":[");
    for (int i = 0; i <= PTC_MAX_CALLS; i++)
        w += sprintf(w, "%s{\"id\":%d,\"name\":\"t\"}", i ? "," : "", i);
    sprintf(w, "]}");
    assert_int_equal(parse(s, &m), -1);
    char id[PTC_MAX_ID + 2];
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    sprintf(s, "{\"calls\":[{\"id\":\"%s\",\"name\":\"t\"}]}", id);
    assert_int_equal(parse(s, &m), -1);
    id[PTC_MAX_ID] = '\0';
    sprintf(s, "{\"calls\":[{\"id\":\"%s\",\"name\":\"t\"}]}", id);
    assert_int_equal(parse(s, &m), 0);
    ptc_msg_done(&m);
    free(s);
}

static char *tools[] = {"search", "get-weather", NULL};

static void test_assign_and_answer(void **state)
{
    (void)state;
    struct ptc_msg m;
    unsigned long seq = 4;
    assert_int_equal(parse("{\"calls\":[{\"id\":1,\"name\":\"search\",\"input\":{\"q\":1}},"
                           "{\"id\":2,\"name\":\"nope\"},{\"id\":3,\"name\":\"\"},"
                           "{\"id\":\"x\",\"name\":\"get-weather\"}]}",
                           &m),
                     0);
    assert_int_equal(ptc_msg_assign(&m, tools, 2, &seq), 2);
    assert_int_equal(seq, 6);
    json_t *calls = ptc_msg_tool_calls(&m);
    char *s = json_dumps(calls, JSON_COMPACT);
    assert_string_equal(s, "[{\"id\":\"call_5\",\"name\":\"search\",\"input\":{\"q\":1}},"
                           "{\"id\":\"call_6\",\"name\":\"get-weather\",\"input\":{}}]");
    free(s);
    json_decref(calls);

    char why[200];
    /* Malformed bodies change nothing. */
    const char *bad[] = {
        "x",
        "{}",
        "{\"tool_results\":{}}",
        "{\"tool_results\":[1]}",
        "{\"tool_results\":[{\"result\":1}]}",
        "{\"tool_results\":[{\"call_id\":\"call_5\",\"is_error\":1}]}",
        "{\"tool_results\":[{\"call_id\":\"call_5\",\"error_message\":[]}]}",
        "{\"tool_results\":[{\"call_id\":\"call_5\"},{\"call_id\":5}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ptc_msg_apply_results(&m, bad[i], strlen(bad[i]), why, sizeof(why)), -1);
        assert_false(m.calls[0].answered);
    }
    const char *body = "{\"tool_results\":[{\"call_id\":\"call_9\",\"result\":0},"
                       "{\"call_id\":\"call_5x\",\"result\":0},"
                       "{\"call_id\":\"call_5\",\"result\":\"a\\u0000\\nb\"},"
                       "{\"call_id\":\"call_5\",\"result\":\"second is ignored\"}]}";
    assert_int_equal(ptc_msg_apply_results(&m, body, strlen(body), why, sizeof(why)), 0);
    size_t len;
    char *py = ptc_msg_reply(&m, false, &len);
    const char *want_body =
        "{\"results\":[{\"id\":1,\"ok\":true,\"value\":\"a\\u0000\\nb\"},"
        "{\"id\":2,\"ok\":false,\"error\":\"Sandbox requested an unregistered tool: nope\"},"
        "{\"id\":3,\"ok\":false,\"error\":\"Sandbox requested an unregistered tool: \"},"
        "{\"id\":\"x\",\"ok\":false,\"error\":\"no result for this call\"}]}";
    char want[512];
    snprintf(want, sizeof(want), "%zu\n%s", strlen(want_body), want_body);
    assert_string_equal(py, want);
    assert_int_equal(len, strlen(want));
    free(py);
    char *sh = ptc_msg_reply(&m, true, &len);
    assert_string_equal(sh, "ok \"a\\u0000\\nb\"\n"
                            "err Sandbox requested an unregistered tool: nope\n"
                            "err Sandbox requested an unregistered tool: \n"
                            "err no result for this call\n");
    free(sh);
    ptc_msg_done(&m);

    /* Errors: the message, a string result, or a default; newlines go for bash. */
    assert_int_equal(parse("{\"calls\":[{\"id\":1,\"name\":\"search\"},{\"id\":2,\"name\":"
                           "\"search\"},{\"id\":3,\"name\":\"search\"}]}",
                           &m),
                     0);
    seq = 0;
    assert_int_equal(ptc_msg_assign(&m, tools, 2, &seq), 3);
    body = "{\"tool_results\":[{\"call_id\":\"call_1\",\"is_error\":true,\"error_message\":"
           "\"bad\\nthing\\t!\"},{\"call_id\":\"call_2\",\"is_error\":true,\"result\":\"r\"},"
           "{\"call_id\":\"call_3\",\"is_error\":true}]}";
    assert_int_equal(ptc_msg_apply_results(&m, body, strlen(body), why, sizeof(why)), 0);
    sh = ptc_msg_reply(&m, true, &len);
    assert_string_equal(sh, "err bad thing !\nerr r\nerr Tool execution failed\n");
    free(sh);
    ptc_msg_done(&m);
}

static void test_tools(void **state)
{
    (void)state;
    char why[200];
    size_t n = 0;
    json_t *t = json_loads("[\"a\", \"b-c\", \"\\u00e9t\\u00e9\"]", 0, NULL);
    char **v = ptc_tools_parse(t, &n, why, sizeof(why));
    assert_non_null(v);
    assert_int_equal(n, 3);
    assert_string_equal(v[1], "b-c");
    assert_null(v[3]);
    ptc_tools_free(v);
    json_decref(t);
    const char *bad[] = {
        "[]", "{}", "[1]", "[\"\"]", "[\"a\\nb\"]", "[\"a\\u0000b\"]", "[\"a\\u007f\"]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = json_loads(bad[i], JSON_ALLOW_NUL, NULL);
        assert_non_null(t);
        assert_null(ptc_tools_parse(t, &n, why, sizeof(why)));
        json_decref(t);
    }
    t = json_array();
    for (int i = 0; i < PTC_MAX_TOOLS; i++)
        json_array_append_new(t, json_string("t"));
    assert_non_null(v = ptc_tools_parse(t, &n, why, sizeof(why)));
    ptc_tools_free(v);
    json_array_append_new(t, json_string("t"));
    assert_null(ptc_tools_parse(t, &n, why, sizeof(why)));
    json_decref(t);
}

static void expect_id(const char *name, enum ptc_dialect d, const char *want)
{
    char *id = ptc_identifier(name, d);
    assert_string_equal(id, want);
    free(id);
}

static void test_identifiers(void **state)
{
    (void)state;
    /* What LibreChat's normalizeToPythonIdentifier / normalizeToBashIdentifier make. */
    expect_id("get-weather", PTC_PY, "get_weather");
    expect_id("get weather", PTC_PY, "get_weather");
    expect_id("a\xc2\xa0"
              "b\xe2\x80\x83"
              "c\xe3\x80\x80"
              "d",
              PTC_PY, "a_b_c_d"); /* JS \s */
    expect_id("web.search", PTC_PY, "websearch");
    expect_id("web.search", PTC_BASH, "web_search");
    expect_id("caf\xc3\xa9!", PTC_PY, "caf");
    expect_id("3d-model", PTC_PY, "_3d_model");
    expect_id("class", PTC_PY, "class_tool");
    expect_id("None", PTC_PY, "None_tool");
    expect_id("match", PTC_PY, "match");
    expect_id("class", PTC_BASH, "class");
    expect_id("done", PTC_BASH, "done_tool");
    expect_id("local", PTC_BASH, "local_tool");
    expect_id("if", PTC_PY, "if_tool");
    expect_id("!!", PTC_PY, "");
    expect_id("9", PTC_BASH, "_9");
    expect_id("search_mcp_my-server", PTC_PY, "search_mcp_my_server");

    char why[200];
    char *same[] = {"a-b", "a_b"};
    assert_int_equal(ptc_tools_check(same, 2, PTC_PY, why, sizeof(why)), -1);
    char *dots[] = {"a.b", "ab"};
    assert_int_equal(ptc_tools_check(dots, 2, PTC_PY, why, sizeof(why)), -1);
    assert_int_equal(ptc_tools_check(dots, 2, PTC_BASH, why, sizeof(why)), 0);
    char *empty[] = {"!", "?"}; /* no identifier at all: no function, no clash */
    assert_int_equal(ptc_tools_check(empty, 2, PTC_PY, why, sizeof(why)), 0);
    char *builtin[] = {"builtin"};
    assert_int_equal(ptc_tools_check(builtin, 1, PTC_PY, why, sizeof(why)), 0);
    assert_int_equal(ptc_tools_check(builtin, 1, PTC_BASH, why, sizeof(why)), -1);

    /* 128 names of quotes: the argument would outgrow execve's 128 KiB. */
    char *many[PTC_MAX_TOOLS];
    for (int i = 0; i < PTC_MAX_TOOLS; i++) {
        many[i] = malloc(PTC_MAX_NAME + 1);
        memset(many[i], '\'', PTC_MAX_NAME);
        snprintf(many[i], 8, "t%03d", i);
        many[i][4] = '\'';
        many[i][PTC_MAX_NAME] = '\0';
    }
    assert_int_equal(ptc_tools_check(many, PTC_MAX_TOOLS, PTC_BASH, why, sizeof(why)), -1);
    assert_string_equal(why, "tools: the names are too long together");
    assert_int_equal(ptc_tools_check(many, PTC_MAX_TOOLS, PTC_PY, why, sizeof(why)), 0);
    assert_int_equal(ptc_tools_check(many, 64, PTC_BASH, why, sizeof(why)), 0);
    for (int i = 0; i < PTC_MAX_TOOLS; i++)
        free(many[i]);
}

static void test_argv(void **state)
{
    (void)state;
    char *t[] = {"get-weather", "it's", "!"};
    char *args[] = {"x"};
    char **v = ptc_argv(PTC_PY, "python", "/mnt/data/code.py", t, 3, args, 1, "ID");
    assert_string_equal(v[0], "python");
    assert_string_equal(v[1], "-c");
    assert_non_null(strstr(v[2], "asyncio"));
    assert_string_equal(v[3], "/mnt/data/code.py");
    assert_string_equal(v[4], "[[\"get_weather\",\"get-weather\"],[\"its\",\"it's\"]]");
    assert_string_equal(v[5], "x");
    assert_null(v[6]);
    ptc_argv_free(v);
    v = ptc_argv(PTC_BASH, "bash", "/mnt/data/code.sh", t, 3, NULL, 0, "ID");
    assert_string_equal(v[0], "bash");
    assert_non_null(strstr(v[2], "__kcr_ptc_lock=/tmp/.kcr-ptc-ID.lock\n"));
    assert_non_null(strstr(v[2], "\nget_weather() { __kcr_ptc_call '\"get-weather\"' \"$@\"; }\n"));
    assert_non_null(strstr(v[2], "\nits() { __kcr_ptc_call '\"it'\\''s\"' \"$@\"; }\n"));
    assert_non_null(strstr(v[2], "\nbuiltin source \"$0\"\n"));
    assert_string_equal(v[3], "/mnt/data/code.sh");
    assert_null(v[4]);
    ptc_argv_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames), cmocka_unit_test(test_messages),
        cmocka_unit_test(test_bounds), cmocka_unit_test(test_assign_and_answer),
        cmocka_unit_test(test_tools),  cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
