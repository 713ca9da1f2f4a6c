/* A strict, streaming multipart/form-data parser (see http-multipart.h). */
#include "http/http-multipart.h"
#include "common/xalloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
    S_PREAMBLE,    /* before the first delimiter: skipped */
    S_AFTER_DELIM, /* just after "--B": "--", padding or a line end follows */
    S_AFTER_DASH,  /* after "--B-" */
    S_PADDING,     /* spaces/tabs after a delimiter */
    S_PAD_CR,      /* a CR after a delimiter (and padding) */
    S_HEADERS,     /* a part's header block */
    S_BODY,        /* a part's data */
    S_EPILOGUE,    /* after the close delimiter: skipped */
    S_ERROR,       /* stuck: mp->error says why */
};

struct http_mp {
    struct http_mp_callbacks cb;
    void *ctx;
    enum state state;
    int error;
    char delim[4 + HTTP_MP_MAX_BOUNDARY]; /* "\r\n--B", not NUL-terminated */
    size_t dlen;
    /* How many bytes of delim the input has matched so far. They are held
     * back, not emitted: they are data only once a later byte breaks the
     * match, and then they are delim[0..held) again, so need no copy. */
    size_t held;
    bool in_part; /* part_begin was called and part_end not yet */
    size_t block; /* bytes of the current header block so far */
    size_t linelen;
    bool has_disp, has_name, has_filename, has_ctype;
    char name[HTTP_MP_MAX_VALUE + 1];
    char filename[HTTP_MP_MAX_VALUE + 1];
    char ctype[HTTP_MP_MAX_VALUE + 1];
    char line[HTTP_MP_MAX_HEADERS]; /* the header line being read */
};

/*** Header values (RFC 7230 tokens, quoted-strings, parameters) ***/

struct cursor {
    const char *s;
    size_t n, pos;
};

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Control characters would truncate or split the strings we hand on. */
static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* An unquoted parameter value: looser than a token, as clients send bare
 * UTF-8 and '/', '=', ':' there. */
static bool is_bare_value(unsigned char c)
{
    return c > 0x20 && c != 0x7f && c != ';' && c != '"';
}

static bool eq(const char *s, size_t n, const char *lit)
{
    return n == strlen(lit) && !strncasecmp(s, lit, n);
}

static void skip_ows(struct cursor *c)
{
    while (c->pos < c->n && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t'))
        c->pos++;
}

/* A run of tchars at the cursor; returns its length (0: none). */
static size_t read_token(struct cursor *c, const char **tok)
{
    *tok = c->s + c->pos;
    size_t start = c->pos;
    while (c->pos < c->n && is_tchar((unsigned char)c->s[c->pos]))
        c->pos++;
    return c->pos - start;
}

/* A quoted-string (unescaped) or bare value into out (NUL-terminated).
 * Returns -1 when malformed, longer than HTTP_MP_MAX_VALUE or holding a
 * control character. */
static int read_value(struct cursor *c, char out[HTTP_MP_MAX_VALUE + 1])
{
    size_t len = 0;
    if (c->pos < c->n && c->s[c->pos] == '"') {
        c->pos++;
        for (;;) {
            if (c->pos >= c->n)
                return -1;
            unsigned char ch = (unsigned char)c->s[c->pos++];
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (c->pos >= c->n)
                    return -1;
                ch = (unsigned char)c->s[c->pos++];
            }
            if (is_ctl(ch) || len == HTTP_MP_MAX_VALUE)
                return -1;
            out[len++] = (char)ch;
        }
    } else {
        while (c->pos < c->n && is_bare_value((unsigned char)c->s[c->pos])) {
            if (len == HTTP_MP_MAX_VALUE)
                return -1;
            out[len++] = c->s[c->pos++];
        }
        if (!len)
            return -1;
    }
    out[len] = '\0';
    return 0;
}

/* The next "; name=value" parameter: 1 with *name and *nlen pointing into the
 * input and the value in val, 0 at the end, -1 if malformed. */
static int next_param(struct cursor *c, const char **name, size_t *nlen,
                      char val[HTTP_MP_MAX_VALUE + 1])
{
    skip_ows(c);
    if (c->pos == c->n)
        return 0;
    if (c->s[c->pos] != ';')
        return -1;
    c->pos++;
    skip_ows(c);
    if (c->pos == c->n)
        return 0; /* a trailing ';' */
    *nlen = read_token(c, name);
    skip_ows(c);
    if (!*nlen || c->pos == c->n || c->s[c->pos] != '=')
        return -1;
    c->pos++;
    skip_ows(c);
    return read_value(c, val) < 0 ? -1 : 1;
}

/* RFC 2046: boundary := 0*69<bchars> bcharsnospace. */
static bool valid_boundary(const char *b)
{
    size_t n = strlen(b);
    if (n < 1 || n > HTTP_MP_MAX_BOUNDARY || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && !strchr("'()+_,-./:=? ", c))
            return false;
    }
    return true;
}

/* "multipart/form-data; ...; boundary=B; ..." → B; -1 for anything else. */
static int content_type_boundary(const char *ct, char boundary[HTTP_MP_MAX_VALUE + 1])
{
    struct cursor c = {ct, strlen(ct), 0};
    const char *t;
    skip_ows(&c);
    size_t n = read_token(&c, &t);
    if (!eq(t, n, "multipart") || c.pos == c.n || c.s[c.pos] != '/')
        return -1;
    c.pos++;
    n = read_token(&c, &t);
    if (!eq(t, n, "form-data"))
        return -1;
    bool found = false;
    char val[HTTP_MP_MAX_VALUE + 1];
    const char *pname;
    size_t plen;
    int r;
    while ((r = next_param(&c, &pname, &plen, val)) > 0) {
        if (!eq(pname, plen, "boundary"))
            continue;
        if (found)
            return -1; /* two boundaries: which one would the sender mean? */
        found = true;
        memcpy(boundary, val, sizeof(val));
    }
    return r == 0 && found && valid_boundary(boundary) ? 0 : -1;
}

/*** Parser ***/

static void fail(struct http_mp *mp, int error)
{
    if (mp->state != S_ERROR) {
        mp->state = S_ERROR;
        mp->error = error;
    }
}

struct http_mp *http_mp_new(const char *content_type, const struct http_mp_callbacks *cb, void *ctx)
{
    char b[HTTP_MP_MAX_VALUE + 1];
    if (!content_type || content_type_boundary(content_type, b) < 0)
        return NULL;
    struct http_mp *mp = xcalloc(1, sizeof(*mp));
    mp->cb = *cb;
    mp->ctx = ctx;
    mp->dlen = 4 + strlen(b);
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, b, mp->dlen - 4);
    mp->state = S_PREAMBLE;
    /* "--B" may open the body with no CRLF before it: start as if one was seen. */
    mp->held = 2;
    return mp;
}

void http_mp_free(struct http_mp *mp)
{
    free(mp);
}

/* Data bytes: to the current part, or dropped in the preamble. */
static void emit(struct http_mp *mp, const char *p, size_t n)
{
    if (mp->state != S_BODY || !n || !mp->cb.part_data)
        return;
    if (mp->cb.part_data(mp->ctx, p, n) < 0)
        fail(mp, HTTP_MP_STOPPED);
}

static void delimiter_seen(struct http_mp *mp)
{
    if (mp->in_part) {
        mp->in_part = false;
        if (mp->cb.part_end && mp->cb.part_end(mp->ctx) < 0) {
            fail(mp, HTTP_MP_STOPPED);
            return;
        }
    }
    mp->state = S_AFTER_DELIM;
}

/* How many bytes at p are data for sure: up to the first CR that the bytes
 * after it (as far as p goes) do not rule out as the start of "\r\n--B".
 * delim[0] is its only CR (bchars have none), so a match can only start at a
 * CR. Long runs keep the part_data calls (and spool writes) few. */
static size_t data_run(const struct http_mp *mp, const char *p, size_t n)
{
    size_t run = 0;
    for (;;) {
        const char *cr = memchr(p + run, '\r', n - run);
        if (!cr)
            return n;
        size_t at = (size_t)(cr - p);
        size_t avail = n - at < mp->dlen ? n - at : mp->dlen;
        if (!memcmp(cr, mp->delim, avail))
            return at;
        run = at + 1;
    }
}

/* Preamble or body bytes, looking for "\r\n--B". Returns how many bytes of p
 * were used (0 when only held bytes were released: p[0] is looked at again). */
static size_t scan(struct http_mp *mp, const char *p, size_t n)
{
    if (mp->held == 0) {
        size_t run = data_run(mp, p, n);
        if (run) {
            emit(mp, p, run);
            return run;
        }
        mp->held = 1; /* p[0] is a CR that may start a delimiter */
        return 1;
    }
    if (p[0] == mp->delim[mp->held]) {
        if (++mp->held == mp->dlen) {
            mp->held = 0;
            delimiter_seen(mp);
        }
        return 1;
    }
    /* No delimiter after all: the held bytes were data. p[0] is looked at
     * again with nothing held (it may be a CR that starts the next match). */
    size_t h = mp->held;
    mp->held = 0;
    emit(mp, mp->delim, h);
    return 0;
}

static void start_headers(struct http_mp *mp)
{
    mp->state = S_HEADERS;
    mp->block = 0;
    mp->linelen = 0;
    mp->has_disp = mp->has_name = mp->has_filename = mp->has_ctype = false;
}

/* One byte after "--B": "--" closes, else optional padding and a line end. */
static void after_delim(struct http_mp *mp, char c)
{
    if (mp->state == S_AFTER_DASH) {
        if (c == '-')
            mp->state = S_EPILOGUE;
        else
            fail(mp, HTTP_MP_MALFORMED);
    } else if (mp->state == S_PAD_CR) {
        if (c == '\n')
            start_headers(mp);
        else
            fail(mp, HTTP_MP_MALFORMED);
    } else if (c == '-' && mp->state == S_AFTER_DELIM) {
        mp->state = S_AFTER_DASH;
    } else if (c == ' ' || c == '\t') {
        mp->state = S_PADDING;
    } else if (c == '\r') {
        mp->state = S_PAD_CR;
    } else if (c == '\n') {
        start_headers(mp);
    } else {
        fail(mp, HTTP_MP_MALFORMED); /* "--Bx": B only prefixes the real boundary */
    }
}

/* Content-Disposition: form-data; name="..."; filename="..." */
static int parse_disposition(struct http_mp *mp, struct cursor *c)
{
    if (mp->has_disp)
        return -1;
    mp->has_disp = true;
    skip_ows(c);
    const char *t;
    size_t n = read_token(c, &t);
    if (!eq(t, n, "form-data"))
        return -1;
    char val[HTTP_MP_MAX_VALUE + 1];
    const char *pname;
    size_t plen;
    int r;
    while ((r = next_param(c, &pname, &plen, val)) > 0) {
        bool *has = NULL;
        char *dst = NULL;
        if (eq(pname, plen, "name")) {
            has = &mp->has_name;
            dst = mp->name;
        } else if (eq(pname, plen, "filename")) {
            has = &mp->has_filename;
            dst = mp->filename;
        }
        if (!has)
            continue; /* filename* and the like */
        if (*has)
            return -1; /* twice: which one would the sender mean? */
        *has = true;
        memcpy(dst, val, sizeof(val));
    }
    return r;
}

static int parse_part_type(struct http_mp *mp, struct cursor *c)
{
    if (mp->has_ctype)
        return -1;
    skip_ows(c);
    size_t end = c->n;
    while (end > c->pos && (c->s[end - 1] == ' ' || c->s[end - 1] == '\t'))
        end--;
    size_t len = end - c->pos;
    if (len > HTTP_MP_MAX_VALUE)
        return -1;
    for (size_t i = c->pos; i < end; i++)
        if (is_ctl((unsigned char)c->s[i]))
            return -1;
    memcpy(mp->ctype, c->s + c->pos, len);
    mp->ctype[len] = '\0';
    mp->has_ctype = len > 0; /* "Content-Type:" alone says nothing */
    return 0;
}

static void end_headers(struct http_mp *mp)
{
    if (!mp->has_disp || !mp->has_name) {
        fail(mp, HTTP_MP_MALFORMED);
        return;
    }
    mp->state = S_BODY;
    mp->held = 0;
    mp->in_part = true;
    if (mp->cb.part_begin &&
        mp->cb.part_begin(mp->ctx, mp->name, mp->has_filename ? mp->filename : NULL,
                          mp->has_ctype ? mp->ctype : NULL) < 0)
        fail(mp, HTTP_MP_STOPPED);
}

/* One header line, its line end stripped. */
static void header_line(struct http_mp *mp, const char *s, size_t n)
{
    if (n == 0) {
        end_headers(mp);
        return;
    }
    const char *colon = memchr(s, ':', n);
    size_t nlen = colon ? (size_t)(colon - s) : 0;
    /* No name, or one with spaces (obsolete folding starts with a space too). */
    bool ok = nlen > 0;
    for (size_t i = 0; ok && i < nlen; i++)
        ok = is_tchar((unsigned char)s[i]);
    if (!ok) {
        fail(mp, HTTP_MP_MALFORMED);
        return;
    }
    struct cursor c = {colon + 1, n - nlen - 1, 0};
    int r = 0;
    if (eq(s, nlen, "content-disposition"))
        r = parse_disposition(mp, &c);
    else if (eq(s, nlen, "content-type"))
        r = parse_part_type(mp, &c);
    if (r < 0)
        fail(mp, HTTP_MP_MALFORMED);
}

/* Header bytes up to and including the next LF; returns how many were used. */
static size_t header_bytes(struct http_mp *mp, const char *p, size_t n)
{
    const char *lf = memchr(p, '\n', n);
    size_t take = lf ? (size_t)(lf - p) + 1 : n;
    if (take > HTTP_MP_MAX_HEADERS - mp->block) {
        fail(mp, HTTP_MP_MALFORMED);
        return take;
    }
    mp->block += take;
    /* linelen + the line's bytes <= block <= sizeof(line). */
    size_t bytes = lf ? take - 1 : take;
    memcpy(mp->line + mp->linelen, p, bytes);
    mp->linelen += bytes;
    if (lf) {
        size_t len = mp->linelen;
        mp->linelen = 0;
        if (len && mp->line[len - 1] == '\r')
            len--;
        header_line(mp, mp->line, len);
    }
    return take;
}

int http_mp_feed(struct http_mp *mp, const char *data, size_t len)
{
    size_t i = 0;
    while (i < len && mp->state != S_ERROR) {
        switch (mp->state) {
        case S_PREAMBLE:
        case S_BODY:
            i += scan(mp, data + i, len - i);
            break;
        case S_HEADERS:
            i += header_bytes(mp, data + i, len - i);
            break;
        case S_AFTER_DELIM:
        case S_AFTER_DASH:
        case S_PADDING:
        case S_PAD_CR:
            after_delim(mp, data[i++]);
            break;
        case S_EPILOGUE:
            i = len;
            break;
        case S_ERROR:
            break;
        }
    }
    return mp->state == S_ERROR ? mp->error : HTTP_MP_OK;
}

int http_mp_finish(struct http_mp *mp)
{
    if (mp->state != S_EPILOGUE)
        fail(mp, HTTP_MP_MALFORMED);
    return mp->state == S_ERROR ? mp->error : HTTP_MP_OK;
}
