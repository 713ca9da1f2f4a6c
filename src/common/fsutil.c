#include "common/fsutil.h"
#include "common/cleanup.h"
#include "common/id.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat retried on EINTR. A symlink where a directory was needed answers
 * ELOOP, as openat2's RESOLVE_NO_SYMLINKS does (openat says ENOTDIR). */
static int openat_nofollow(int dirfd, const char *name, int flags, mode_t mode)
{
    int fd;
    do
        fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    if (fd >= 0)
        return fd;
    int e = errno;
    struct stat st;
    if (e == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        e = ELOOP;
    return -e;
}

#define WALK_PATH_MAX  4096
#define WALK_PARTS_MAX 512

/* Copies the relative path into buf and points parts at its components,
 * skipping empty ones. ".." (and "." unless dot_ok) is an escape: EXDEV, as is
 * an absolute path. Returns the count or -errno; nothing is touched. */
static int split_beneath(const char *path, bool dot_ok, char buf[static WALK_PATH_MAX],
                         char *parts[static WALK_PARTS_MAX])
{
    if (path[0] == '/')
        return -EXDEV;
    size_t len = strlen(path);
    if (len >= WALK_PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    char *save = NULL;
    int n = 0;
    for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".") && dot_ok)
            continue;
        if (!strcmp(c, ".") || !strcmp(c, ".."))
            return -EXDEV;
        if (n == WALK_PARTS_MAX)
            return -ENAMETOOLONG;
        parts[n++] = c;
    }
    return n;
}

int fs_open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode)
{
    char buf[WALK_PATH_MAX], *parts[WALK_PARTS_MAX];
    int n = split_beneath(path, true, buf, parts);
    if (n <= 0)
        return n < 0 ? n : -ENOENT;
    int cur = dirfd;
    for (int i = 0; i + 1 < n; i++) {
        int next = openat_nofollow(cur, parts[i], O_PATH | O_DIRECTORY, 0);
        if (cur != dirfd)
            close(cur);
        if (next < 0)
            return next;
        cur = next;
    }
    int fd = openat_nofollow(cur, parts[n - 1], flags, mode);
    if (cur != dirfd)
        close(cur);
    return fd;
}

/* mkdirat, then a descent that never follows: a symlink (or a file) already
 * there under that name answers ELOOP (ENOTDIR), and nothing is made through it. */
static int mkdir_step(int parent, const char *name, mode_t mode)
{
    int r;
    do
        r = mkdirat(parent, name, mode);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EEXIST)
        return -errno;
    return openat_nofollow(parent, name, O_PATH | O_DIRECTORY, 0);
}

int fs_mkdir_beneath(int dirfd, const char *path, mode_t mode)
{
    char buf[WALK_PATH_MAX], *parts[WALK_PARTS_MAX];
    /* Every component is checked before the first mkdir: "a/../b" creates nothing. */
    int n = split_beneath(path, false, buf, parts);
    if (n < 0)
        return n;
    _cleanup_close_ int cur = -1;
    for (int i = 0; i < n; i++) {
        int next = mkdir_step(cur >= 0 ? cur : dirfd, parts[i], mode);
        if (next < 0)
            return next;
        safe_close(cur);
        cur = next;
    }
    return 0;
}

int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    /* openat2 may return EAGAIN when a concurrent rename races the lookup
     * (openat2(2)); a bounded retry keeps a hostile renamer from spinning us. */
    for (int tries = 0; tries < 16; tries++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        /* Kernels before 5.6, and container runtimes' seccomp profiles from
         * before it, answer ENOSYS: the walk does the same job. */
        if (errno == ENOSYS)
            return fs_open_beneath_walk(dirfd, path, flags, mode);
        if (errno != EINTR && errno != EAGAIN)
            return -errno;
    }
    return -EAGAIN;
}

int fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_read_all(int fd, struct kcr_buf *out)
{
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 0;
        buf_append(out, chunk, (size_t)n);
        if (out->truncated)
            return 0;
    }
}

ssize_t fs_read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -EINVAL;
    _cleanup_close_ int fd = openat_nofollow(dirfd, path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

ssize_t fs_copy_fd(int in, int out, size_t max)
{
    char chunk[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(in, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return (ssize_t)total;
        if (total + (size_t)n > max)
            return -EFBIG;
        int r = fs_write_all(out, chunk, (size_t)n);
        if (r < 0)
            return r;
        total += (size_t)n;
    }
}

static int fsync_retry(int fd)
{
    while (fsync(fd) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct kcr_err *err)
{
    char rnd[KCR_ID_LEN + 1];
    id_new(rnd);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".tmp-%s", rnd);
    _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "create '%s'", tmp);
    int r = fs_write_all(fd, data, len);
    if (r == 0)
        r = fsync_retry(fd);
    if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlinkat(dirfd, tmp, 0);
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "write '%s'", name);
    }
    r = fsync_retry(dirfd);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "fsync directory of '%s'", name);
    return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct kcr_err *err)
{
    char buf[4096];
    if (strlen(path) >= sizeof(buf))
        return kcr_err_set(err, ENAMETOOLONG, KCR_ERR_INVALID, "mkdir '%s'", path);
    strcpy(buf, path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "mkdir '%s'", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return 0;
}

static int rm_tree(int parent, const char *name, int depth)
{
    if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -errno;
    if (depth >= 64)
        return -ELOOP;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    _cleanup_dir_ DIR *d = fdopendir(fd);
    if (!d) {
        safe_close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int q = rm_tree(dirfd(d), e->d_name, depth + 1);
        if (q < 0 && r == 0)
            r = q;
    }
    if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        r = -errno;
    return r;
}

int fs_rm_tree_at(int dirfd, const char *name)
{
    return rm_tree(dirfd, name, 0);
}

/* chown of dir fd and everything beneath it, through fds: an entry swapped
 * for a symlink between the listing and the chown is chowned itself (never
 * followed), a directory swapped for one is not entered (O_NOFOLLOW). */
static int chown_tree(int fd, uid_t uid, gid_t gid, int depth)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
        return -errno;
    if (depth >= 64)
        return -ELOOP;
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
        return -errno;
    _cleanup_dir_ DIR *d = fdopendir(dup);
    if (!d) {
        safe_close(dup);
        return -errno;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return -errno;
        }
        if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int sub =
                openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0 && errno == ENOENT)
                continue;
            int r = sub < 0 ? -errno : chown_tree(sub, uid, gid, depth + 1);
            if (r < 0)
                return r;
        } else if ((st.st_uid != uid || st.st_gid != gid) &&
                   fchownat(fd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT) {
            return -errno;
        }
    }
    return 0;
}

int fs_chown_tree(const char *path, uid_t uid, gid_t gid, struct kcr_err *err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int r = fd < 0 ? -errno : chown_tree(fd, uid, gid, 0);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "chown '%s' to %u:%u", path, (unsigned)uid,
                           (unsigned)gid);
    return 0;
}

int fs_check_root_owned(int fd, const char *what, const char *path, struct kcr_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return kcr_err_set(err, errno, KCR_ERR_UNAVAILABLE, "%s '%s'", what, path);
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
        return kcr_err_set(err, 0, KCR_ERR_UNAVAILABLE,
                           "%s '%s' must be owned by root and writable by no one else (it is "
                           "uid %u, mode %04o)",
                           what, path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    return 0;
}
