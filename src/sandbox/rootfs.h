/* rootfs — the main container's root filesystem, built as a plan (an array of
 * typed steps) and then executed inside the container's own mount namespace,
 * followed by pivot_root.
 *
 * The root is a small tmpfs holding the host's runtime paths bound read-only
 * (/usr, /lib*, /bin, /sbin; merged-/usr symlinks recreated), a generated
 * minimal /etc (passwd with the 65532 user, never the host's shadow), read-only
 * binds of what runtimes need from /etc, a fresh /proc, a minimal /dev,
 * size-limited tmpfs /tmp and /dev/shm, /mnt/data and /opt/kcr. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

enum kcr_rootfs_op {
    ROOTFS_TMPFS,    /* tmpfs at dst (mode, size_mb) */
    ROOTFS_MKDIR,    /* directory dst and its parents */
    ROOTFS_BIND,     /* bind src (dir or file) at dst, then set attrs */
    ROOTFS_SYMLINK,  /* symlink dst -> data */
    ROOTFS_WRITE,    /* file dst with content data */
    ROOTFS_PROC,     /* fresh proc at dst */
    ROOTFS_READONLY, /* make the mount at dst read-only (the root, last) */
};

struct kcr_rootfs_step {
    enum kcr_rootfs_op op;
    char *src;           /* host path (BIND) */
    char *dst;           /* path inside the root, without leading '/'; "" is the root */
    char *data;          /* SYMLINK target, WRITE content */
    mode_t mode;         /* TMPFS, MKDIR, WRITE */
    unsigned size_mb;    /* TMPFS */
    unsigned long attrs; /* BIND: MOUNT_ATTR_* set after binding */
};

struct kcr_rootfs_config {
    const char *root;              /* host directory the root is mounted on */
    const char *data_dir;          /* bound read-write at /mnt/data */
    const char *runtime_dir;       /* bound read-only at /opt/kcr; NULL or missing: empty */
    const char *const *host_paths; /* extra read-only binds (lang.h), NULL-terminated or NULL */
    unsigned tmp_mb;               /* size of /tmp */
    unsigned shm_mb;               /* size of /dev/shm */
    const char *hostname;          /* for /etc/hosts and /etc/hostname */
};

struct kcr_rootfs_plan {
    char *root;
    struct kcr_rootfs_step *steps;
    size_t count;
    size_t cap;
};

/* Builds the plan by looking at the host (missing paths are skipped, symlinks
 * recreated). Fails (KCR_ERR_INVALID) if an extra host path is outside what a
 * pod may see (/root, /home, /var, /etc/shadow...). Free with rootfs_plan_free. */
struct kcr_rootfs_plan *rootfs_plan_new(const struct kcr_rootfs_config *cfg, struct kcr_err *err);
struct kcr_rootfs_plan *rootfs_plan_free(struct kcr_rootfs_plan *plan);

/* Name of an op, for messages and tests ("bind", "tmpfs", ...). */
const char *rootfs_op_name(enum kcr_rootfs_op op);

/* Executes one step below root. Must run in a private mount namespace. */
int rootfs_step_apply(const char *root, const struct kcr_rootfs_step *step, struct kcr_err *err);

/* Executes every step in order; the error names the failing step. */
int rootfs_apply(const struct kcr_rootfs_plan *plan, struct kcr_err *err);

/* pivot_root into root and detaches the old root (pivot_root(".", ".") as in
 * runc: no directory for the old root is needed in a read-only root). */
int rootfs_pivot(const char *root, struct kcr_err *err);
