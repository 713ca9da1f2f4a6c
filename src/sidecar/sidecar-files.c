#include "sidecar/sidecar-files.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/names.h"
#include "common/time.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX_ENTRIES 10000
#define LIST_MAX_DEPTH   16
#define LIST_MAX_MS      2000
#define PATH_DEPTH       16

struct kcr_http_resp *sidecar_files_error(int status, const char *msg, const char *field)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    if (field)
        json_object_set_new(o, "field", json_string(field));
    return http_resp_json(status, o);
}

int sidecar_exec_error_status(const struct kcr_err *err)
{
    switch (err->kind) {
    case KCR_ERR_INVALID:
        return 422;
    case KCR_ERR_UNAVAILABLE:
        return 503;
    case KCR_ERR_NONE:
    case KCR_ERR_FORBIDDEN:
    case KCR_ERR_NOT_FOUND:
    case KCR_ERR_LIMIT:
    case KCR_ERR_BUSY:
    case KCR_ERR_TIMEOUT:
    case KCR_ERR_INTERNAL:
        break;
    }
    return 500;
}

json_t *sidecar_exec_error_body(const struct kcr_err *err)
{
    switch (sidecar_exec_error_status(err)) {
    case 422:
        return json_pack("{s:s,s:s}", "error", "working_dir does not exist in the main container",
                         "field", "working_dir");
    case 503:
        return json_pack("{s:s}", "error", "main container not found");
    default:
        return json_pack("{s:s}", "error", err->msg);
    }
}

static int open_dir(const struct sidecar_files *f)
{
    return open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* ELOOP (a symlink) and EXDEV (an escape) are refusals, not absences. */
static struct kcr_http_resp *open_error(int errnum, const char *name)
{
    if (errnum == ELOOP || errnum == EXDEV)
        return sidecar_files_error(400, "refusing to follow a symlink or leave the directory",
                                   "path");
    if (errnum == ENOENT || errnum == ENOTDIR)
        return sidecar_files_error(404, "file not found", "path");
    (void)name;
    return sidecar_files_error(500, strerror(errnum), NULL);
}

/*** Upload ***/

static bool is_file_part(const struct kcr_http_part *p)
{
    return !strcmp(p->field, "files") || !strcmp(p->field, "file");
}

/* Why name cannot be written, as a 400 (kind invalid) for what the client or
 * user code put in the way, a 500 for anything else. */
static int target_error(int errnum, const char *name, struct kcr_err *err)
{
    if (errnum == ELOOP)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "'%s': a symlink is in the way (symlinks are not followed)", name);
    if (errnum == ENOTDIR)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "'%s': a parent is not a directory", name);
    if (errnum == EXDEV)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "'%s' leaves the working directory", name);
    return kcr_err_set(err, errnum, KCR_ERR_INTERNAL, "write '%s'", name);
}

/* Refuses, before anything is written, what write_part would refuse: a symlink
 * or a file where a directory is needed, a target that is not a regular file.
 * Missing parents are fine (write_part creates them). User code may change the
 * tree afterwards; write_part's own checks are what keep writes beneath dirfd. */
static int check_target(int dirfd, const char *name, struct kcr_err *err)
{
    /* O_PATH opens nothing: a FIFO cannot block this, a device is not opened. */
    _cleanup_close_ int fd = fs_open_beneath(dirfd, name, O_PATH, 0);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return target_error(-fd, name, err);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat '%s'", name);
    if (!S_ISREG(st.st_mode))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "'%s' is not a regular file", name);
    return 0;
}

/* The directories above a nested name ("notes" for "notes/out.txt"). */
static int make_parents(int dirfd, const char *name, struct kcr_err *err)
{
    const char *slash = strrchr(name, '/');
    if (!slash)
        return 0;
    _cleanup_free_ char *parent = xstrndup(name, (size_t)(slash - name));
    /* 0755 (less the umask): the sidecar runs as user code's uid (65532), so
     * user code owns these directories and can write into them. */
    int r = fs_mkdir_beneath(dirfd, parent, 0755);
    return r < 0 ? target_error(-r, name, err) : 0;
}

static int write_part(int dirfd, struct kcr_http_part *part, struct kcr_err *err)
{
    if (make_parents(dirfd, part->filename, err) < 0)
        return -1;
    /* O_NONBLOCK: a FIFO planted under this name must not block us (ENXIO). */
    _cleanup_close_ int fd = fs_open_beneath(
        dirfd, part->filename, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
        return kcr_err_set(err, -fd, KCR_ERR_INVALID, "'%s'", part->filename);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "'%s' is not a regular file", part->filename);
    (void)fcntl(fd, F_SETFL, 0);
    ssize_t n = fs_copy_fd(part->fd, fd, (size_t)part->size);
    if (n < 0)
        return kcr_err_set(err, (int)-n, KCR_ERR_INTERNAL, "write '%s'", part->filename);
    return 0;
}

static struct kcr_http_resp *upload_error(const struct kcr_err *err)
{
    int st = err->errnum == ELOOP || err->kind == KCR_ERR_INVALID ? 400 : 500;
    return sidecar_files_error(st, err->msg, "files");
}

/* Names first, without touching the directory. Returns NULL when every file
 * part has a safe relative name, else the error reply. */
static struct kcr_http_resp *check_names(struct kcr_http_req *req)
{
    size_t nfiles = 0;
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        if (!is_file_part(p))
            continue;
        if (!names_is_safe_path(p->filename, PATH_DEPTH))
            return sidecar_files_error(400, "unsafe file name", "files");
        nfiles++;
    }
    if (nfiles == 0)
        return sidecar_files_error(400, "no file parts named 'files'", "files");
    return NULL;
}

static struct kcr_http_resp *check_targets(struct kcr_http_req *req, int dirfd)
{
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        struct kcr_err err = {0};
        if (is_file_part(p) && check_target(dirfd, p->filename, &err) < 0)
            return upload_error(&err);
    }
    return NULL;
}

struct kcr_http_resp *sidecar_files_upload(struct kcr_http_req *req, void *ctx)
{
    const struct sidecar_files *f = ctx;
    struct kcr_http_resp *bad = check_names(req);
    if (bad)
        return bad;
    _cleanup_close_ int dirfd = open_dir(f);
    if (dirfd < 0)
        return sidecar_files_error(500, "working directory unavailable", NULL);
    bad = check_targets(req, dirfd);
    if (bad)
        return bad;
    json_t *list = json_array();
    for (size_t i = 0; i < http_req_nparts(req); i++) {
        struct kcr_http_part *p = http_req_part(req, i);
        struct kcr_err err = {0};
        if (!is_file_part(p))
            continue;
        if (write_part(dirfd, p, &err) < 0) {
            json_decref(list);
            return upload_error(&err);
        }
        json_array_append_new(
            list, json_pack("{s:s,s:I}", "name", p->filename, "size", (json_int_t)p->size));
    }
    return http_resp_json(200, json_pack("{s:o}", "uploaded", list));
}

/*** Listing ***/

static const char *type_name(mode_t m)
{
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "directory";
    if (S_ISLNK(m))
        return "symlink";
    return "other";
}

static json_t *list_top(int dirfd)
{
    json_t *arr = json_array();
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        safe_close(dfd);
        return arr;
    }
    struct dirent *de;
    while ((de = readdir(d)) && json_array_size(arr) < LIST_MAX_ENTRIES) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        json_array_append_new(arr,
                              json_pack("{s:s,s:I,s:s}", "name", de->d_name, "size",
                                        (json_int_t)st.st_size, "type", type_name(st.st_mode)));
    }
    closedir(d);
    return arr;
}

struct walk {
    json_t *arr;
    int64_t start_ms;
    bool truncated;
};

/* Depth-first; directories are opened beneath their parent with
 * O_NOFOLLOW|O_DIRECTORY, so a symlink swapped in during the walk is refused. */
static void walk_dir(int dirfd, const char *prefix, int depth, struct walk *w)
{
    if (depth > LIST_MAX_DEPTH) {
        w->truncated = true;
        return;
    }
    int dfd = dup(dirfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        safe_close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (json_array_size(w->arr) >= LIST_MAX_ENTRIES ||
            time_mono_ms() - w->start_ms > LIST_MAX_MS) {
            w->truncated = true;
            break;
        }
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        _cleanup_free_ char *rel =
            *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
        if (S_ISREG(st.st_mode)) {
            json_array_append_new(
                w->arr,
                json_pack("{s:s,s:I,s:I}", "name", rel, "size", (json_int_t)st.st_size, "mtime_ns",
                          (json_int_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec));
        } else if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int sub =
                openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_dir(sub, rel, depth + 1, w);
        }
        /* symlinks, FIFOs, sockets and devices are never listed */
    }
    closedir(d);
}

/* {"files", "truncated"}: the one recursive listing, for GET /files and for
 * the answers of executions (sidecar_files_add_listing). */
static json_t *list_recursive(int dirfd)
{
    struct walk w = {.arr = json_array()};
    w.start_ms = time_mono_ms();
    walk_dir(dirfd, "", 1, &w);
    return json_pack("{s:o,s:b}", "files", w.arr, "truncated", (int)w.truncated);
}

struct kcr_http_resp *sidecar_files_list(struct kcr_http_req *req, void *ctx)
{
    const struct sidecar_files *f = ctx;
    _cleanup_close_ int dirfd = open_dir(f);
    if (dirfd < 0)
        return sidecar_files_error(500, "working directory unavailable", NULL);
    const char *rec = http_req_query(req, "recursive");
    if (!rec || !strcmp(rec, "0") || !strcmp(rec, "false"))
        return http_resp_json(200, json_pack("{s:o}", "files", list_top(dirfd)));
    return http_resp_json(200, list_recursive(dirfd));
}

json_t *sidecar_files_listing(const char *dir, struct kcr_err *err)
{
    _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        kcr_err_set(err, errno, KCR_ERR_INTERNAL, "working directory unavailable");
        return NULL;
    }
    return list_recursive(dirfd);
}

void sidecar_files_add_listing(json_t *answer, const char *dir)
{
    struct kcr_err err = {0};
    double t = time_mono_ms_f();
    json_t *l = sidecar_files_listing(dir, &err);
    if (!l) {
        json_object_set_new(answer, "listing_error", json_string(err.msg));
        return;
    }
    json_object_set_new(answer, "listing", l);
    json_object_set_new(answer, "listing_ms", json_real(time_mono_ms_f() - t));
}

/*** One file ***/

/* The path the request names (its route's parameter) into *ret_path, refused
 * unless safe, then the working directory opened into *ret_dirfd: NULL, or
 * the answer that refuses. */
static struct kcr_http_resp *open_for_path(struct kcr_http_req *req, const struct sidecar_files *f,
                                           const char **ret_path, int *ret_dirfd)
{
    *ret_path = http_req_param(req, 0);
    if (!names_is_safe_path(*ret_path, PATH_DEPTH))
        return sidecar_files_error(400, "unsafe path", "path");
    *ret_dirfd = open_dir(f);
    if (*ret_dirfd < 0)
        return sidecar_files_error(500, "working directory unavailable", NULL);
    return NULL;
}

struct kcr_http_resp *sidecar_files_get(struct kcr_http_req *req, void *ctx)
{
    const char *path = NULL;
    _cleanup_close_ int dirfd = -1;
    struct kcr_http_resp *bad = open_for_path(req, ctx, &path, &dirfd);
    if (bad)
        return bad;
    _cleanup_close_ int fd = fs_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW, 0);
    if (fd < 0)
        return open_error(-fd, path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return sidecar_files_error(404, "not a regular file", "path");
    const char *max = http_req_query(req, "max");
    if (max) {
        char *end = NULL;
        unsigned long long m = strtoull(max, &end, 10);
        if (end == max || *end)
            return sidecar_files_error(400, "max must be a number of bytes", "max");
        if ((unsigned long long)st.st_size > m)
            return sidecar_files_error(413, "file exceeds max", "max");
    }
    (void)fcntl(fd, F_SETFL, 0);
    return http_resp_fd(200, "application/octet-stream", TAKE_FD(fd), (uint64_t)st.st_size);
}

struct kcr_http_resp *sidecar_files_delete(struct kcr_http_req *req, void *ctx)
{
    const char *path = NULL;
    _cleanup_close_ int dirfd = -1;
    struct kcr_http_resp *bad = open_for_path(req, ctx, &path, &dirfd);
    if (bad)
        return bad;
    _cleanup_free_ char *parent = xstrdup(path);
    char *slash = strrchr(parent, '/');
    const char *base = path;
    _cleanup_close_ int pfd = -1;
    if (slash) {
        *slash = '\0';
        base = path + (slash - parent) + 1;
        pfd = fs_open_beneath(dirfd, parent, O_RDONLY | O_DIRECTORY, 0);
        if (pfd < 0)
            return open_error(-pfd, path);
    }
    int at = pfd >= 0 ? pfd : dirfd;
    struct stat st;
    if (fstatat(at, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return open_error(errno, path);
    int r = fs_rm_tree_at(at, base);
    if (r < 0)
        return sidecar_files_error(500, strerror(-r), NULL);
    return http_resp_json(200, json_pack("{s:s}", "deleted", path));
}
