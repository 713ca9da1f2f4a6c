/* A strict, streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * Why our own: libmicrohttpd's post processor refuses boundaries shorter than
 * 2 characters (RFC 2046 allows 1 to 70) and announces parts with quirky empty
 * calls. This one takes the body in chunks of any size (one byte at a time
 * gives the same events as the whole body at once) and reports each part as
 * begin, data..., end.
 *
 * Accepted: an optional preamble; "--B" at the start of the body or after
 * CRLF; spaces/tabs after a delimiter; part headers ending in an empty line
 * (CRLF or bare LF line ends); Content-Disposition: form-data with name (and
 * optional filename), as quoted-strings (backslash escapes) or tokens; the
 * close delimiter "--B--"; an ignored epilogue. Refused (malformed): a part
 * without Content-Disposition form-data or without name, a header block over
 * HTTP_MP_MAX_HEADERS bytes, a name, filename or content type over
 * HTTP_MP_MAX_VALUE bytes or holding a control character, folded header
 * lines, anything but "--" or padding+CRLF after a delimiter.
 *
 * Memory: one fixed-size allocation per parser, nothing proportional to the
 * body. Data bytes that might start a delimiter ("\r\n--B") are held back
 * until they turn out not to. */
#pragma once

#include <stddef.h>

#define HTTP_MP_MAX_BOUNDARY 70
#define HTTP_MP_MAX_HEADERS  8192 /* one part's header block, CRLFs included */
#define HTTP_MP_MAX_VALUE    1024 /* name, filename, content type */

/* Each returns 0 to go on or <0 to stop the parser (the callee recorded why). */
struct http_mp_callbacks {
    /* filename is NULL for a plain field (no filename parameter); content_type
     * is NULL when the part has none. The strings live until the call returns. */
    int (*part_begin)(void *ctx, const char *name, const char *filename, const char *content_type);
    int (*part_data)(void *ctx, const char *data, size_t len); /* len > 0 */
    int (*part_end)(void *ctx);
};

enum {
    HTTP_MP_OK = 0,
    HTTP_MP_MALFORMED = -1, /* the body is not valid multipart/form-data */
    HTTP_MP_STOPPED = -2,   /* a callback returned <0 */
};

struct http_mp;

/* A parser for a body sent with this Content-Type, or NULL when it is not
 * multipart/form-data with a valid boundary parameter (1 to 70 RFC 2046
 * bchars, quoted or not, not ending in a space). */
struct http_mp *http_mp_new(const char *content_type, const struct http_mp_callbacks *cb,
                            void *ctx);

/* Parses the next len bytes of the body. Returns HTTP_MP_OK, or the error,
 * which sticks: later calls return it again without calling back. */
int http_mp_feed(struct http_mp *mp, const char *data, size_t len);

/* The body is complete: HTTP_MP_OK if the close delimiter was seen, else
 * HTTP_MP_MALFORMED (or the earlier error). */
int http_mp_finish(struct http_mp *mp);

void http_mp_free(struct http_mp *mp);
