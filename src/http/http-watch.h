/* http-watch — deadlines for reading a request (slow-client defence).
 *
 * libmicrohttpd's own timeout is for idleness: a client that sends one byte
 * every few seconds holds a connection (and, one thread per connection, a
 * thread) for ever. The watch gives each connection a deadline for its
 * request's headers and one for its body; a connection past its deadline is
 * shut down from a watchdog thread (shutdown(2): its own thread then sees
 * the end and closes it). While a handler runs there is no deadline.
 * Internal to src/http. */
#pragma once

#include <stdbool.h>

struct http_watch;
struct http_watch_conn;

/* header_s: from a connection's start to the end of its first request's
 * headers; body_s: from there to the body's end; idle_s: from a response to
 * the end of the next request's headers on the same connection. */
struct http_watch *http_watch_start(unsigned header_s, unsigned body_s, unsigned idle_s);
struct http_watch *http_watch_stop(struct http_watch *w);

/* A connection on fd begins (the headers deadline runs); NULL when out of
 * memory, then the connection is not watched. */
struct http_watch_conn *http_watch_open(struct http_watch *w, int fd);
/* It ends; c is freed. Called before its fd is closed, so the watchdog
 * never shuts down a reused fd. */
void http_watch_close(struct http_watch *w, struct http_watch_conn *c);

/* The request's headers are in (the body deadline runs). */
void http_watch_headers(struct http_watch *w, struct http_watch_conn *c);
/* The whole request is in: no deadline while it is handled. */
void http_watch_busy(struct http_watch *w, struct http_watch_conn *c);
/* Its response went out: the next request's deadline (idle_s) runs. */
void http_watch_idle(struct http_watch *w, struct http_watch_conn *c);

/* Connections cut so far. */
unsigned long http_watch_cut_count(struct http_watch *w);
