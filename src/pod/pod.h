/* pod — execution pods (a main container idle in `sleep infinity` plus
 * kcr-sidecar) and the backends that create them.
 *
 * A backend is a `const struct kcr_pod_ops` chosen once at start (local or
 * kubernetes); each backend's instance struct starts with `struct
 * kcr_pod_backend super`. Pods are single-use: acquire (pool.h), put files,
 * execute, collect files, destroy. Everything after creation talks to the
 * pod's sidecar over HTTP (sidecar-client.h), the same way on every backend. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "common/lang.h"

/* A live pod. Backends allocate a larger struct that starts with this one. */
struct kcr_pod {
    char id[64];                 /* backend-unique name */
    const struct kcr_lang *lang; /* borrowed from the language table */
    char *unix_socket;           /* sidecar unix socket path, or NULL for TCP */
    char *base_url;              /* "http://localhost" (unix) or "http://10.1.2.3:8080" */
    bool lite;                   /* made by create_lite (below) */
};

struct kcr_pod_backend;

struct kcr_pod_ops {
    const char *name; /* "local", "kubernetes" */
    /* Creates a pod for lang and returns once its sidecar answers /ready.
     * Never hangs: fails with a message naming the cause (missing runtime,
     * cgroups unavailable, out of disk, timeout). */
    struct kcr_pod *(*create)(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                              struct kcr_err *err);
    /* Optional (NULL: one kind of pod). Lite pods run the same code the
     * same way, but their runner has nothing preloaded: it starts from a
     * far smaller process, which costs a fraction of the CPU, and code that
     * imports only the standard library needs nothing more (local backend
     * with a fork-server and a preload set: docs/local-pods.md). has_lite
     * tells whether lang has them; create_lite makes one. */
    bool (*has_lite)(struct kcr_pod_backend *be, const struct kcr_lang *lang);
    struct kcr_pod *(*create_lite)(struct kcr_pod_backend *be, const struct kcr_lang *lang,
                                   struct kcr_err *err);
    /* Destroys the pod and everything it held (processes, mounts, cgroups,
     * directories, sockets). Accepts NULL. */
    void (*destroy)(struct kcr_pod_backend *be, struct kcr_pod *pod);
    /* State for /health/detailed: {"status":"healthy|degraded|unhealthy", ...}. */
    json_t *(*health)(struct kcr_pod_backend *be);
    /* Frees the backend (destroying any pods it still tracks). */
    void (*free)(struct kcr_pod_backend *be);
};

struct kcr_pod_backend {
    const struct kcr_pod_ops *ops;
};
