/* Fuzzes what a hostile program sends on its programmatic tool calling
 * channel through the sidecar's real parsers (src/sidecar/sidecar-ptc-proto.c),
 * and the client's /programmatic/continue body. An input starting with 'C'
 * is a continue body (the rest) applied to a fixed message of three waiting
 * calls; any other input is the channel's byte stream, fed in chunks whose
 * sizes come from its first byte, as the sidecar reads it. Properties (abort
 * otherwise):
 *  - a whole frame has a header of at most PTC_MAX_HEADER bytes and a body
 *    of 1..PTC_MAX_MESSAGE; feeding more bytes never turns a malformed frame
 *    into a good one, and the answer for a prefix is "more" or the same;
 *  - a parsed message has at most PTC_MAX_CALLS calls, each with an id (a
 *    string of at most PTC_MAX_ID bytes, or an integer), a name and an input;
 *  - after the results every call is answered; the bash answer is one line
 *    per call without other control characters; the Python answer's header
 *    is the length of its body, which is JSON with one result per call;
 *  - a refused continue body changes nothing. */
#include "fuzz.h"
#include "sidecar/sidecar-ptc-proto.h"

#include <stdlib.h>
#include <string.h>

static char *tools[] = {"search", "get-weather", NULL};

static void check_answers(struct ptc_msg *m)
{
    for (size_t i = 0; i < m->n; i++)
        if (!m->calls[i].answered || (m->calls[i].ok && !m->calls[i].value) ||
            (!m->calls[i].ok && !m->calls[i].error))
            abort();
    size_t len = 0;
    char *sh = ptc_msg_reply(m, true, &len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) {
        if (sh[i] == '\n')
            lines++;
        else if ((unsigned char)sh[i] < 0x20)
            abort();
    }
    if (lines != m->n || (len && sh[len - 1] != '\n'))
        abort();
    free(sh);
    char *py = ptc_msg_reply(m, false, &len);
    char *nl = memchr(py, '\n', len);
    if (!nl || strtoul(py, NULL, 10) != len - (size_t)(nl + 1 - py))
        abort();
    json_t *root = json_loadb(nl + 1, len - (size_t)(nl + 1 - py), 0, NULL);
    if (json_array_size(json_object_get(root, "results")) != m->n)
        abort();
    json_decref(root);
    free(py);
}

static void check_message(const char *body, size_t len)
{
    struct ptc_msg m;
    if (ptc_msg_parse(body, len, &m) < 0) {
        if (m.n)
            abort();
        return;
    }
    if (m.n > PTC_MAX_CALLS)
        abort();
    for (size_t i = 0; i < m.n; i++) {
        struct ptc_call *c = &m.calls[i];
        if (!c->name || !c->input || !c->id ||
            !(json_is_integer(c->id) ||
              (json_is_string(c->id) && json_string_length(c->id) <= PTC_MAX_ID)))
            abort();
    }
    unsigned long seq = 0;
    size_t waiting = ptc_msg_assign(&m, tools, 2, &seq);
    if (waiting > m.n || seq != waiting)
        abort();
    /* The client answers the first waiting call, and nothing else. */
    char why[200];
    const char *res = "{\"tool_results\":[{\"call_id\":\"call_1\",\"result\":[1,\"x\\n\"]}]}";
    if (ptc_msg_apply_results(&m, res, strlen(res), why, sizeof(why)) < 0)
        abort();
    check_answers(&m);
    ptc_msg_done(&m);
}

static void channel(const uint8_t *data, size_t size)
{
    size_t chunk = size ? (size_t)data[0] % 32 + 1 : 1;
    const char *buf = (const char *)data + (size ? 1 : 0);
    size_t len = size ? size - 1 : 0, off = 0, seen = 0;
    while (off < len) {
        /* Bytes arrive a chunk at a time; each time the frame is looked at. */
        seen = seen + chunk > len - off ? len - off : seen + chunk;
        size_t h = 0, b = 0;
        int r = ptc_frame_parse(buf + off, seen, &h, &b);
        if (r < 0) {
            /* Malformed stays malformed. */
            size_t h2 = 0, b2 = 0;
            if (ptc_frame_parse(buf + off, len - off, &h2, &b2) >= 0)
                abort();
            return;
        }
        if (r == 0) {
            if (seen == len - off)
                return; /* cut by EOF */
            continue;
        }
        size_t h2 = 0, b2 = 0;
        if (h < 2 || h > PTC_MAX_HEADER || b < 1 || b > PTC_MAX_MESSAGE || h + b > seen ||
            ptc_frame_parse(buf + off, len - off, &h2, &b2) != 1 || h2 != h || b2 != b)
            abort();
        check_message(buf + off + h, b);
        off += h + b;
        seen = 0;
    }
}

static void continue_body(const uint8_t *data, size_t size)
{
    const char *msg = "{\"calls\":[{\"id\":1,\"name\":\"search\"},{\"id\":\"b\",\"name\":"
                      "\"get-weather\",\"input\":{\"city\":\"x\"}},{\"id\":3,\"name\":\"nope\"},"
                      "{\"id\":4,\"name\":\"search\",\"input_json\":\"[1,\"}]}";
    struct ptc_msg m;
    if (ptc_msg_parse(msg, strlen(msg), &m) < 0)
        abort();
    unsigned long seq = 0;
    if (ptc_msg_assign(&m, tools, 2, &seq) != 3)
        abort();
    char why[200];
    if (ptc_msg_apply_results(&m, (const char *)data, size, why, sizeof(why)) < 0) {
        for (size_t i = 0; i < m.n; i++)
            if (m.calls[i].seq && m.calls[i].answered)
                abort();
    } else {
        check_answers(&m);
    }
    ptc_msg_done(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && data[0] == 'C')
        continue_body(data + 1, size - 1);
    else
        channel(data, size);
    return 0;
}
