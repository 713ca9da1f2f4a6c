#include "sidecar/sidecar-ptc-proto.h"
#include "sidecar/sidecar-result.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int why_set(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

int ptc_frame_parse(const char *buf, size_t len, size_t *ret_hlen, size_t *ret_blen)
{
    size_t n = 0, i = 0;
    for (; i < len && i < PTC_MAX_HEADER; i++) {
        if (buf[i] == '\n')
            break;
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        n = n * 10 + (size_t)(buf[i] - '0');
        if (n > PTC_MAX_MESSAGE)
            return -1;
    }
    if (i == len)
        return i < PTC_MAX_HEADER ? 0 : -1;
    if (i == PTC_MAX_HEADER || i == 0 || n == 0)
        return -1; /* no newline in time, no digits, or an empty body */
    *ret_hlen = i + 1;
    *ret_blen = n;
    return len - *ret_hlen >= n ? 1 : 0;
}

static void call_done(struct ptc_call *c)
{
    json_decref(c->id);
    json_decref(c->input);
    json_decref(c->value);
    free(c->name);
    free(c->error);
    memset(c, 0, sizeof(*c));
}

void ptc_msg_done(struct ptc_msg *m)
{
    for (size_t i = 0; i < m->n; i++)
        call_done(&m->calls[i]);
    m->n = 0;
}

/* "input" as it is, or "input_json" parsed (text that is no JSON stays a string). */
static json_t *call_input(json_t *o)
{
    json_t *text = json_object_get(o, "input_json");
    if (json_is_string(text)) {
        json_t *v = json_loadb(json_string_value(text), json_string_length(text),
                               JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        return v ? v : json_incref(text);
    }
    if (text)
        return NULL;
    json_t *in = json_object_get(o, "input");
    return in ? json_incref(in) : json_object();
}

static int parse_call(json_t *o, struct ptc_call *c)
{
    if (!json_is_object(o))
        return -1;
    json_t *id = json_object_get(o, "id");
    if (!(json_is_integer(id) || (json_is_string(id) && json_string_length(id) <= PTC_MAX_ID)))
        return -1;
    json_t *name = json_object_get(o, "name");
    if (name && !json_is_string(name))
        return -1;
    json_t *input = call_input(o);
    if (!input)
        return -1;
    c->id = json_incref(id);
    /* A NUL inside a name makes it no tool's: cut there, it stays unregistered. */
    c->name = xstrdup(name ? json_string_value(name) : "");
    if (name && strlen(c->name) != json_string_length(name))
        c->name[0] = '\0';
    c->input = input;
    return 0;
}

int ptc_msg_parse(const char *body, size_t len, struct ptc_msg *ret)
{
    memset(ret, 0, sizeof(*ret));
    size_t clean_len = 0;
    _cleanup_free_ char *clean = sidecar_result_utf8(body, len, &clean_len);
    json_auto_t *root = json_loadb(clean, clean_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    json_t *calls = json_object_get(root, "calls");
    if (!json_is_array(calls) || json_array_size(calls) > PTC_MAX_CALLS)
        return -1;
    for (size_t i = 0; i < json_array_size(calls); i++) {
        if (parse_call(json_array_get(calls, i), &ret->calls[i]) < 0) {
            ptc_msg_done(ret);
            return -1;
        }
        ret->n++;
    }
    return 0;
}

static void answer_error(struct ptc_call *c, const char *msg)
{
    c->answered = true;
    c->ok = false;
    c->error = xstrdup(msg);
}

size_t ptc_msg_assign(struct ptc_msg *m, char *const *tools, size_t ntools, unsigned long *seq)
{
    size_t waiting = 0;
    for (size_t i = 0; i < m->n; i++) {
        struct ptc_call *c = &m->calls[i];
        bool known = false;
        for (size_t t = 0; t < ntools && !known && c->name[0]; t++)
            known = !strcmp(tools[t], c->name);
        if (!known) {
            _cleanup_free_ char *msg =
                xasprintf("Sandbox requested an unregistered tool: %s", c->name);
            answer_error(c, msg);
            continue;
        }
        c->seq = ++*seq;
        waiting++;
    }
    return waiting;
}

json_t *ptc_msg_tool_calls(const struct ptc_msg *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n; i++) {
        const struct ptc_call *c = &m->calls[i];
        if (c->seq == 0 || c->answered)
            continue;
        char id[32];
        snprintf(id, sizeof(id), "call_%lu", c->seq);
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:O}", "id", id, "name", c->name, "input", c->input));
    }
    return a;
}

/* The waiting call named "call_<seq>", or NULL. */
static struct ptc_call *find_waiting(struct ptc_msg *m, const char *call_id)
{
    unsigned long seq;
    char tail;
    if (strncmp(call_id, "call_", 5) || sscanf(call_id + 5, "%lu%c", &seq, &tail) != 1)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (m->calls[i].seq == seq && !m->calls[i].answered)
            return &m->calls[i];
    return NULL;
}

static int check_result(json_t *r, size_t i, char *why, size_t why_size)
{
    if (!json_is_object(r))
        return why_set(why, why_size, "tool_results[%zu] must be an object", i);
    if (!json_is_string(json_object_get(r, "call_id")))
        return why_set(why, why_size, "tool_results[%zu].call_id must be a string", i);
    json_t *is_error = json_object_get(r, "is_error");
    if (is_error && !json_is_boolean(is_error) && !json_is_null(is_error))
        return why_set(why, why_size, "tool_results[%zu].is_error must be a boolean", i);
    json_t *msg = json_object_get(r, "error_message");
    if (msg && !json_is_string(msg) && !json_is_null(msg))
        return why_set(why, why_size, "tool_results[%zu].error_message must be a string", i);
    return 0;
}

/* The message of a failed call: error_message, else a string result. */
static const char *error_text(json_t *r)
{
    const char *s = json_string_value(json_object_get(r, "error_message"));
    if (!s || !*s)
        s = json_string_value(json_object_get(r, "result"));
    return s && *s ? s : "Tool execution failed";
}

int ptc_msg_apply_results(struct ptc_msg *m, const char *body, size_t len, char *why,
                          size_t why_size)
{
    json_error_t jerr;
    json_auto_t *root =
        json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root)
        return why_set(why, why_size, "invalid JSON: %.150s", jerr.text);
    json_t *results = json_object_get(root, "tool_results");
    if (!json_is_array(results))
        return why_set(why, why_size, "tool_results must be an array");
    for (size_t i = 0; i < json_array_size(results); i++)
        if (check_result(json_array_get(results, i), i, why, why_size) < 0)
            return -1;
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *r = json_array_get(results, i);
        struct ptc_call *c = find_waiting(m, json_string_value(json_object_get(r, "call_id")));
        if (!c)
            continue;
        if (json_is_true(json_object_get(r, "is_error"))) {
            answer_error(c, error_text(r));
            continue;
        }
        json_t *v = json_object_get(r, "result");
        c->answered = c->ok = true;
        c->value = v ? json_incref(v) : json_null();
    }
    for (size_t k = 0; k < m->n; k++)
        if (!m->calls[k].answered)
            answer_error(&m->calls[k], "no result for this call");
    return 0;
}

/* bash reads one line: no control character may survive in a message. */
static void bash_error_line(struct kcr_buf *b, const char *msg)
{
    buf_append(b, "err ", 4);
    for (const char *p = msg; *p; p++) {
        char ch = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
        buf_append(b, &ch, 1);
    }
    buf_append(b, "\n", 1);
}

static char *reply_bash(const struct ptc_msg *m, size_t *ret_len)
{
    struct kcr_buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < m->n; i++) {
        const struct ptc_call *c = &m->calls[i];
        if (!c->ok) {
            bash_error_line(&b, c->error ? c->error : "Tool execution failed");
            continue;
        }
        /* Compact JSON escapes every control character: one line. */
        _cleanup_free_ char *v = json_dumps(c->value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!v) {
            bash_error_line(&b, "the tool result cannot be encoded");
            continue;
        }
        buf_printf(&b, "ok %s\n", v);
    }
    return buf_take(&b, ret_len);
}

static char *reply_py(const struct ptc_msg *m, size_t *ret_len)
{
    json_auto_t *results = json_array();
    for (size_t i = 0; i < m->n; i++) {
        const struct ptc_call *c = &m->calls[i];
        if (c->ok)
            json_array_append_new(
                results, json_pack("{s:O,s:b,s:O}", "id", c->id, "ok", 1, "value", c->value));
        else
            json_array_append_new(results,
                                  json_pack("{s:O,s:b,s:s}", "id", c->id, "ok", 0, "error",
                                            c->error ? c->error : "Tool execution failed"));
    }
    json_auto_t *root = json_pack("{s:O}", "results", results);
    _cleanup_free_ char *body = json_dumps(root, JSON_COMPACT);
    if (!body) /* only for values that cannot be encoded, which parsed JSON never holds */
        body = xstrdup("{\"results\":[]}");
    struct kcr_buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%zu\n%s", strlen(body), body);
    return buf_take(&b, ret_len);
}

char *ptc_msg_reply(const struct ptc_msg *m, bool bash, size_t *ret_len)
{
    return bash ? reply_bash(m, ret_len) : reply_py(m, ret_len);
}

void ptc_tools_free(char **tools)
{
    for (char **t = tools; t && *t; t++)
        free(*t);
    free(tools);
}

char **ptc_tools_parse(const json_t *tools, size_t *ret_n, char *why, size_t why_size)
{
    if (!json_is_array(tools) || json_array_size(tools) == 0 ||
        json_array_size(tools) > PTC_MAX_TOOLS)
        return why_set(why, why_size, "tools must be an array of 1 to %d names", PTC_MAX_TOOLS),
               NULL;
    size_t n = json_array_size(tools);
    char **out = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(tools, i);
        const char *s = json_string_value(t);
        size_t len = s ? json_string_length(t) : 0;
        bool ok = s && len >= 1 && len <= PTC_MAX_NAME && strlen(s) == len;
        for (size_t k = 0; ok && k < len; k++)
            ok = (unsigned char)s[k] >= 0x20 && s[k] != 0x7f;
        if (!ok) {
            ptc_tools_free(out);
            return why_set(why, why_size,
                           "tools[%zu] must be a name of 1 to %d bytes without control characters",
                           i, PTC_MAX_NAME),
                   NULL;
        }
        out[i] = xstrdup(s);
    }
    *ret_n = n;
    return out;
}
