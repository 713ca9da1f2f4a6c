/* sidecar-ptc-proto — the messages of programmatic tool calling, without I/O.
 *
 * The program (hostile) writes tool calls on its channel; the sidecar answers
 * each message once every call of it has a result (docs/ptc-sandbox.md):
 *
 *   program → sidecar   "<decimal length>\n" + that many bytes of
 *                       {"calls":[{"id":<string|integer>,"name":"<tool>",
 *                                  "input":<JSON> | "input_json":"<JSON text>"}]}
 *   sidecar → python    "<length>\n" + {"results":[{"id":..,"ok":true,"value":<JSON>}
 *                                                 | {"id":..,"ok":false,"error":".."}]}
 *   sidecar → bash      one line per call, in order: "ok <compact JSON>" or
 *                       "err <message, control characters as spaces>"
 *
 * Bounds: header (digits and newline) at most PTC_MAX_HEADER bytes, body at
 * most PTC_MAX_MESSAGE bytes, at most PTC_MAX_CALLS calls, ids at most
 * PTC_MAX_ID bytes. Anything else is a malformed message, which ends the run.
 * Invalid UTF-8 in a body is replaced (U+FFFD) before it is parsed: bash
 * cannot check what it forwards. "input_json" (what the bash functions send)
 * is parsed as JSON; text that is not JSON is the input as a string. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PTC_MAX_HEADER  20
#define PTC_MAX_MESSAGE (1u << 20)
#define PTC_MAX_CALLS   64
#define PTC_MAX_ID      256
#define PTC_MAX_TOOLS   128
#define PTC_MAX_NAME    256

struct ptc_call {
    json_t *id;        /* the program's own id: a string or an integer */
    char *name;        /* the original tool name, "" when absent */
    json_t *input;     /* never NULL */
    unsigned long seq; /* "call_<seq>" once handed to the client; 0: answered by the sidecar */
    bool answered;
    bool ok;
    json_t *value; /* ok: the result (never NULL once answered) */
    char *error;   /* !ok: the message */
};

struct ptc_msg {
    size_t n;
    struct ptc_call calls[PTC_MAX_CALLS];
};

/* Looks at the start of buf: 1 when a whole frame is there (*ret_hlen bytes
 * of header, then *ret_blen of body), 0 when more bytes are needed, -1 when
 * it is malformed (a non-digit before the newline, no newline within
 * PTC_MAX_HEADER bytes, a length of 0 or above PTC_MAX_MESSAGE). */
int ptc_frame_parse(const char *buf, size_t len, size_t *ret_hlen, size_t *ret_blen);

/* Parses a body into ret (initialised here). Returns 0, or -1 when it is not
 * a message (ret is then empty). */
int ptc_msg_parse(const char *body, size_t len, struct ptc_msg *ret);
void ptc_msg_done(struct ptc_msg *m);

/* Answers every call whose name is not one of tools (or is empty) with the
 * error "Sandbox requested an unregistered tool: <name>"; gives each other
 * call the next number of *seq. Returns how many calls wait for the client. */
size_t ptc_msg_assign(struct ptc_msg *m, char *const *tools, size_t ntools, unsigned long *seq);

/* The calls waiting for the client: [{"id":"call_<seq>","name","input"}]. New reference. */
json_t *ptc_msg_tool_calls(const struct ptc_msg *m);

/* Applies the body of POST /programmatic/continue,
 * {"tool_results":[{"call_id","result","is_error","error_message"}]}: a result
 * for a call that does not wait is ignored (so is a second one for the same
 * call); a waiting call without one gets the error "no result for this call".
 * Validated first: on -1 (why says what is wrong) nothing has changed. */
int ptc_msg_apply_results(struct ptc_msg *m, const char *body, size_t len, char *why,
                          size_t why_size);

/* The answer to m, every call answered: the framed JSON for Python, the
 * lines for bash. New buffer, its length in *ret_len. */
char *ptc_msg_reply(const struct ptc_msg *m, bool bash, size_t *ret_len);

/* The tools field of POST /programmatic: 1..PTC_MAX_TOOLS strings of
 * 1..PTC_MAX_NAME bytes, valid UTF-8 without control characters. Returns a
 * NULL-terminated array of copies, or NULL with why filled. */
char **ptc_tools_parse(const json_t *tools, size_t *ret_n, char *why, size_t why_size);
void ptc_tools_free(char **tools);
