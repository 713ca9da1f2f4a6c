/* forkserver — the pod manager's side of the fork-server: starts and stops
 * the template process of a preloaded language (privileged; runs in the pod
 * manager). The template itself is runtime/forkserver.py; what its children
 * do is src/sidecar/forkserver-child.c; the design and threat model are in
 * docs/local-pods.md, "Fork-server". */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/lang.h"
#include "pod/pod-local.h"
#include "sandbox/cgroup.h"

struct forkserver;

/* Starts a template of lang that imports preload (comma-separated modules;
 * "" = nothing) under <run_dir>/forkserver/<manager pid>-<name>/: a mount
 * namespace built like a main container's, root with a bounding set of what
 * its children need, `env -i <lang env> python /opt/kcr/forkserver.py`. Its
 * socket refuses connections until the preload is done (the template calls
 * listen), so pods created earlier simply run without it. Fails (nothing
 * left behind) when the library or the template script is missing. */
struct forkserver *forkserver_start(const struct kcr_pod_local_config *cfg,
                                    const struct kcr_cgroup_mgr *cgm, const struct kcr_lang *lang,
                                    const char *preload, const char *name, struct kcr_err *err);

/* Waits up to timeout_ms for the template to finish its preload (it then
 * listens). True once it is ready; false while it is still importing or
 * after it died. */
bool forkserver_wait_ready(struct forkserver *fs, long timeout_ms);

/* The socket path the sidecar passes to kcr-nsexec (borrowed). */
const char *forkserver_socket(const struct forkserver *fs);

/* The language it serves (borrowed). */
const struct kcr_lang *forkserver_lang(const struct forkserver *fs);

/* The template's pid, 0 once it exited (forkserver_reaped). */
pid_t forkserver_pid(const struct forkserver *fs);
void forkserver_reaped(struct forkserver *fs);

/* Kills the template (its children are gone or in pods by then) and removes
 * its directory. Accepts NULL; returns NULL. */
struct forkserver *forkserver_stop(struct forkserver *fs);
