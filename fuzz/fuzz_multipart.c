/* Fuzzes the multipart/form-data path of the HTTP layer end to end
 * (src/http/http.c: consume; src/http/http-body.c: the parser's callbacks, part_begin/part_data/
 * field_data, limits and errors; the parser alone is fuzz_multipart_parser):
 * the real server is started once in process (127.0.0.1, port 0, one
 * MULTIPART route with small limits) and each input is sent as the body of a
 * POST (boundary "kcrfuzz") over loopback.
 * Properties (abort otherwise): every request gets a status line, 200, 400 or
 * 413, within 10 s; the handler sees at most max_parts parts, each spooled fd
 * at offset 0 holding exactly part->size (<= max_part_size) bytes, and text
 * fields within max_field_size. ASan/UBSan watch the server's threads too. */
#include "fuzz.h"
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PARTS 4
#define MAX_PART  2048
#define MAX_FIELD 256

static struct kcr_http_resp *upload(struct kcr_http_req *req, void *ctx)
{
    (void)ctx;
    size_t n = http_req_nparts(req);
    for (size_t i = 0; i < n; i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        struct stat st;
        if (n > MAX_PARTS || fstat(p->fd, &st) || (uint64_t)st.st_size != p->size ||
            p->size > MAX_PART || lseek(p->fd, 0, SEEK_CUR) != 0 || !p->field || !p->filename)
            abort();
    }
    const char *e = http_req_field(req, "entity_id");
    if (e && strlen(e) > MAX_FIELD)
        abort();
    return http_resp_empty(200);
}

static const struct kcr_http_route routes[] = {
    {"POST", "/upload", KCR_HTTP_BODY_MULTIPART, upload}};
static const struct kcr_http_config cfg = {
    .host = "127.0.0.1",
    .routes = routes,
    .nroutes = 1,
    .limits = {.max_parts = MAX_PARTS, .max_part_size = MAX_PART, .max_field_size = MAX_FIELD},
    .quiet = true,
};
static int port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct kcr_err err = {0};
    struct kcr_http_server *srv = http_server_start(&cfg, &err); /* runs until exit */
    if (!srv) {
        fprintf(stderr, "http_server_start: %s\n", err.msg);
        abort();
    }
    port = http_server_port(srv);
    return 0;
}

static void send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server answered and closed: its answer is still read */
        p += w;
        len -= (size_t)w;
    }
}

/* Sends one POST with body data; returns the response's status (0: none). */
static int post(const uint8_t *data, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* Each connection from its own loopback address (127.1.0.0/16): the
     * closed ones wait in TIME_WAIT for a minute, and thousands a second from
     * one address use up its ephemeral ports within a run (seen on a fast
     * machine: connect() failed after ~26,000 inputs). */
    static unsigned next_src;
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f010000u | (next_src++ & 0xffffu));
    if (fd >= 0)
        (void)bind(fd, (struct sockaddr *)&src, sizeof(src));
    int c;
    do
        c = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    while (c < 0 && errno == EINTR);
    if (c < 0) {
        perror("fuzz_multipart: connect");
        abort();
    }
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "POST /upload HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                     "Content-Type: multipart/form-data; boundary=kcrfuzz\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     size);
    /* libFuzzer's once-a-second SIGALRM interrupts a blocked send or recv
     * (EINTR): retried, or a lost answer would look like the server's fault. */
    send_all(fd, head, (size_t)n);
    send_all(fd, data, size); /* the server may answer early */
    char resp[64] = "";
    ssize_t got = 0;
    while ((size_t)got < sizeof(resp) - 1) {
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - (size_t)got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    int status = 0;
    if (got > 0)
        sscanf(resp, "HTTP/1.%*d %d", &status);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int status = post(data, size);
    if (status != 200 && status != 400 && status != 413) {
        fprintf(stderr, "unexpected status %d\n", status);
        abort();
    }
    return 0;
}
