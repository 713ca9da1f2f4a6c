/* pod-fake — a FAKE pod backend and a FAKE sidecar, for unit tests only
 * (tests/fakes/: built into build/libfakes.a, which only unit tests link;
 * no kcr binary contains it).
 *
 * The fake sidecar is a real HTTP/1.1 server on a unix socket (one thread,
 * one connection at a time, Connection: close) whose replies come from a
 * handler the test supplies, so sidecar-client.c and pool.c are tested over
 * real sockets. The fake backend "creates" pods instantly (or after a delay),
 * pointing them at one shared fake sidecar that answers GET /ready with a
 * status the test controls and every other request with a handler the test
 * may set (pod_fake_set_handler); it counts creates and destroys, can be
 * told to fail, and can hand out pods whose sidecar is gone
 * (pod_fake_set_dead_pods). Nothing here runs user code or isolates
 * anything. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "pod/pod.h"

/*** Fake sidecar ***/

struct pod_fake_request {
    char method[16];
    char path[1024]; /* with the query string */
    char *headers;   /* raw header block, NUL-terminated */
    char *body;      /* NUL-terminated copy of the body (may hold NULs) */
    size_t body_len;
};

/* Writes a complete raw HTTP response to fd (use pod_fake_reply for the usual
 * case). Runs on the server thread. */
typedef void (*pod_fake_handler)(const struct pod_fake_request *req, int fd, void *userdata);

struct pod_fake_sidecar;

/* Listens on a new unix socket in a fresh directory under /tmp and serves
 * requests with handler until freed. */
struct pod_fake_sidecar *pod_fake_sidecar_new(pod_fake_handler handler, void *userdata,
                                              struct kcr_err *err);
/* The socket path (borrowed). */
const char *pod_fake_sidecar_path(const struct pod_fake_sidecar *s);
/* Number of requests served so far. */
unsigned pod_fake_sidecar_requests(struct pod_fake_sidecar *s);
/* Stops the thread, removes the socket. Accepts NULL; returns NULL. */
struct pod_fake_sidecar *pod_fake_sidecar_free(struct pod_fake_sidecar *s);

/* send(2) all of data without SIGPIPE. Returns 0 or -errno. */
int pod_fake_send(int fd, const void *data, size_t len);
/* Writes "HTTP/1.1 <status>" with Content-Length and body. */
void pod_fake_reply(int fd, int status, const char *content_type, const void *body, size_t len);
/* pod_fake_reply with j as compact JSON; takes j. */
void pod_fake_reply_json(int fd, int status, json_t *j);

/*** Fake backend ***/

struct pod_fake_stats {
    unsigned creates;  /* successful creates */
    unsigned failures; /* failed creates */
    unsigned destroys;
    int live; /* created and not yet destroyed */
};

/* A backend whose pods talk to one fake sidecar. */
struct kcr_pod_backend *pod_fake_new(struct kcr_err *err);
/* Each create sleeps this long first (default 0). */
void pod_fake_set_create_delay(struct kcr_pod_backend *be, int ms);
/* Creates fail with KCR_ERR_UNAVAILABLE "fake: runtime missing" while true. */
void pod_fake_set_fail(struct kcr_pod_backend *be, bool fail);
/* Status the fake sidecar answers GET /ready with (default 200). */
void pod_fake_set_ready_status(struct kcr_pod_backend *be, int status);
/* Every request but GET /ready goes to handler (on the sidecar's thread);
 * NULL (the default) answers 404. */
void pod_fake_set_handler(struct kcr_pod_backend *be, pod_fake_handler handler, void *userdata);
/* The next n pods created point at a socket nobody listens on: every request
 * to them fails to connect, as to a warm pod that died while it waited. */
void pod_fake_set_dead_pods(struct kcr_pod_backend *be, unsigned n);
void pod_fake_get_stats(struct kcr_pod_backend *be, struct pod_fake_stats *ret);
