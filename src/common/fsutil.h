/* fsutil — file access that never trusts names: everything kcr reads from or
 * writes into a directory an untrusted party can change is opened relative to a
 * directory fd with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS). All fds are
 * O_CLOEXEC; interrupted syscalls are retried. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"

/* openat2 beneath dirfd, refusing symlinks and magic links in every component.
 * O_CLOEXEC is always added. Returns the fd, or -errno (ELOOP for a symlink,
 * EXDEV for an escape). Where openat2 is missing (ENOSYS), fs_open_beneath_walk. */
int fs_open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* The same without openat2: one openat(O_NOFOLLOW) per component, through
 * O_PATH directory fds. Absolute paths and any ".." are EXDEV; empty and "."
 * components are skipped. Same results as fs_open_beneath for safe names. */
int fs_open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode);

/* Creates every directory of the relative path (e.g. "a/b/c") beneath dirfd,
 * one mkdirat per component (existing ones are fine) and descending with
 * openat(O_NOFOLLOW|O_DIRECTORY): a symlink on the way is ELOOP, a file ENOTDIR,
 * and nothing is created through either. Absolute paths, "." and ".." are EXDEV
 * before anything is made. mode is subject to the umask. Returns 0 or -errno. */
int fs_mkdir_beneath(int dirfd, const char *path, mode_t mode);

/* Hands directory path and everything beneath it to uid:gid, walking by fd
 * (fchown/fchownat, symlinks never followed, 64 levels at most). */
int fs_chown_tree(const char *path, uid_t uid, gid_t gid, struct kcr_err *err);

/* For files root runs or grants privilege to (kcr-nsexec, the fork-server's
 * library and template): fd must be owned by root and writable by no one
 * else, or a local user could have planted it. what names it in the error
 * (e.g. "kcr-nsexec (KCR_NSEXEC_BIN)"). Returns 0 or -1 with err set. */
int fs_check_root_owned(int fd, const char *what, const char *path, struct kcr_err *err);

/* write(2) until done, retrying EINTR. Returns 0 or -errno. */
int fs_write_all(int fd, const void *data, size_t len);

/* Reads fd to EOF into out (whose cap bounds memory). Returns 0 or -errno;
 * out->truncated tells whether data was dropped. */
int fs_read_all(int fd, struct kcr_buf *out);

/* Reads the small file path (relative to dirfd, or absolute; AT_FDCWD for
 * the working directory) into buf: at most size-1 bytes, NUL-terminated, the
 * rest of a longer file left unread. Opened O_RDONLY|O_CLOEXEC|O_NOFOLLOW; for
 * /proc and cgroupfs files. Returns the length read or -errno. */
ssize_t fs_read_file_at(int dirfd, const char *path, char *buf, size_t size);

/* Copies up to max bytes from in to out. Returns bytes copied or -errno;
 * -EFBIG when in holds more than max. */
ssize_t fs_copy_fd(int in, int out, size_t max);

/* Atomically publishes name in dirfd: temp file, write, fsync, rename, fsync dir. */
int fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    struct kcr_err *err);

/* mkdir -p; existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode, struct kcr_err *err);

/* Removes name in dirfd recursively without following symlinks (at most 64
 * levels deep). A missing name is success. Returns 0 or -errno. */
int fs_rm_tree_at(int dirfd, const char *name);
