/* Unit tests for src/http/http-multipart.c: the streaming multipart/form-data
 * parser, driven directly (no server). Each body is parsed into a text log of
 * its events, "{name|filename|type:" data "}", where a NULL string shows as
 * "~"; data is logged as raw bytes, so the log does not depend on how the
 * parser split the data into calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http-multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

struct events {
    char log[32768];
    size_t len;
    int stop_at_begin; /* part_begin number (1-based) that returns -1; 0: none */
    int nbegin;
};

static void add(struct events *ev, const char *s, size_t n)
{
    assert_true(ev->len + n < sizeof(ev->log));
    memcpy(ev->log + ev->len, s, n);
    ev->len += n;
    ev->log[ev->len] = '\0';
}

static int on_begin(void *ctx, const char *name, const char *filename, const char *ctype)
{
    struct events *ev = ctx;
    char b[4096];
    int n =
        snprintf(b, sizeof(b), "{%s|%s|%s:", name, filename ? filename : "~", ctype ? ctype : "~");
    add(ev, b, (size_t)n);
    return ++ev->nbegin == ev->stop_at_begin ? -1 : 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    assert_true(len > 0);
    add(ctx, data, len);
    return 0;
}

static int on_end(void *ctx)
{
    add(ctx, "}", 1);
    return 0;
}

static const struct http_mp_callbacks cbs = {on_begin, on_data, on_end};

/* Parses body in chunks of chunk bytes (0: all at once); returns the first
 * error of feed, else finish's result. */
static int parse_chunked(const char *ct, const char *body, size_t len, size_t chunk,
                         struct events *ev)
{
    struct http_mp *mp = http_mp_new(ct, &cbs, ev);
    assert_non_null(mp);
    int r = HTTP_MP_OK;
    if (!chunk)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len && r == HTTP_MP_OK; off += chunk)
        r = http_mp_feed(mp, body + off, len - off < chunk ? len - off : chunk);
    if (r == HTTP_MP_OK)
        r = http_mp_finish(mp);
    http_mp_free(mp);
    return r;
}

static int parse(const char *ct, const char *body, struct events *ev)
{
    memset(ev, 0, sizeof(*ev));
    return parse_chunked(ct, body, strlen(body), 0, ev);
}

/* body parses with result want and event log want_log, and so does every
 * chunking of it (1 to len bytes a call). */
static void check_all_chunkings(const char *ct, const char *body, size_t len, int want,
                                const char *want_log)
{
    for (size_t chunk = 0; chunk <= len; chunk++) {
        struct events ev = {0};
        int r = parse_chunked(ct, body, len, chunk, &ev);
        if (r != want || strcmp(ev.log, want_log)) {
            print_error("chunk %zu: rc %d (want %d), log '%s' (want '%s')\n", chunk, r, want,
                        ev.log, want_log);
            fail();
        }
    }
}

static void test_one_char_boundary(void **state)
{
    (void)state;
    const char *body = "--a\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"x.bin\"\r\n"
                       "Content-Type: application/octet-stream\r\n"
                       "\r\n"
                       "x\r\n-\r\n--b\r\n\r\n--\r\n-a--a\r\n"
                       "--a--\r\n";
    check_all_chunkings("multipart/form-data; boundary=a", body, strlen(body), HTTP_MP_OK,
                        "{file|x.bin|application/octet-stream:x\r\n-\r\n--b\r\n\r\n--\r\n-a--a}");
}

static void test_boundary_lengths(void **state)
{
    (void)state;
    char b70[71], b71[72], ct[128], body[512];
    memset(b70, 'q', 70);
    b70[70] = '\0';
    memset(b71, 'q', 71);
    b71[71] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b70);
    snprintf(body, sizeof(body),
             "--%s\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--%s--", b70, b70);
    check_all_chunkings(ct, body, strlen(body), HTTP_MP_OK, "{f|~|~:v}");
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b71);
    assert_null(http_mp_new(ct, &cbs, NULL));
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"", b71);
    assert_null(http_mp_new(ct, &cbs, NULL));
}

static void test_content_types(void **state)
{
    (void)state;
    /* Quoted, with every kind of bchar and a space, parameters in any order. */
    const char *ct = "Multipart/Form-Data ; charset=utf-8;BOUNDARY=\"a b'()+_,-./:=?\"";
    const char *body = "--a b'()+_,-./:=?\r\nContent-Disposition: form-data; name=n\r\n\r\n1\r\n"
                       "--a b'()+_,-./:=?--";
    struct events ev;
    assert_int_equal(parse(ct, body, &ev), HTTP_MP_OK);
    assert_string_equal(ev.log, "{n|~|~:1}");
    body = "--q\r\ncontent-disposition: FORM-DATA;NAME=x\r\n\r\n\r\n--q--";
    assert_int_equal(parse("multipart/form-data; boundary=\"q\"", body, &ev), HTTP_MP_OK);
    assert_string_equal(ev.log, "{x|~|~:}");

    const char *bad[] = {
        "text/plain; boundary=a",
        "multipart/mixed; boundary=a",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"ab \"", /* ends in a space */
        "multipart/form-data; boundary=a@b",     /* '@' is no bchar */
        "multipart/form-data; boundary=a; boundary=b",
        "multipart/form-data; boundary=\"a",
        "multipart/form-data boundary=a",
        "application/x-www-form-urlencoded",
        "",
        NULL,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (http_mp_new(bad[i], &cbs, NULL)) {
            print_error("accepted '%s'\n", bad[i]);
            fail();
        }
}

static void test_preamble_epilogue_padding(void **state)
{
    (void)state;
    const char *body = "This is the preamble. --XyZ is not at a line start.\r\n"
                       "--XyQ is no delimiter either\r\n"
                       "--XyZ \t \r\n"
                       "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "1\r\n"
                       "--XyZ--  \r\n"
                       "epilogue\r\n--XyZ\r\nanything\r\n--XyZx";
    check_all_chunkings(CT, body, strlen(body), HTTP_MP_OK, "{a|~|~:1}");
}

static void test_files_and_field(void **state)
{
    (void)state;
    const char *body =
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"entity_id\"\r\n\r\n"
        "agent_1\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"files\"; filename=\"a.csv\"\r\n"
        "Content-Type: text/csv\r\n"
        "X-Other: ignored\r\n\r\n"
        "a,b\n1,2\n\r\n"
        "--XyZ\r\n"
        "content-type:  image/png \r\n"
        "CONTENT-DISPOSITION: form-data ; filename=\"b \\\"q\\\" \\\\.png\" ; name=files;"
        " filename*=UTF-8''ignored\r\n\r\n"
        "\x89PNG\r\n\x1a\n\r\n"
        "--XyZ--\r\n";
    check_all_chunkings(CT, body, strlen(body), HTTP_MP_OK,
                        "{entity_id|~|~:agent_1}{files|a.csv|text/csv:a,b\n1,2\n}"
                        "{files|b \"q\" \\.png|image/png:\x89PNG\r\n\x1a\n}");
}

static void test_empty_parts(void **state)
{
    (void)state;
    const char *body = "--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n"
                       "\r\n--XyZ\r\n"
                       "Content-Disposition: form-data; name=\"f\"\r\n\r\n"
                       "\r\n--XyZ--";
    check_all_chunkings(CT, body, strlen(body), HTTP_MP_OK, "{file||~:}{f|~|~:}");
}

static void test_delimiter_lookalikes_in_data(void **state)
{
    (void)state;
    /* Only CRLF "--XyZ" ends the data: CR or LF alone, a shorter or different
     * boundary, or "--XyZ" without the CRLF before it are data. */
    const char *data = "\r\r\n\r\n-\r\n--\r\n--X\r\n--Xy\r\n--XyQ\n--XyZ\r--XyZ--XyZ\r\r\n--Xy";
    char body[512];
    snprintf(body, sizeof(body),
             "--XyZ\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\n%s\r\n--XyZ--", data);
    char want[256];
    snprintf(want, sizeof(want), "{d|~|~:%s}", data);
    check_all_chunkings(CT, body, strlen(body), HTTP_MP_OK, want);

    /* Binary data, NULs included. */
    const char bin[] = "--XyZ\r\nContent-Disposition: form-data; name=\"b\"; filename=\"z\"\r\n\r\n"
                       "\0\r\n\0--XyZ\0\r\n--XyZ--";
    const char want_bin[] = "{b|z|~:\0\r\n\0--XyZ\0}";
    struct events ev = {0};
    assert_int_equal(parse_chunked(CT, bin, sizeof(bin) - 1, 1, &ev), HTTP_MP_OK);
    assert_int_equal(ev.len, sizeof(want_bin) - 1);
    assert_memory_equal(ev.log, want_bin, ev.len);

    /* CRLF "--XyZ" followed by anything but "--" or padding and a line end:
     * the data held the boundary, which RFC 2046 forbids. */
    const char *bad = "--XyZ\r\nContent-Disposition: form-data; name=\"d\"\r\n\r\nab\r\n--XyZx\r\n"
                      "--XyZ--";
    check_all_chunkings(CT, bad, strlen(bad), HTTP_MP_MALFORMED, "{d|~|~:ab}");
}

static void test_bare_lf_headers(void **state)
{
    (void)state;
    const char *body = "--XyZ\n"
                       "Content-Disposition: form-data; name=\"a\"; filename=\"f.txt\"\n"
                       "Content-Type: text/plain\n"
                       "\n"
                       "hi\n\r\n--XyZ--";
    check_all_chunkings(CT, body, strlen(body), HTTP_MP_OK, "{a|f.txt|text/plain:hi\n}");
}

static void test_truncated_bodies(void **state)
{
    (void)state;
    const char *full = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--";
    size_t len = strlen(full);
    /* Every proper prefix lacks the close delimiter. */
    for (size_t n = 0; n < len; n++) {
        struct events ev = {0};
        assert_int_equal(parse_chunked(CT, full, n, 0, &ev), HTTP_MP_MALFORMED);
    }
    struct events ev;
    assert_int_equal(parse(CT, "just a preamble", &ev), HTTP_MP_MALFORMED);
    assert_int_equal(parse(CT,
                           "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n"
                           "--XyZ\r\n",
                           &ev),
                     HTTP_MP_MALFORMED);
    assert_string_equal(ev.log, "{a|~|~:v}");
    /* A close delimiter alone is a form with no parts. */
    assert_int_equal(parse(CT, "--XyZ--\r\n", &ev), HTTP_MP_OK);
    assert_string_equal(ev.log, "");
}

/* A part whose header block is size bytes long (the empty line included). */
static int parse_header_block(size_t size)
{
    const char *cd = "Content-Disposition: form-data; name=\"a\"\r\n";
    const char *pad = "X-Pad: ";
    size_t fixed = strlen(cd) + strlen(pad) + 2 + 2;
    char *body = malloc(size + 64);
    assert_non_null(body);
    int n = sprintf(body, "--XyZ\r\n%s%s", cd, pad);
    memset(body + n, 'p', size - fixed);
    n += (int)(size - fixed);
    n += sprintf(body + n, "\r\n\r\nv\r\n--XyZ--");
    struct events ev = {0};
    int r = parse_chunked(CT, body, (size_t)n, 1000, &ev);
    free(body);
    return r;
}

static void test_header_block_limit(void **state)
{
    (void)state;
    assert_int_equal(parse_header_block(HTTP_MP_MAX_HEADERS), HTTP_MP_OK);
    assert_int_equal(parse_header_block(HTTP_MP_MAX_HEADERS + 1), HTTP_MP_MALFORMED);
    assert_int_equal(parse_header_block(64 << 10), HTTP_MP_MALFORMED);
}

static void test_name_limits(void **state)
{
    (void)state;
    char name[HTTP_MP_MAX_VALUE + 2], body[HTTP_MP_MAX_VALUE + 256];
    struct events ev;
    memset(name, 'n', sizeof(name) - 1);
    name[HTTP_MP_MAX_VALUE] = '\0';
    snprintf(body, sizeof(body),
             "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"%s\"\r\n\r\n"
             "\r\n--XyZ--",
             name);
    assert_int_equal(parse(CT, body, &ev), HTTP_MP_OK);
    name[HTTP_MP_MAX_VALUE] = 'n';
    name[HTTP_MP_MAX_VALUE + 1] = '\0';
    snprintf(body, sizeof(body),
             "--XyZ\r\nContent-Disposition: form-data; name=%s\r\n\r\n\r\n--XyZ--", name);
    assert_int_equal(parse(CT, body, &ev), HTTP_MP_MALFORMED);
    assert_string_equal(ev.log, "");
}

static void test_malformed_headers(void **state)
{
    (void)state;
    const char *heads[] = {
        "Content-Type: text/plain\r\n",                               /* no disposition */
        "Content-Disposition: attachment; name=\"a\"\r\n",            /* not form-data */
        "Content-Disposition: form-data; filename=\"a\"\r\n",         /* no name */
        "Content-Disposition: form-data; name=\"a\"; name=\"b\"\r\n", /* two names */
        "Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; "
        "name=\"a\"\r\n",                                                        /* two headers */
        "Content-Disposition: form-data; name=\"a\r\n",                          /* open quote */
        "Content-Disposition: form-data; name=\"a\"; filename=\"a\tb\x01\"\r\n", /* control */
        "Content-Disposition: form-data; name=\"a\" x\r\n",                      /* no ';' */
        "Content-Disposition: form-data;\r\n name=\"a\"\r\n",                    /* folded */
        "Content-Disposition : form-data; name=\"a\"\r\n",                       /* space in name */
        "no colon here\r\n",
        "Content-Disposition: form-data; name=\r\n", /* empty value */
    };
    char body[512];
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        snprintf(body, sizeof(body), "--XyZ\r\n%s\r\nv\r\n--XyZ--", heads[i]);
        struct events ev;
        if (parse(CT, body, &ev) != HTTP_MP_MALFORMED || ev.len) {
            print_error("accepted headers '%s'\n", heads[i]);
            fail();
        }
    }
    /* A NUL inside a filename would cut it short. */
    const char nul[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"a\0b\"\r\n"
                       "\r\nv\r\n--XyZ--";
    struct events ev = {0};
    assert_int_equal(parse_chunked(CT, nul, sizeof(nul) - 1, 0, &ev), HTTP_MP_MALFORMED);
}

static void test_callback_stops(void **state)
{
    (void)state;
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
                       "--XyZ--";
    struct events ev = {.stop_at_begin = 2};
    struct http_mp *mp = http_mp_new(CT, &cbs, &ev);
    assert_non_null(mp);
    assert_int_equal(http_mp_feed(mp, body, strlen(body)), HTTP_MP_STOPPED);
    assert_string_equal(ev.log, "{a|~|~:1}{b|~|~:");
    /* The error sticks, and nothing is called back any more. */
    assert_int_equal(http_mp_feed(mp, "x", 1), HTTP_MP_STOPPED);
    assert_int_equal(http_mp_finish(mp), HTTP_MP_STOPPED);
    assert_string_equal(ev.log, "{a|~|~:1}{b|~|~:");
    http_mp_free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_char_boundary),
        cmocka_unit_test(test_boundary_lengths),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_preamble_epilogue_padding),
        cmocka_unit_test(test_files_and_field),
        cmocka_unit_test(test_empty_parts),
        cmocka_unit_test(test_delimiter_lookalikes_in_data),
        cmocka_unit_test(test_bare_lf_headers),
        cmocka_unit_test(test_truncated_bodies),
        cmocka_unit_test(test_header_block_limit),
        cmocka_unit_test(test_name_limits),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
