/* rootfs — plan building (looks at the host) and execution (mounts). */
#include "sandbox/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsutil.h"
#include "common/xalloc.h"

/* Host paths bound read-only at the same place. */
static const char *const base_paths[] = {"/usr",    "/lib", "/lib32", "/lib64",
                                         "/libx32", "/bin", "/sbin"};

/* What runtimes read from /etc, bound read-only when present. */
static const char *const etc_paths[] = {
    "/etc/alternatives", "/etc/ssl",          "/etc/ca-certificates", "/etc/fonts",
    "/etc/ld.so.cache",  "/etc/ld.so.conf",   "/etc/ld.so.conf.d",    "/etc/localtime",
    "/etc/mime.types",   "/etc/matplotlibrc", "/etc/timezone",
};

/* Never visible in a pod, whatever the language table says. */
static const char *const forbidden[] = {
    "/etc/shadow", "/etc/gshadow", "/root", "/home", "/var", "/proc",       "/sys",
    "/dev",        "/run",         "/tmp",  "/boot", "/mnt", "/etc/sudoers"};

static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

#define RO_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

const char *rootfs_op_name(enum kcr_rootfs_op op)
{
    switch (op) {
    case ROOTFS_TMPFS:
        return "tmpfs";
    case ROOTFS_MKDIR:
        return "mkdir";
    case ROOTFS_BIND:
        return "bind";
    case ROOTFS_SYMLINK:
        return "symlink";
    case ROOTFS_WRITE:
        return "write";
    case ROOTFS_PROC:
        return "proc";
    case ROOTFS_READONLY:
        return "readonly";
    }
    return "unknown";
}

/*** Plan ***/

static struct kcr_rootfs_step *add(struct kcr_rootfs_plan *p, enum kcr_rootfs_op op,
                                   const char *dst)
{
    if (p->count == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->steps = xrealloc(p->steps, p->cap * sizeof(*p->steps));
    }
    struct kcr_rootfs_step *s = &p->steps[p->count++];
    memset(s, 0, sizeof(*s));
    s->op = op;
    while (*dst == '/')
        dst++;
    s->dst = xstrdup(dst);
    return s;
}

static void add_tmpfs(struct kcr_rootfs_plan *p, const char *dst, mode_t mode, unsigned size_mb)
{
    if (*dst)
        add(p, ROOTFS_MKDIR, dst)->mode = 0755;
    struct kcr_rootfs_step *s = add(p, ROOTFS_TMPFS, dst);
    s->mode = mode;
    s->size_mb = size_mb;
}

static void add_bind(struct kcr_rootfs_plan *p, const char *src, const char *dst,
                     unsigned long attrs)
{
    struct kcr_rootfs_step *s = add(p, ROOTFS_BIND, dst);
    s->src = xstrdup(src);
    s->attrs = attrs;
}

static void add_write(struct kcr_rootfs_plan *p, const char *dst, const char *content)
{
    struct kcr_rootfs_step *s = add(p, ROOTFS_WRITE, dst);
    s->data = xstrdup(content);
    s->mode = 0644;
}

/* A host path as it is: symlink recreated (merged /usr: /bin -> usr/bin),
 * directory or file bound read-only, missing skipped. */
static void add_host_path(struct kcr_rootfs_plan *p, const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            return;
        target[n] = '\0';
        add(p, ROOTFS_SYMLINK, path)->data = xstrdup(target);
        return;
    }
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))
        add_bind(p, path, path, RO_ATTRS);
}

static bool is_forbidden(const char *path)
{
    for (size_t i = 0; i < ARRAY_SIZE(forbidden); i++) {
        size_t n = strlen(forbidden[i]);
        if (!strncmp(path, forbidden[i], n) && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return path[0] != '/' || strstr(path, "/..") || !strcmp(path, "/") || !strcmp(path, "/etc");
}

static void add_etc(struct kcr_rootfs_plan *p, const char *hostname)
{
    add(p, ROOTFS_MKDIR, "etc")->mode = 0755;
    add_write(p, "etc/passwd",
              "root:x:0:0:root:/nonexistent:/usr/sbin/nologin\n"
              "kcr:x:65532:65532:kcr:/tmp:/usr/sbin/nologin\n"
              "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    add_write(p, "etc/group", "root:x:0:\nkcr:x:65532:\nnogroup:x:65534:\n");
    _cleanup_free_ char *hosts =
        xasprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
    add_write(p, "etc/hosts", hosts);
    _cleanup_free_ char *hn = xasprintf("%s\n", hostname);
    add_write(p, "etc/hostname", hn);
    add_write(p, "etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files\n");
    add_write(p, "etc/resolv.conf", "");
    for (size_t i = 0; i < ARRAY_SIZE(etc_paths); i++)
        add_host_path(p, etc_paths[i]);
}

static void add_dev(struct kcr_rootfs_plan *p, unsigned shm_mb)
{
    add_tmpfs(p, "dev", 0755, 1);
    for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
        char src[32], dst[32];
        snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
        snprintf(dst, sizeof(dst), "dev/%s", dev_nodes[i]);
        add_bind(p, src, dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
    }
    static const char *const links[][2] = {{"dev/fd", "/proc/self/fd"},
                                           {"dev/stdin", "/proc/self/fd/0"},
                                           {"dev/stdout", "/proc/self/fd/1"},
                                           {"dev/stderr", "/proc/self/fd/2"}};
    for (size_t i = 0; i < ARRAY_SIZE(links); i++)
        add(p, ROOTFS_SYMLINK, links[i][0])->data = xstrdup(links[i][1]);
    add_tmpfs(p, "dev/shm", 01777, shm_mb);
}

struct kcr_rootfs_plan *rootfs_plan_new(const struct kcr_rootfs_config *cfg, struct kcr_err *err)
{
    for (size_t i = 0; cfg->host_paths && cfg->host_paths[i]; i++)
        if (is_forbidden(cfg->host_paths[i])) {
            kcr_err_set(err, 0, KCR_ERR_INVALID, "rootfs: host path '%s' may not be bound",
                        cfg->host_paths[i]);
            return NULL;
        }
    struct kcr_rootfs_plan *p = xcalloc(1, sizeof(*p));
    p->root = xstrdup(cfg->root);
    add_tmpfs(p, "", 0755, 1);
    for (size_t i = 0; i < ARRAY_SIZE(base_paths); i++)
        add_host_path(p, base_paths[i]);
    add_etc(p, cfg->hostname ? cfg->hostname : "kcr");
    for (size_t i = 0; cfg->host_paths && cfg->host_paths[i]; i++)
        add_host_path(p, cfg->host_paths[i]);
    add(p, ROOTFS_MKDIR, "proc")->mode = 0555;
    add(p, ROOTFS_PROC, "proc");
    add_dev(p, cfg->shm_mb);
    add_tmpfs(p, "tmp", 01777, cfg->tmp_mb);
    add(p, ROOTFS_MKDIR, "mnt/data")->mode = 0755;
    add_bind(p, cfg->data_dir, "mnt/data", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    struct stat st;
    if (cfg->runtime_dir && stat(cfg->runtime_dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        add_bind(p, cfg->runtime_dir, "opt/kcr", RO_ATTRS);
    } else {
        add(p, ROOTFS_MKDIR, "opt/kcr/bin")->mode = 0755;
    }
    add(p, ROOTFS_READONLY, "");
    return p;
}

struct kcr_rootfs_plan *rootfs_plan_free(struct kcr_rootfs_plan *plan)
{
    if (!plan)
        return NULL;
    for (size_t i = 0; i < plan->count; i++) {
        free(plan->steps[i].src);
        free(plan->steps[i].dst);
        free(plan->steps[i].data);
    }
    free(plan->steps);
    free(plan->root);
    free(plan);
    return NULL;
}

/*** Execution ***/

static int mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Creates the mount point for src at target (a directory or an empty file),
 * unless something is there already (a path inside an earlier bind). */
static int make_mountpoint(const char *src, const char *target)
{
    struct stat st, tst;
    if (stat(src, &st) < 0)
        return -errno;
    if (lstat(target, &tst) == 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return mkdir_p(target, 0755);
    _cleanup_free_ char *parent = xstrdup(target);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        int r = mkdir_p(parent, 0755);
        if (r < 0)
            return r;
    }
    int fd = open(target, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return -errno;
    (void)safe_close(fd);
    return 0;
}

static int set_attrs(const char *target, unsigned long attrs, bool recursive)
{
    struct mount_attr attr = {.attr_set = attrs};
    if (mount_setattr(AT_FDCWD, target, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) < 0)
        return -errno;
    return 0;
}

static int apply_bind(const struct kcr_rootfs_step *s, const char *target)
{
    int r = make_mountpoint(s->src, target);
    if (r < 0)
        return r;
    if (mount(s->src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return -errno;
    /* mount_setattr(2) with AT_RECURSIVE makes submounts read-only too, which
     * a MS_REMOUNT|MS_BIND|MS_RDONLY remount would not. */
    return s->attrs ? set_attrs(target, s->attrs, true) : 0;
}

static int apply_tmpfs(const struct kcr_rootfs_step *s, const char *target)
{
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%um,mode=%o", s->size_mb ? s->size_mb : 1,
             (unsigned)s->mode);
    if (mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return -errno;
    return 0;
}

static int apply_write(const struct kcr_rootfs_step *s, const char *target)
{
    _cleanup_close_ int fd =
        open(target, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, s->mode);
    if (fd < 0)
        return -errno;
    return fs_write_all(fd, s->data, strlen(s->data));
}

static int apply_one(const struct kcr_rootfs_step *s, const char *target)
{
    switch (s->op) {
    case ROOTFS_TMPFS:
        return apply_tmpfs(s, target);
    case ROOTFS_MKDIR:
        return mkdir_p(target, s->mode);
    case ROOTFS_BIND:
        return apply_bind(s, target);
    case ROOTFS_SYMLINK:
        return symlink(s->data, target) < 0 ? -errno : 0;
    case ROOTFS_WRITE:
        return apply_write(s, target);
    case ROOTFS_PROC:
        return mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? -errno
                                                                                         : 0;
    case ROOTFS_READONLY:
        return set_attrs(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
    }
    return -EINVAL;
}

int rootfs_step_apply(const char *root, const struct kcr_rootfs_step *step, struct kcr_err *err)
{
    char target[PATH_MAX];
    if (snprintf(target, sizeof(target), "%s%s%s", root, *step->dst ? "/" : "", step->dst) >=
        (int)sizeof(target))
        return kcr_err_set(err, ENAMETOOLONG, KCR_ERR_INTERNAL, "rootfs %s '/%s'",
                           rootfs_op_name(step->op), step->dst);
    int r = apply_one(step, target);
    if (r < 0)
        return kcr_err_set(err, -r, KCR_ERR_INTERNAL, "rootfs %s '%s%s/%s'",
                           rootfs_op_name(step->op), step->src ? step->src : "",
                           step->src ? " -> " : "", step->dst);
    return 0;
}

int rootfs_apply(const struct kcr_rootfs_plan *plan, struct kcr_err *err)
{
    for (size_t i = 0; i < plan->count; i++)
        if (rootfs_step_apply(plan->root, &plan->steps[i], err) < 0)
            return -1;
    return 0;
}

int rootfs_pivot(const char *root, struct kcr_err *err)
{
    if (chdir(root) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "chdir '%s'", root);
    /* pivot_root(".", "."): the old root ends up mounted on top of the new
     * one; detaching "." then removes it (pivot_root(2), "NOTES"). */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "pivot_root '%s'", root);
    if (umount2(".", MNT_DETACH) < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "detach the old root");
    if (chdir("/") < 0)
        return kcr_err_set(err, errno, KCR_ERR_INTERNAL, "chdir '/'");
    return 0;
}
