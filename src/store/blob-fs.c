#include "store/blob-fs.h"
#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/id.h"
#include "common/names.h"
#include "common/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct blob_fs {
    struct kcr_blob super;
    int root_fd;
    int tmp_fd; /* <root>/.tmp, where unnamed files are created */
};

static struct blob_fs *bfs(struct kcr_blob *b)
{
    return (struct blob_fs *)b;
}

/* Splits "dir/name" into its two components, each a safe name. */
static int split_key(const char *key, char dir[KCR_NAME_MAX + 1], char name[KCR_NAME_MAX + 1],
                     struct kcr_err *err)
{
    const char *slash = key ? strchr(key, '/') : NULL;
    if (!slash || (size_t)(slash - key) > KCR_NAME_MAX || strlen(slash + 1) > KCR_NAME_MAX)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob key '%s'", key ? key : "");
    memcpy(dir, key, (size_t)(slash - key));
    dir[slash - key] = '\0';
    strcpy(name, slash + 1);
    if (!names_is_safe(dir) || !names_is_safe(name))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob key '%s'", key);
    return 0;
}

static int fsync_fd(int fd)
{
    while (fsync(fd) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

/* Opens <root>/<dir>, creating it (and making its entry durable) if needed. */
static int open_dir(struct blob_fs *s, const char *dir, bool create, struct kcr_err *err)
{
    int fd = fs_open_beneath(s->root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd >= 0 || !create || fd != -ENOENT) {
        if (fd < 0)
            return kcr_err_set(err, -fd, fd == -ENOENT ? KCR_ERR_NOT_FOUND : KCR_ERR_INTERNAL,
                               "open blob directory '%s'", dir);
        return fd;
    }
    if (mkdirat(s->root_fd, dir, 0700) < 0 && errno != EEXIST)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "mkdir blob directory '%s'", dir);
    (void)fsync_fd(s->root_fd);
    fd = fs_open_beneath(s->root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return kcr_err_set(err, -fd, KCR_ERR_INTERNAL, "open blob directory '%s'", dir);
    return fd;
}

static int b_tmpfile(struct kcr_blob *b, struct kcr_err *err)
{
    int fd = openat(bfs(b)->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "create temporary blob");
    return fd;
}

/* Gives fd's inode the temporary name tmp in dirfd: a link when fd is an
 * unnamed file on our filesystem, else a copy into a fresh file. */
static int place_tmp(int fd, int dirfd, const char *tmp, struct kcr_err *err)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "stat blob source");
    /* Only an unnamed file may be linked: linking a named one would share its
     * inode with whoever else can still write it. */
    if (st.st_nlink == 0 && fsync_fd(fd) == 0 &&
        linkat(AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    _cleanup_close_ int out = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "create '%s'", tmp);
    _cleanup_close_ int in = open(proc, O_RDONLY | O_CLOEXEC);
    ssize_t n = in < 0 ? -errno : fs_copy_fd(in, out, SIZE_MAX);
    int r = n < 0 ? (int)n : fsync_fd(out);
    if (r < 0) {
        (void)unlinkat(dirfd, tmp, 0);
        return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "copy blob");
    }
    return 0;
}

static int b_commit(struct kcr_blob *b, const char *key, int fd, struct kcr_err *err)
{
    struct blob_fs *s = bfs(b);
    char dir[KCR_NAME_MAX + 1], name[KCR_NAME_MAX + 1];
    if (split_key(key, dir, name, err) < 0)
        return -1;
    _cleanup_close_ int dfd = open_dir(s, dir, true, err);
    if (dfd < 0)
        return -1;
    /* A new name for a complete, fsynced unnamed file: one link makes it
     * appear whole, with no temporary name in between. */
    struct stat st;
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (fstat(fd, &st) == 0 && st.st_nlink == 0 && fsync_fd(fd) == 0 &&
        linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) == 0) {
        int r = fsync_fd(dfd);
        if (r < 0)
            return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "fsync blob directory '%s'", dir);
        return 0;
    }
    /* Replacing a blob (or a source we cannot link): temporary, then rename. */
    char rnd[KCR_ID_LEN + 1], tmp[64];
    id_new(rnd);
    snprintf(tmp, sizeof(tmp), ".tmp-%s", rnd);
    if (place_tmp(fd, dfd, tmp, err) < 0)
        return -1;
    if (renameat(dfd, tmp, dfd, name) < 0) {
        int e = errno;
        (void)unlinkat(dfd, tmp, 0);
        return kcr_err_set(err, e, KCR_ERR_UNAVAILABLE, "rename blob '%s'", key);
    }
    int r = fsync_fd(dfd);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "fsync blob directory '%s'", dir);
    return 0;
}

static int b_put(struct kcr_blob *b, const char *key, const void *data, size_t len,
                 struct kcr_err *err)
{
    _cleanup_close_ int fd = b_tmpfile(b, err);
    if (fd < 0)
        return -1;
    int r = fs_write_all(fd, data, len);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "write blob '%s'", key);
    return b_commit(b, key, fd, err);
}

static int b_open(struct kcr_blob *b, const char *key, uint64_t *ret_size, struct kcr_err *err)
{
    char dir[KCR_NAME_MAX + 1], name[KCR_NAME_MAX + 1];
    if (split_key(key, dir, name, err) < 0)
        return -1;
    int fd = fs_open_beneath(bfs(b)->root_fd, key, O_RDONLY, 0);
    if (fd < 0)
        return kcr_err_set(err, -fd, fd == -ENOENT ? KCR_ERR_NOT_FOUND : KCR_ERR_UNAVAILABLE,
                           "open blob '%s'", key);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        safe_close(fd);
        return kcr_err_set(err, 0, KCR_ERR_NOT_FOUND, "blob '%s' is not a file", key);
    }
    if (ret_size)
        *ret_size = (uint64_t)st.st_size;
    return fd;
}

static int b_remove(struct kcr_blob *b, const char *key, struct kcr_err *err)
{
    char dir[KCR_NAME_MAX + 1], name[KCR_NAME_MAX + 1];
    if (split_key(key, dir, name, err) < 0)
        return -1;
    _cleanup_close_ int dfd = open_dir(bfs(b), dir, false, err);
    if (dfd < 0)
        return err && err->kind == KCR_ERR_NOT_FOUND ? 0 : -1;
    if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "remove blob '%s'", key);
    (void)fsync_fd(dfd);
    return 0;
}

static int b_remove_dir(struct kcr_blob *b, const char *dir, struct kcr_err *err)
{
    if (!names_is_safe(dir))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob directory '%s'", dir);
    int r = fs_rm_tree_at(bfs(b)->root_fd, dir);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_UNAVAILABLE, "remove blob directory '%s'", dir);
    return 0;
}

/* Lists one directory's blobs (their entry's ctime: when the link made them
 * visible). Returns 1 when fn asked to stop. */
static int list_dir(int root_fd, const char *dir, kcr_blob_list_fn fn, void *ctx)
{
    int dfd = fs_open_beneath(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
    _cleanup_dir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        safe_close(dfd);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        char key[2 * KCR_NAME_MAX + 2];
        snprintf(key, sizeof(key), "%s/%s", dir, e->d_name);
        int64_t ms = (int64_t)st.st_ctim.tv_sec * 1000 + st.st_ctim.tv_nsec / 1000000;
        if (fn(key, ms, ctx))
            return 1;
    }
    return 0;
}

static int b_list(struct kcr_blob *b, const char *dir, kcr_blob_list_fn fn, void *ctx,
                  struct kcr_err *err)
{
    int root_fd = bfs(b)->root_fd;
    if (dir) {
        if (!names_is_safe(dir))
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "bad blob directory '%s'", dir);
        (void)list_dir(root_fd, dir, fn, ctx);
        return 0;
    }
    int dup_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    _cleanup_dir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        safe_close(dup_fd);
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "list blob root");
    }
    rewinddir(d); /* the dup shares root_fd's offset, left at the end by a last listing */
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && de->d_type == DT_DIR && list_dir(root_fd, de->d_name, fn, ctx))
            break;
    return 0;
}

static int b_ping(struct kcr_blob *b, struct kcr_err *err)
{
    struct stat st;
    if (fstat(bfs(b)->root_fd, &st) < 0 || faccessat(bfs(b)->root_fd, ".", W_OK, 0) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "blob root not writable");
    return 0;
}

static void b_free(struct kcr_blob *b)
{
    struct blob_fs *s = bfs(b);
    safe_close(s->root_fd);
    safe_close(s->tmp_fd);
    free(s);
}

static const struct kcr_blob_ops fs_ops = {
    .name = "fs",
    .tmpfile = b_tmpfile,
    .commit = b_commit,
    .put = b_put,
    .open = b_open,
    .remove = b_remove,
    .remove_dir = b_remove_dir,
    .list = b_list,
    .ping = b_ping,
    .free = b_free,
};

/* Removes ".tmp-*" names a crash left between link and rename (one level). */
static void sweep_temporaries(int root_fd)
{
    int dup_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    _cleanup_dir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        safe_close(dup_fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_type != DT_DIR)
            continue;
        _cleanup_close_ int sub = fs_open_beneath(root_fd, de->d_name, O_RDONLY | O_DIRECTORY, 0);
        int subdup = sub >= 0 ? fcntl(sub, F_DUPFD_CLOEXEC, 0) : -1;
        _cleanup_dir_ DIR *sd = subdup >= 0 ? fdopendir(subdup) : NULL;
        if (!sd) {
            safe_close(subdup);
            continue;
        }
        struct dirent *e;
        while ((e = readdir(sd)))
            if (!strncmp(e->d_name, ".tmp-", 5))
                (void)unlinkat(sub, e->d_name, 0);
    }
}

struct kcr_blob *blob_fs_open(const char *root, struct kcr_err *err)
{
    if (fs_mkdir_p(root, 0700, err) < 0)
        return NULL;
    struct blob_fs *s = xcalloc(1, sizeof(*s));
    s->super.ops = &fs_ops;
    s->tmp_fd = -1;
    s->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "open blob root '%s'", root);
        b_free(&s->super);
        return NULL;
    }
    if (mkdirat(s->root_fd, ".tmp", 0700) < 0 && errno != EEXIST) {
        kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "mkdir '%s/.tmp'", root);
        b_free(&s->super);
        return NULL;
    }
    s->tmp_fd = fs_open_beneath(s->root_fd, ".tmp", O_RDONLY | O_DIRECTORY, 0);
    if (s->tmp_fd < 0) {
        kcr_err_set(err, -s->tmp_fd, KCR_ERR_UNAVAILABLE, "open '%s/.tmp'", root);
        b_free(&s->super);
        return NULL;
    }
    sweep_temporaries(s->root_fd);
    return &s->super;
}
