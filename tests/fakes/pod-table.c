/* pod-table — a fake pod's /mnt/data as a table (see pod-table.h). */
#include "fakes/pod-table.h"

#include "common/xalloc.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The times the table gives files: an upload, the code, a program's write
 * (later than both, so that a write counts as a change). */
#define MTIME_UPLOAD 1000
#define MTIME_CODE   1500
#define MTIME_WRITE  2000

/* Sets name in v (n entries) to a copy of data; under the table's lock, maybe
 * off the test's thread, so a full table aborts (no cmocka assert). */
static void file_set(struct pod_table_file *v, size_t *n, const char *name, const char *data,
                     size_t len, int64_t mtime)
{
    struct pod_table_file *f = NULL;
    for (size_t i = 0; i < *n && !f; i++)
        if (!strcmp(v[i].name, name))
            f = &v[i];
    if (!f) {
        if (*n >= POD_TABLE_MAX_FILES)
            abort();
        f = &v[(*n)++];
        snprintf(f->name, sizeof(f->name), "%s", name);
    }
    free(f->data);
    f->data = xmalloc(len + 1);
    memcpy(f->data, data, len);
    f->data[len] = '\0';
    f->len = len;
    f->mtime_ns = mtime;
}

static void files_clear(struct pod_table_file *v, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(v[i].data);
    memset(v, 0, sizeof(*v) * POD_TABLE_MAX_FILES);
    *n = 0;
}

/* Under t->mu. */
static void forget_pod(struct pod_table *t)
{
    files_clear(t->files, &t->nfiles);
    t->n_list = t->n_put = t->n_get = 0;
    memset(t->puts, 0, sizeof(t->puts));
    memset(t->gets, 0, sizeof(t->gets));
}

void pod_table_new_pod(struct pod_table *t)
{
    pthread_mutex_lock(&t->mu);
    forget_pod(t);
    pthread_mutex_unlock(&t->mu);
}

void pod_table_clear(struct pod_table *t)
{
    pthread_mutex_lock(&t->mu);
    forget_pod(t);
    files_clear(t->writes, &t->nwrites);
    t->code_file[0] = '\0';
    t->hold_upload = false;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

void pod_table_will_write(struct pod_table *t, const char *name, const char *data, size_t len)
{
    char *x = NULL;
    if (!data)
        data = x = memset(xmalloc(len + 1), 'x', len);
    pthread_mutex_lock(&t->mu);
    file_set(t->writes, &t->nwrites, name, data, len, MTIME_WRITE);
    pthread_mutex_unlock(&t->mu);
    free(x);
}

void pod_table_no_writes(struct pod_table *t)
{
    pthread_mutex_lock(&t->mu);
    files_clear(t->writes, &t->nwrites);
    pthread_mutex_unlock(&t->mu);
}

void pod_table_set_code_file(struct pod_table *t, const char *name)
{
    pthread_mutex_lock(&t->mu);
    snprintf(t->code_file, sizeof(t->code_file), "%s", name);
    pthread_mutex_unlock(&t->mu);
}

void pod_table_hold_uploads(struct pod_table *t, bool hold)
{
    pthread_mutex_lock(&t->mu);
    t->hold_upload = hold;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
}

void pod_table_put_code(struct pod_table *t)
{
    if (t->code_file[0])
        file_set(t->files, &t->nfiles, t->code_file, "code", 4, MTIME_CODE);
}

void pod_table_put_writes(struct pod_table *t)
{
    for (size_t i = 0; i < t->nwrites; i++)
        file_set(t->files, &t->nfiles, t->writes[i].name, t->writes[i].data, t->writes[i].len,
                 t->writes[i].mtime_ns);
}

/* POST /files: one multipart part named "files" per upload (curl's
 * encoding: boundary line, part headers, bytes, CRLF boundary). */
static void on_upload(struct pod_table *t, const struct pod_fake_request *req, int fd)
{
    const char *b = req->body, *end = req->body + req->body_len;
    const char *eol = memmem(b, req->body_len, "\r\n", 2);
    const char *fn = memmem(b, req->body_len, "filename=\"", 10);
    const char *hdr_end = memmem(b, req->body_len, "\r\n\r\n", 4);
    if (!eol || !fn || !hdr_end) {
        pod_fake_reply(fd, 400, NULL, "{\"error\":\"bad multipart\"}", 25);
        return;
    }
    char boundary[256];
    snprintf(boundary, sizeof(boundary), "\r\n%.*s", (int)(eol - b), b);
    fn += 10;
    const char *q = memchr(fn, '"', (size_t)(end - fn));
    const char *data = hdr_end + 4;
    const char *stop = memmem(data, (size_t)(end - data), boundary, strlen(boundary));
    if (!q || !stop) {
        pod_fake_reply(fd, 400, NULL, "{\"error\":\"bad multipart\"}", 25);
        return;
    }
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)(q - fn), fn);
    pthread_mutex_lock(&t->mu);
    if (t->n_put < POD_TABLE_MAX_SEEN)
        snprintf(t->puts[t->n_put], sizeof(t->puts[0]), "%s", name);
    t->n_put++;
    /* Bounded: a test that forgets to let go fails instead of hanging. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (t->hold_upload && pthread_cond_timedwait(&t->cond, &t->mu, &until) != ETIMEDOUT)
        ;
    file_set(t->files, &t->nfiles, name, data, (size_t)(stop - data), MTIME_UPLOAD);
    pthread_mutex_unlock(&t->mu);
    pod_fake_reply_json(fd, 200, json_pack("{s:[s]}", "files", name));
}

json_t *pod_table_listing(const struct pod_table *t)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < t->nfiles; i++)
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I}", "name", t->files[i].name, "size",
                                             (json_int_t)t->files[i].len, "mtime_ns",
                                             (json_int_t)t->files[i].mtime_ns));
    return json_pack("{s:o, s:b}", "files", arr, "truncated", 0);
}

static void on_list(struct pod_table *t, int fd)
{
    pthread_mutex_lock(&t->mu);
    t->n_list++;
    json_t *listing = pod_table_listing(t);
    pthread_mutex_unlock(&t->mu);
    pod_fake_reply_json(fd, 200, listing);
}

/* GET /files/<name>?max=N (the names here need no percent-decoding). */
static void on_get(struct pod_table *t, const struct pod_fake_request *req, int fd)
{
    char name[256];
    snprintf(name, sizeof(name), "%s", req->path + strlen("/files/"));
    name[strcspn(name, "?")] = '\0';
    pthread_mutex_lock(&t->mu);
    if (t->n_get < POD_TABLE_MAX_SEEN)
        snprintf(t->gets[t->n_get], sizeof(t->gets[0]), "%s", name);
    t->n_get++;
    char *data = NULL;
    size_t len = 0;
    for (size_t i = 0; i < t->nfiles && !data; i++)
        if (!strcmp(t->files[i].name, name)) {
            data = xmalloc(t->files[i].len + 1);
            memcpy(data, t->files[i].data, t->files[i].len);
            len = t->files[i].len;
        }
    pthread_mutex_unlock(&t->mu);
    if (data)
        pod_fake_reply(fd, 200, "application/octet-stream", data, len);
    else
        pod_fake_reply(fd, 404, NULL, "{\"error\":\"not found\"}", 21);
    free(data);
}

void pod_table_handler(const struct pod_fake_request *req, int fd, void *table)
{
    struct pod_table *t = table;
    bool post = !strcmp(req->method, "POST"), get = !strcmp(req->method, "GET");
    if (post && !strcmp(req->path, "/files"))
        on_upload(t, req, fd);
    else if (get && !strncmp(req->path, "/files?", 7))
        on_list(t, fd);
    else if (get && !strncmp(req->path, "/files/", 7))
        on_get(t, req, fd);
    else
        pod_fake_reply(fd, 404, NULL, "{\"error\":\"not found\"}", 21);
}
