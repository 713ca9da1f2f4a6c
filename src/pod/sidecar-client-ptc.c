/* sidecar-client-ptc — the sidecar's programmatic-run calls. The tool calls
 * a paused program asks for come from inside the pod: each is checked (its
 * id a short printable string, its name one of the run's tools, at most
 * SIDECAR_PTC_MAX_CALLS of them) before kcr hands it to a client. */
#include "pod/sidecar-client-internal.h"
#include "common/cleanup.h"
#include "common/xalloc.h"

#include <string.h>

#define PTC_CALL_ID_MAX 64
/* Tool calls a paused program hands over: the sidecar bounds one message
 * from the program at 1 MiB; JSON re-encoding may grow it. */
#define PTC_CALLS_CAP     (4u << 20)
#define CANCEL_TIMEOUT_MS 10000L

static bool printable_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PTC_CALL_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool known_tool(const char *name, const char *const *tools, size_t ntools)
{
    for (size_t i = 0; i < ntools; i++)
        if (!strcmp(name, tools[i]))
            return true;
    return false;
}

/* Checks the paused reply's calls; on success they are ret's. */
static int take_calls(json_t *j, const char *const *tools, size_t ntools, struct kcr_ptc_step *ret,
                      struct kcr_err *err)
{
    json_t *calls = json_object_get(j, "tool_calls");
    size_t n = json_array_size(calls);
    if (!json_is_array(calls) || n == 0 || n > SIDECAR_PTC_MAX_CALLS)
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sidecar /programmatic: bad tool_calls");
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(calls, i);
        const char *id = json_string_value(json_object_get(c, "id"));
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!json_is_object(c) || !id || !name || !printable_id(id) ||
            !known_tool(name, tools, ntools) || !json_object_get(c, "input"))
            return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                               "sidecar /programmatic: tool call %zu is malformed", i);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(id, json_string_value(json_object_get(json_array_get(calls, k), "id"))))
                return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                                   "sidecar /programmatic: duplicate tool call id");
    }
    /* Only the three fields go on: nothing else the pod wrote reaches a client. */
    json_t *clean = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *c = json_array_get(calls, i);
        json_array_append_new(clean, json_pack("{s:O,s:O,s:O}", "id", json_object_get(c, "id"),
                                               "name", json_object_get(c, "name"), "input",
                                               json_object_get(c, "input")));
    }
    ret->paused = true;
    ret->tool_calls = clean;
    return 0;
}

/* One POST with a JSON body whose reply is a step. */
static int step_call(const struct kcr_pod *pod, const char *path, json_t *body, long timeout_ms,
                     const char *const *tools, size_t ntools, struct kcr_ptc_step *ret,
                     struct kcr_err *err)
{
    _cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "encode %s body", path);
    struct sc_call c;
    /* Room for a listing too: the done answer of any step carries one when
     * the start asked for list_files. */
    int r = sc_call_init(&c, pod, path, timeout_ms,
                         sc_exec_body_cap() + PTC_CALLS_CAP + SC_LIST_BODY_CAP, err);
    if (r == 0) {
        c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
        curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
        r = sc_call_perform(&c, path, err);
        long sent = 0;
        ret->result.sent =
            curl_easy_getinfo(c.h, CURLINFO_REQUEST_SIZE, &sent) != CURLE_OK || sent > 0;
    }
    json_auto_t *j = r == 0 ? sc_call_json(&c, path, err) : NULL;
    sc_call_done(&c);
    if (!j)
        return -1;
    const char *status = json_string_value(json_object_get(j, "status"));
    if (status && !strcmp(status, "tool_call_required"))
        return take_calls(j, tools, ntools, ret, err);
    if (status && !strcmp(status, "done")) {
        bool sent = ret->result.sent;
        r = sc_parse_exec(j, &ret->result, err);
        ret->result.sent = sent;
        return r;
    }
    return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE, "sidecar %s: unknown status", path);
}

int sidecar_client_ptc_start(const struct kcr_pod *pod, const struct kcr_exec_req *req,
                             const char *lang, const char *const *tools, size_t ntools,
                             struct kcr_ptc_step *ret, struct kcr_err *err)
{
    *ret = (struct kcr_ptc_step){0};
    if (req->timeout_s <= 0 || req->timeout_s > 86400)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "timeout %d s out of range", req->timeout_s);
    json_auto_t *body = sc_exec_body(req, err);
    if (!body)
        return -1;
    json_t *names = json_array();
    for (size_t i = 0; i < ntools; i++) {
        json_t *n = json_string(tools[i]);
        if (!n) {
            json_decref(names);
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "tool name %zu is not valid UTF-8", i);
        }
        json_array_append_new(names, n);
    }
    json_object_set_new(body, "tools", names);
    json_object_set_new(body, "lang", json_string(lang));
    return step_call(pod, "/programmatic", body, req->timeout_s * 1000L + EXEC_MARGIN_MS, tools,
                     ntools, ret, err);
}

int sidecar_client_ptc_continue(const struct kcr_pod *pod, json_t *tool_results, int timeout_s,
                                const char *const *tools, size_t ntools, struct kcr_ptc_step *ret,
                                struct kcr_err *err)
{
    *ret = (struct kcr_ptc_step){0};
    json_auto_t *body = json_pack("{s:O}", "tool_results", tool_results);
    if (!body)
        return kcr_err_set(err, ENOMEM, KCR_ERR_INTERNAL, "encode tool results");
    return step_call(pod, "/programmatic/continue", body, timeout_s * 1000L + EXEC_MARGIN_MS, tools,
                     ntools, ret, err);
}

int sidecar_client_ptc_cancel(const struct kcr_pod *pod, struct kcr_err *err)
{
    struct sc_call c;
    int r = sc_call_init(&c, pod, "/programmatic/cancel", CANCEL_TIMEOUT_MS, 4096, err);
    if (r == 0) {
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c.h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        r = sc_call_perform(&c, "/programmatic/cancel", err);
    }
    sc_call_done(&c);
    return r;
}

void sidecar_client_ptc_step_done(struct kcr_ptc_step *step)
{
    if (!step)
        return;
    json_decref(step->tool_calls);
    sidecar_client_result_done(&step->result);
    *step = (struct kcr_ptc_step){0};
}
