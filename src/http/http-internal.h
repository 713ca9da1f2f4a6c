/* http-internal — what the files of src/http share, not for use outside
 * src/http and fuzz/:
 *  - the pure routing helpers of the HTTP layer (percent-decoding, path
 *    splitting, route matching, http-route.c), apart from libmicrohttpd so that
 *    they can be tested and fuzzed on their own;
 *  - the server, request and response structs and the functions the parts of
 *    the server share: http.c (server, routing, the MHD access handler),
 *    http-request.c (request accessors), http-response.c (responses and
 *    sending them), http-body.c (multipart body intake). */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/id.h"
#include "http/http.h"

#define HTTP_MAX_PARAMS   8
#define HTTP_MAX_SEGMENTS 64

/* Percent-decodes n bytes of s ('+' becomes ' ' when plus_is_space). Returns a
 * new string, or NULL on a bad escape or a NUL byte (raw or decoded). */
char *http_pct_decode(const char *s, size_t n, bool plus_is_space);

/* Splits and decodes a raw path into at most max segments (each a new string).
 * Returns the count or -1 on a bad escape / NUL byte / too many segments. A
 * trailing slash is ignored ("/files/" == "/files"). */
int http_split_path(const char *raw, char **segs, int max);

/* Matches decoded segments against a route pattern; on success fills params
 * (at most HTTP_MAX_PARAMS new strings) and *nparams. */
bool http_route_match(const char *pattern, char **segs, int nsegs, char **params,
                      unsigned *nparams);

/* url without prefix when it starts with prefix followed by '/' or its end
 * ("/" for the prefix alone); url itself otherwise. prefix may be NULL. */
const char *http_strip_prefix(const char *url, const char *prefix);

/* What routing found for one request; the strings are new (see http_route_free). */
struct http_route_result {
    char *path; /* decoded path after the prefix; the raw one on 400 */
    char *params[HTTP_MAX_PARAMS];
    unsigned nparams;
    const struct kcr_http_route *route; /* NULL unless 0 is returned */
};

/* Finds the route of cfg for method and raw url; returns 0, or 404/405/400
 * with *allow listing the methods that would match for 405. */
int http_route_find(const struct kcr_http_config *cfg, const char *method, const char *url,
                    struct http_route_result *ret, char *allow, size_t allow_size);

/* Frees the strings of a result (not the struct). */
void http_route_free(struct http_route_result *res);

/*** The server's structs (http.c and the files below) ***/

struct kcr_http_server {
    struct MHD_Daemon *daemon;
    const struct kcr_http_config *cfg;
    struct kcr_http_limits lim;
    const char *spool_dir;
    int port;
    int unix_fd;
    struct http_watch *watch;
};

struct field {
    char *name;
    struct kcr_buf value;
};

struct kcr_http_req {
    struct kcr_http_server *srv;
    struct MHD_Connection *conn;
    struct http_watch_conn *watch;
    char id[KCR_ID_LEN + 1];
    const char *method;
    char *path; /* decoded, prefix stripped */
    char *params[HTTP_MAX_PARAMS];
    unsigned nparams;
    const struct kcr_http_route *route;
    struct kcr_http_resp *early; /* decided before the body was read */
    int error_status;            /* decided while reading the body */
    char error_msg[200];
    struct kcr_buf body;
    uint64_t discarded;
    struct http_mp *mp; /* MULTIPART routes */
    struct kcr_http_part *parts;
    size_t nparts;
    struct field *fields;
    size_t nfields;
    bool in_part;   /* the current multipart part is a file (parts[nparts-1]), not a field */
    char **decoded; /* strings returned by http_req_query, freed with the request */
    size_t ndecoded;
    struct timespec start;
    int status;
    json_t *logf;
    void (*after)(void *arg);
    void *after_arg;
    size_t max_body; /* this request's BUFFER limit (lim.max_body unless lowered) */
    void *data;
    void (*data_free)(void *);
};

enum resp_kind { RESP_EMPTY, RESP_DATA, RESP_FD };

struct hdr {
    char *name;
    char *value;
};

struct kcr_http_resp {
    int status;
    enum resp_kind kind;
    char *content_type;
    char *data;
    size_t len;
    int fd;
    uint64_t size;
    struct hdr *hdrs;
    size_t nhdrs;
};

/* http-request.c */

/* Frees req and everything it owns (parts, fields, body, early response). */
void http_req_free(struct kcr_http_req *req);

/* http-response.c */

/* The response for an error status: the error hook's, else {"error": msg}. */
struct kcr_http_resp *http_error_resp(struct kcr_http_req *req, int status, const char *msg);
/* Queues r on req's connection (runs the finish hook) and frees r. */
enum MHD_Result http_queue(struct kcr_http_req *req, struct kcr_http_resp *r);

/* http-body.c */

/* Records the request's error (the first one stays). */
void http_set_error(struct kcr_http_req *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* bytes as "<n>MB" when whole mebibytes, else "<n> bytes". */
void http_limit_text(char *out, size_t size, size_t bytes);
/* The multipart parser's callbacks: files spooled to disk, fields in memory. */
extern const struct http_mp_callbacks http_body_mp_callbacks;
