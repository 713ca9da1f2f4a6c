#include "sidecar/sidecar-ptc.h"
#include "sidecar/sidecar-files.h"
#include "sidecar/sidecar-ptc-proto.h"
#include "sidecar/sidecar-result.h"
#include "common/cleanup.h"
#include "common/id.h"
#include "common/log.h"
#include "common/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define IN_MAX     (PTC_MAX_HEADER + PTC_MAX_MESSAGE)

enum run_state {
    RUN_WORKING,    /* a handler owns it: starting or pumping */
    RUN_PAUSED,     /* waiting for /continue; nobody touches it but under the lock */
    RUN_CANCELLING, /* paused, then cancelled: the cancel finishes it (/continue waits) */
    RUN_ENDED,      /* finished by a cancel; its answer waits for /continue */
};

/* Our end of the program's channel, served inside the pump loop. The
 * program writes a message, we answer it (out), then read the next: we never
 * read while an answer is unwritten or the client has the calls, so what we
 * hold is bounded by one message and one answer. */
struct chan {
    struct sidecar_chan base; /* base.fd: our end, non-blocking */
    char *in;
    size_t in_len;
    char *out;
    size_t out_len, out_off;
    bool eof;
};

struct ptc_run {
    struct sidecar_ptc_request r; /* owned: the program's stdin lives here */
    struct sidecar_live *live;
    struct sidecar_result res;
    struct chan chan;
    struct ptc_msg msg; /* the message being answered */
    unsigned long seq;  /* the last call_<n> given out */
    bool violation;     /* a malformed message ended the run */
    bool cancelled;
    enum run_state state;
    int ended_status; /* RUN_ENDED: the answer */
    json_t *ended_body;
    const char *data_dir; /* the sidecar's working directory, for list_files */
};

struct sidecar_ptc {
    pthread_mutex_t lock; /* guards run and run->state, ->cancelled, ->live */
    pthread_cond_t ended; /* a cancelled paused run reached RUN_ENDED */
    struct ptc_run *run;
};

struct sidecar_ptc *sidecar_ptc_new(void)
{
    struct sidecar_ptc *ptc = xcalloc(1, sizeof(*ptc));
    pthread_mutex_init(&ptc->lock, NULL);
    pthread_cond_init(&ptc->ended, NULL);
    return ptc;
}

static void run_free(struct ptc_run *run)
{
    if (!run)
        return;
    run->live = sidecar_live_free(run->live);
    run->chan.base.fd = safe_close(run->chan.base.fd);
    free(run->chan.in);
    free(run->chan.out);
    ptc_msg_done(&run->msg);
    sidecar_result_done(&run->res);
    sidecar_ptc_request_done(&run->r);
    json_decref(run->ended_body);
    free(run);
}

struct sidecar_ptc *sidecar_ptc_free(struct sidecar_ptc *ptc)
{
    if (!ptc)
        return NULL;
    run_free(ptc->run);
    pthread_mutex_destroy(&ptc->lock);
    pthread_cond_destroy(&ptc->ended);
    free(ptc);
    return NULL;
}

bool sidecar_ptc_active(struct sidecar_ptc *ptc)
{
    pthread_mutex_lock(&ptc->lock);
    bool active = ptc->run && ptc->run->state != RUN_ENDED;
    pthread_mutex_unlock(&ptc->lock);
    return active;
}

/*** The request ***/

void sidecar_ptc_request_done(struct sidecar_ptc_request *r)
{
    sidecar_request_done(&r->req);
    ptc_tools_free(r->tools);
    r->tools = NULL;
    r->ntools = 0;
}

static int request_fail(struct sidecar_ptc_request *r, struct sidecar_request_error *e, int status,
                        const char *field, const char *msg)
{
    sidecar_ptc_request_done(r);
    e->status = status;
    e->field = field;
    snprintf(e->msg, sizeof(e->msg), "%s", msg);
    return -1;
}

int sidecar_ptc_request_parse(const char *body, size_t len, const char *default_lang,
                              long max_timeout, struct sidecar_ptc_request *ret,
                              struct sidecar_request_error *e)
{
    memset(ret, 0, sizeof(*ret));
    if (sidecar_request_parse(body, len, default_lang, max_timeout, &ret->req, e) < 0)
        return -1;
    if (ptc_dialect_of(ret->req.lang, &ret->dialect) < 0)
        return request_fail(ret, e, 400, "lang",
                            "programmatic tool calling supports lang py and bash only");
    /* Parsed once more for tools: sidecar_request_parse validated the JSON. */
    json_auto_t *root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    json_t *tools = json_object_get(root, "tools");
    if (!tools || json_is_null(tools))
        return request_fail(ret, e, 400, "tools", "tools is required");
    char why[160];
    ret->tools = ptc_tools_parse(tools, &ret->ntools, why, sizeof(why));
    if (!ret->tools || ptc_tools_check(ret->tools, ret->ntools, ret->dialect, why, sizeof(why)) < 0)
        return request_fail(ret, e, 422, "tools", why);
    return 0;
}

/*** The channel ***/

/* Appends the invalid-message line to stderr once the run is over. */
static void note_violation(struct ptc_run *run)
{
    struct kcr_buf *b = &run->res.err;
    if (b->len && b->data[b->len - 1] != '\n')
        buf_append(b, "\n", 1);
    buf_printf(b, "kcr: invalid tool call message\n");
}

static void set_reply(struct chan *c, char *out, size_t len)
{
    free(c->out);
    c->out = out;
    c->out_len = len;
    c->out_off = 0;
    c->base.events = POLLOUT;
}

/* A whole message at the start of in: answered at once (every call was for
 * an unregistered tool) or handed to the client (PAUSE). */
static enum sidecar_chan_verdict take_message(struct ptc_run *run)
{
    struct chan *c = &run->chan;
    size_t hlen = 0, blen = 0;
    int r = ptc_frame_parse(c->in, c->in_len, &hlen, &blen);
    if (r == 0) {
        c->base.events = c->eof ? 0 : POLLIN; /* a message cut by EOF: nothing to answer */
        return SIDECAR_CHAN_GO_ON;
    }
    if (r < 0 || ptc_msg_parse(c->in + hlen, blen, &run->msg) < 0) {
        run->violation = true;
        c->base.events = 0;
        return SIDECAR_CHAN_KILL;
    }
    c->in_len -= hlen + blen;
    memmove(c->in, c->in + hlen + blen, c->in_len);
    if (ptc_msg_assign(&run->msg, run->r.tools, run->r.ntools, &run->seq) > 0) {
        c->base.events = 0;
        return SIDECAR_CHAN_PAUSE;
    }
    size_t len = 0;
    char *out = ptc_msg_reply(&run->msg, run->r.dialect == PTC_BASH, &len);
    ptc_msg_done(&run->msg);
    set_reply(c, out, len);
    return SIDECAR_CHAN_GO_ON;
}

/* Reads what is there, up to one frame's bound. */
static void chan_read(struct chan *c)
{
    char chunk[READ_CHUNK];
    size_t room = IN_MAX - c->in_len;
    if (room == 0)
        return; /* cannot happen: a frame over the bound is refused before */
    ssize_t n;
    do
        n = recv(c->base.fd, chunk, room < sizeof(chunk) ? room : sizeof(chunk), MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        c->in = xrealloc(c->in, c->in_len + (size_t)n);
        memcpy(c->in + c->in_len, chunk, (size_t)n);
        c->in_len += (size_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        c->eof = true; /* the program closed fd 4, or is gone: not an error */
    }
}

/* Writes what the socket takes; true once the answer is out (or cannot be
 * delivered: the program closed its end, or died). */
static bool chan_write(struct chan *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->base.fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        c->eof = true;
        break;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return true;
}

static enum sidecar_chan_verdict chan_ready(struct sidecar_chan *base, short revents)
{
    struct ptc_run *run = (struct ptc_run *)((char *)base - offsetof(struct ptc_run, chan.base));
    struct chan *c = &run->chan;
    if (c->out) {
        if (!chan_write(c))
            return SIDECAR_CHAN_GO_ON;
        /* Answered: a message may be buffered already. */
        return take_message(run);
    }
    if (revents & (POLLIN | POLLHUP | POLLERR))
        chan_read(c);
    return take_message(run);
}

/*** Answers ***/

static json_t *done_json(const struct sidecar_result *res)
{
    json_t *o = sidecar_result_to_json(res);
    json_object_set_new(o, "status", json_string("done"));
    return o;
}

/* The run is over (pumped to its end, r = 1 or -1): its answer. */
static void run_outcome(struct ptc_run *run, int r, const struct kcr_err *err, int *ret_status,
                        json_t **ret_body)
{
    if (r < 0) {
        /* The program never ran (a setup step): the errors of /execute. */
        *ret_status = sidecar_exec_error_status(err);
        *ret_body = sidecar_exec_error_body(err);
        return;
    }
    if (run->violation)
        note_violation(run);
    *ret_status = 200;
    *ret_body = done_json(&run->res);
    /* As /execute's: the run's processes are all dead once it is over. */
    if (run->r.req.list_files)
        sidecar_files_add_listing(*ret_body, run->data_dir);
}

/* Pumps the run this thread owns until it pauses or ends, and answers. */
static struct kcr_http_resp *pump(struct sidecar_ptc *ptc, struct ptc_run *run,
                                  struct kcr_http_req *req)
{
    struct kcr_err err = {0};
    int r = sidecar_live_pump(run->live, &run->chan.base, &run->res, &err);
    if (r == 0) {
        json_t *calls = ptc_msg_tool_calls(&run->msg);
        http_req_log(req, "tool_calls", json_integer((json_int_t)json_array_size(calls)));
        pthread_mutex_lock(&ptc->lock);
        run->state = RUN_PAUSED;
        pthread_mutex_unlock(&ptc->lock);
        return http_resp_json(
            200, json_pack("{s:s,s:o}", "status", "tool_call_required", "tool_calls", calls));
    }
    int status;
    json_t *body;
    run_outcome(run, r, &err, &status, &body);
    if (r < 0)
        http_req_log(req, "error", json_string(err.msg));
    else
        http_req_log(req, "exit_code", json_integer(run->res.exit_code));
    pthread_mutex_lock(&ptc->lock);
    ptc->run = NULL;
    pthread_mutex_unlock(&ptc->lock);
    run_free(run);
    return http_resp_json(status, body);
}

/*** Handlers ***/

static struct kcr_http_resp *no_paused_run(void)
{
    return sidecar_files_error(409, "no programmatic run is paused", NULL);
}

struct kcr_http_resp *sidecar_ptc_begin(struct sidecar_ptc *ptc, struct kcr_http_req *req,
                                        const struct sidecar_exec_params *p,
                                        struct sidecar_ptc_request *r)
{
    struct ptc_run *run = xcalloc(1, sizeof(*run));
    run->r = *r;
    memset(r, 0, sizeof(*r));
    run->data_dir = p->data_dir;
    run->chan.base = (struct sidecar_chan){.fd = -1, .events = POLLIN, .ready = chan_ready};
    sidecar_result_init(&run->res, p->max_output);
    pthread_mutex_lock(&ptc->lock);
    if (ptc->run && ptc->run->state != RUN_ENDED) {
        pthread_mutex_unlock(&ptc->lock);
        run_free(run);
        return sidecar_files_error(409, "a programmatic run is already in progress", NULL);
    }
    run_free(ptc->run); /* a cancelled run whose answer nobody fetched */
    ptc->run = run;
    pthread_mutex_unlock(&ptc->lock);

    struct kcr_err err = {0};
    int sp[2] = {-1, -1};
    char lock_id[KCR_ID_LEN + 1];
    id_new(lock_id);
    char cls[128];
    _cleanup_free_ char *file = sidecar_exec_place_code(p, &run->r.req, cls, sizeof(cls), &err);
    char **argv = NULL;
    if (file && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        kcr_err_set(&err, errno, KCR_ERR_INTERNAL, "socketpair");
    else if (file)
        argv = ptc_argv(run->r.dialect, run->r.req.lang->steps[0][0], file, run->r.tools,
                        run->r.ntools, run->r.req.args, run->r.req.nargs, lock_id);
    struct sidecar_live *live =
        argv ? sidecar_live_start(p, argv, run->r.req.working_dir, &run->r.req, sp[1], &err) : NULL;
    ptc_argv_free(argv);
    sp[1] = safe_close(sp[1]); /* the program's end: only its processes hold it now */
    run->chan.base.fd = sp[0]; /* used with MSG_DONTWAIT only */
    http_req_log(req, "lang", json_string(run->r.req.lang->code));
    pthread_mutex_lock(&ptc->lock);
    run->live = live;
    if (!live)
        ptc->run = NULL;
    else if (run->cancelled)
        sidecar_live_kill(live);
    pthread_mutex_unlock(&ptc->lock);
    if (live)
        return NULL;
    run_free(run);
    http_req_log(req, "error", json_string(err.msg));
    return http_resp_json(sidecar_exec_error_status(&err), sidecar_exec_error_body(&err));
}

struct kcr_http_resp *sidecar_ptc_answer(struct sidecar_ptc *ptc, struct kcr_http_req *req)
{
    pthread_mutex_lock(&ptc->lock);
    struct ptc_run *run = ptc->run; /* ours: begin left it RUN_WORKING */
    pthread_mutex_unlock(&ptc->lock);
    return pump(ptc, run, req);
}

struct kcr_http_resp *sidecar_ptc_continue(struct sidecar_ptc *ptc, struct kcr_http_req *req)
{
    const struct kcr_buf *body = http_req_body(req);
    pthread_mutex_lock(&ptc->lock);
    /* A cancel that found the run paused finishes it in a moment (the kill,
     * the namespace's end); its client's continuation, already on its way,
     * gets that answer rather than "nothing paused". */
    while (ptc->run && ptc->run->state == RUN_CANCELLING)
        pthread_cond_wait(&ptc->ended, &ptc->lock);
    struct ptc_run *run = ptc->run;
    if (run && run->state == RUN_ENDED) {
        /* Cancelled while paused: the answer the cancel kept. */
        ptc->run = NULL;
        pthread_mutex_unlock(&ptc->lock);
        struct kcr_http_resp *resp =
            http_resp_json(run->ended_status, json_incref(run->ended_body));
        run_free(run);
        return resp;
    }
    if (!run || run->state != RUN_PAUSED) {
        pthread_mutex_unlock(&ptc->lock);
        return no_paused_run();
    }
    char why[200];
    if (ptc_msg_apply_results(&run->msg, body->data, body->len, why, sizeof(why)) < 0) {
        pthread_mutex_unlock(&ptc->lock);
        return sidecar_files_error(400, why, "tool_results");
    }
    run->state = RUN_WORKING;
    pthread_mutex_unlock(&ptc->lock);
    size_t len = 0;
    char *out = ptc_msg_reply(&run->msg, run->r.dialect == PTC_BASH, &len);
    ptc_msg_done(&run->msg);
    set_reply(&run->chan, out, len);
    return pump(ptc, run, req);
}

struct kcr_http_resp *sidecar_ptc_cancel(struct sidecar_ptc *ptc, struct kcr_http_req *req)
{
    pthread_mutex_lock(&ptc->lock);
    struct ptc_run *run = ptc->run;
    if (!run || run->state == RUN_ENDED) {
        pthread_mutex_unlock(&ptc->lock);
        return http_resp_json(200, json_pack("{s:b}", "cancelled", 0));
    }
    run->cancelled = true;
    if (run->live)
        sidecar_live_kill(run->live);
    bool paused = run->state == RUN_PAUSED;
    if (paused)
        run->state = RUN_CANCELLING; /* ours now: nobody else pumps it */
    pthread_mutex_unlock(&ptc->lock);
    http_req_log(req, "paused", json_boolean(paused));
    if (paused) {
        /* Nobody pumps a paused run: finish it here (the namespace dies at
         * once) and keep the answer for /continue. */
        struct kcr_err err = {0};
        run->chan.base.events = 0;
        int r = sidecar_live_pump(run->live, &run->chan.base, &run->res, &err);
        int status;
        json_t *body;
        run_outcome(run, r == 0 ? 1 : r, &err, &status, &body);
        pthread_mutex_lock(&ptc->lock);
        run->ended_status = status;
        run->ended_body = body;
        run->state = RUN_ENDED;
        pthread_cond_broadcast(&ptc->ended);
        pthread_mutex_unlock(&ptc->lock);
    }
    return http_resp_json(200, json_pack("{s:b}", "cancelled", 1));
}
