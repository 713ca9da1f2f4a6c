/* sidecar-client — kcr's HTTP client for a pod's kcr-sidecar (libcurl), the same
 * for every backend: over the pod's unix socket (local) or its IP (kubernetes).
 * Every read from the sidecar is bounded: the sidecar sits inside the pod and
 * is as untrusted as the code it runs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "pod/pod.h"

struct kcr_exec_req {
    const char *code;
    const char *const *args; /* may be NULL when nargs == 0 */
    size_t nargs;
    const char *stdin_data; /* may be NULL */
    size_t stdin_len;
    int timeout_s;           /* wall-clock limit for all steps */
    const char *working_dir; /* KCR_WORKDIR */
    /* Ask the sidecar for the listing after the run in the same answer (its
     * "list_files"), which saves the GET /files?recursive=1 that would follow.
     * A sidecar that predates the field ignores it (it ignores unknown
     * fields) and answers without a listing: res->listed tells. */
    bool list_files;
};

/* One entry of a pod's working directory (regular files only). */
struct kcr_pod_file {
    char *name; /* relative path, '/'-separated ("plots/a.png") */
    uint64_t size;
    int64_t mtime_ns;
};

struct kcr_pod_files {
    struct kcr_pod_file *items;
    size_t count;
    bool truncated; /* the sidecar stopped at its count/depth/time bounds */
};

struct kcr_exec_result {
    int exit_code; /* 124 on timeout, 128+N when killed by signal N */
    char *stdout_data;
    size_t stdout_len;
    char *stderr_data;
    size_t stderr_len;
    long execution_time_ms;
    bool timed_out;
    bool oom_killed;
    int signal; /* 0 unless killed by a signal */
    bool sent;  /* the request reached the sidecar (set on failure too): when
                   false, the program certainly never ran */
    /* With list_files: the answer carried a listing that passed the checks of
     * sidecar_client_list_files; files is it (freed with the result). When
     * false, the caller asks GET /files itself (an older sidecar, a listing
     * the sidecar could not take, a malformed one). */
    bool listed;
    struct kcr_pod_files files;
    double list_ms; /* listed: the sidecar's walk plus kcr's parse, in ms */
};

/* GET /ready: 0 when ready, -1 (KCR_ERR_UNAVAILABLE) otherwise. */
/* The sidecar's MAX_OUTPUT_SIZE (bytes per stream) for the API's cap of chars
 * characters: a character takes up to 4 bytes of UTF-8, so the sidecar keeps
 * enough for the API to cut at the right character, and no more; clamped to
 * what the sidecar accepts (1 KiB..64 MiB). */
long sidecar_client_output_bytes(long chars);

int sidecar_client_ready(const struct kcr_pod *pod, int timeout_ms, struct kcr_err *err);

/* POST /files: uploads size bytes from fd as working_dir/name. */
int sidecar_client_put_file(const struct kcr_pod *pod, const char *name, int fd, uint64_t size,
                            struct kcr_err *err);

/* POST /execute. Fills res (free with sidecar_client_result_done; res->sent also on
 * failure). A failing, crashing or timed-out program is a result, not an error;
 * err is for transport/sidecar failures only. */
int sidecar_client_execute(const struct kcr_pod *pod, const struct kcr_exec_req *req,
                           struct kcr_exec_result *res, struct kcr_err *err);
void sidecar_client_result_done(struct kcr_exec_result *res);

/* GET /files?recursive=1: every regular file under the working directory
 * (never following symlinks), bounded in count, depth and time by the sidecar.
 * Free with sidecar_client_files_done. The same listing can come with the
 * answer of /execute (kcr_exec_req.list_files). */
int sidecar_client_list_files(const struct kcr_pod *pod, struct kcr_pod_files *ret,
                              struct kcr_err *err);
void sidecar_client_files_done(struct kcr_pod_files *files);

/* GET /files/{name}: writes the file's bytes to out_fd; fails with KCR_ERR_LIMIT
 * past max bytes and KCR_ERR_NOT_FOUND if it is not a regular file. With
 * ret_sha256, also the bytes' sha256 (hex), hashed as they arrive. */
int sidecar_client_get_file(const struct kcr_pod *pod, const char *name, int out_fd, uint64_t max,
                            char ret_sha256[65], struct kcr_err *err);

/*** Programmatic tool calling (sidecar POST /programmatic...) ***/

/* Where a programmatic run stands after a call: paused on tool calls, or
 * done with the program's result. */
struct kcr_ptc_step {
    bool paused;
    json_t *tool_calls;            /* paused: [{"id","name","input"}], checked (owned) */
    struct kcr_exec_result result; /* done */
};

#define SIDECAR_PTC_MAX_CALLS 64 /* tool calls the sidecar hands over at once */

/* POST /programmatic: starts req's program (lang "py" or "bash") with the
 * tools named in tools[0..ntools) and runs it until it calls tools or ends.
 * res->result.sent as sidecar_client_execute's. Free with
 * sidecar_client_ptc_step_done. */
int sidecar_client_ptc_start(const struct kcr_pod *pod, const struct kcr_exec_req *req,
                             const char *lang, const char *const *tools, size_t ntools,
                             struct kcr_ptc_step *ret, struct kcr_err *err);

/* POST /programmatic/continue: hands tool_results ([{call_id, result,
 * is_error, error_message?}], borrowed) to the paused program and runs it
 * until it pauses again or ends; timeout_s bounds the wait like /execute's. */
int sidecar_client_ptc_continue(const struct kcr_pod *pod, json_t *tool_results, int timeout_s,
                                const char *const *tools, size_t ntools, struct kcr_ptc_step *ret,
                                struct kcr_err *err);

/* POST /programmatic/cancel: kills the run's program, paused or running. */
int sidecar_client_ptc_cancel(const struct kcr_pod *pod, struct kcr_err *err);

void sidecar_client_ptc_step_done(struct kcr_ptc_step *step);
