/* core-fixture — a kcr_core for the unit tests of core/'s runs (tests/fakes/:
 * built into build/libfakes.a, which only unit tests link): the real embedded
 * stores (SQLite + blob files) in a fresh directory under /tmp, the fake pod
 * backend (fakes/pod-fake.h) whose sidecar answers with the test's handler, a
 * pool without warm pods (every acquire creates a pod on demand, so the
 * fake's counters say how many pods each request took) and admission of 4
 * runs at a time. No programmatic runs (core.ptc): a test that wants them
 * makes them. */
#pragma once

#include "core/core.h"
#include "core/files.h"
#include "core/session.h"
#include "fakes/pod-fake.h"
#include "fakes/tmpdir.h"

/* Opens core on cfg, which is cleared to these limits first (the test may
 * change them afterwards): 30 s a run, 65536 output characters, 10 MiB a file,
 * 10 output files, 512 MiB, 500 files a session, Python state kept, cleanup
 * every 600 s. The stores go into dir, a new /tmp/kcr-<name>-XXXXXX; the fake
 * sidecar's requests (but GET /ready) go to handler with userdata. */
void core_fixture_open(struct kcr_core *core, struct kcr_serve_config *cfg, char dir[TMPDIR_SIZE],
                       const char *name, pod_fake_handler handler, void *userdata);
/* core_close, and dir removed. */
void core_fixture_close(struct kcr_core *core, const char *dir);

/* pool_release destroys pods in the background: waits up to 5 s until n pods
 * were destroyed in all, and fails the test if the count is not n then. */
void core_fixture_wait_destroys(struct kcr_core *core, unsigned n);

/* Stores data as an upload of session s named name. */
struct kcr_file_meta core_fixture_store(struct kcr_core *core, const struct kcr_session *s,
                                        const char *name, const char *data);
/* The bytes of file id of session sid, read as who, as a new string. */
char *core_fixture_file_bytes(struct kcr_core *core, const struct kcr_principal *who,
                              const char *sid, const char *id);
