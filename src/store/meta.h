/* meta — the metadata store interface: sessions, file records, Python state
 * index, managed API keys, rate-limit counters and continuation records.
 *
 * A backend is a `const struct kcr_meta_ops` chosen once at start (sqlite now,
 * redis later); its instance struct starts with `struct kcr_meta super`. Every
 * operation is thread-safe and durable once it returns 0. Lookups of missing
 * records fail with KCR_ERR_NOT_FOUND; a broken store fails with
 * KCR_ERR_UNAVAILABLE. Times are milliseconds since the epoch (UTC). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/id.h"

/* Every session, file and state belongs to a principal (core/principal.h),
 * stored as its id string; data from before owners existed belongs to
 * KCR_OWNER_UNOWNED. */
#define KCR_OWNER_MAX     640
#define KCR_OWNER_UNOWNED "unowned"

struct kcr_session {
    char id[KCR_ID_LEN + 1];
    char owner[KCR_OWNER_MAX];
    char entity_id[48]; /* "" when none */
    char user_id[128];  /* "" when none */
    int64_t created_ms;
    int64_t last_activity_ms;
    int64_t expires_ms; /* 0 = never */
};

enum kcr_file_kind { KCR_FILE_UPLOAD, KCR_FILE_OUTPUT };

/* The LibreChat resource a file was stored for (`kind`/`id`/`version` of
 * upload fields and file references); all empty when none was given. */
#define KCR_RESOURCE_ID_MAX      255
#define KCR_RESOURCE_VERSION_MAX 63
struct kcr_resource {
    char kind[8]; /* "", "user", "agent" or "skill" */
    char id[KCR_RESOURCE_ID_MAX + 1];
    char version[KCR_RESOURCE_VERSION_MAX + 1];
};

struct kcr_file_meta {
    char id[KCR_ID_LEN + 1];
    char session_id[KCR_ID_LEN + 1];
    char owner[KCR_OWNER_MAX];
    struct kcr_resource res;
    char name[4096]; /* sanitised upload name, or the relative path of an output */
    char content_type[128];
    uint64_t size;
    int64_t created_ms;
    enum kcr_file_kind kind;
};

struct kcr_state_meta {
    char owner[KCR_OWNER_MAX];
    char session_id[65];
    uint64_t size;
    char hash[65]; /* sha256 hex of the raw bytes */
    int64_t created_ms;
    int64_t expires_ms;
};

/* Requests per minute per principal for each limited route; -1 = the
 * configured default, 0 = unlimited. */
struct kcr_rate_limits {
    int64_t exec, upload, download;
};

/* A managed API key: only its sha256 is stored. */
struct kcr_key_meta {
    char hash[65];
    char prefix[16]; /* the first characters, to recognise a key in listings */
    char name[128];
    bool enabled;
    int64_t created_ms;
    struct kcr_rate_limits limits;
};

/* What the store holds, for the operator dashboard: the live sessions (not
 * expired at now_ms) and the oldest one's creation (0 when none), and every
 * file and state record with the bytes they stand for. */
struct kcr_store_summary {
    uint64_t sessions;
    int64_t oldest_ms;
    uint64_t files, file_bytes;
    uint64_t states, state_bytes;
};

/* Where a paused programmatic run lives, for the other replicas
 * (core/ptc-route.h): key is a sha256 hex the caller derives (from a
 * continuation token or a request id, never the secret itself), owner the
 * run's principal, replica the URL of the `kcr serve` that holds it. */
#define KCR_REPLICA_URL_MAX 256
struct kcr_cont_meta {
    char key[65];
    char owner[KCR_OWNER_MAX];
    char replica[KCR_REPLICA_URL_MAX + 1];
    int64_t created_ms;
    int64_t expires_ms; /* gone for cont_get from then on */
};

struct kcr_meta;

struct kcr_meta_ops {
    const char *name; /* "sqlite" */

    int (*session_create)(struct kcr_meta *m, const struct kcr_session *s, struct kcr_err *err);
    /* Fills ret; KCR_ERR_NOT_FOUND when absent or expired at now_ms. */
    int (*session_get)(struct kcr_meta *m, const char *id, int64_t now_ms, struct kcr_session *ret,
                       struct kcr_err *err);
    int (*session_touch)(struct kcr_meta *m, const char *id, int64_t now_ms, struct kcr_err *err);
    /* The most recently active live session of owner created for entity_id. */
    int (*session_by_entity)(struct kcr_meta *m, const char *owner, const char *entity_id,
                             int64_t now_ms, char ret_id[KCR_ID_LEN + 1], struct kcr_err *err);
    /* Up to max ids of sessions expired at now_ms (ret_ids: max entries). */
    int (*sessions_expired)(struct kcr_meta *m, int64_t now_ms, char (*ret_ids)[KCR_ID_LEN + 1],
                            size_t max, size_t *ret_n, struct kcr_err *err);
    /* Removes the session with its file records and the state records of its id. */
    int (*session_delete)(struct kcr_meta *m, const char *id, struct kcr_err *err);

    int (*file_put)(struct kcr_meta *m, const struct kcr_file_meta *f, struct kcr_err *err);
    int (*file_get)(struct kcr_meta *m, const char *sid, const char *fid, struct kcr_file_meta *ret,
                    struct kcr_err *err);
    /* The newest file of session sid whose name is name. */
    int (*file_find_name)(struct kcr_meta *m, const char *sid, const char *name,
                          struct kcr_file_meta *ret, struct kcr_err *err);
    /* All files of sid, oldest first (*ret freed by the caller with free()). */
    int (*file_list)(struct kcr_meta *m, const char *sid, struct kcr_file_meta **ret, size_t *ret_n,
                     struct kcr_err *err);
    int (*file_delete)(struct kcr_meta *m, const char *sid, const char *fid, struct kcr_err *err);

    /* State records are keyed by (owner, session id). */
    int (*state_put)(struct kcr_meta *m, const struct kcr_state_meta *s, struct kcr_err *err);
    int (*state_get)(struct kcr_meta *m, const char *owner, const char *sid, int64_t now_ms,
                     struct kcr_state_meta *ret, struct kcr_err *err);
    int (*state_delete)(struct kcr_meta *m, const char *owner, const char *sid,
                        struct kcr_err *err);
    /* Up to max state records expired at now_ms (ret: max entries). */
    int (*states_expired)(struct kcr_meta *m, int64_t now_ms, struct kcr_state_meta *ret,
                          size_t max, size_t *ret_n, struct kcr_err *err);

    /* Managed keys, by sha256 hex; key_get fails with NOT_FOUND for an
     * unknown hash. */
    int (*key_add)(struct kcr_meta *m, const struct kcr_key_meta *k, struct kcr_err *err);
    int (*key_get)(struct kcr_meta *m, const char *hash, struct kcr_key_meta *ret,
                   struct kcr_err *err);
    /* All managed keys, oldest first (*ret freed by the caller with free()). */
    int (*key_list)(struct kcr_meta *m, struct kcr_key_meta **ret, size_t *ret_n,
                    struct kcr_err *err);
    /* Enables/disables (NOT_FOUND if absent). */
    int (*key_set_enabled)(struct kcr_meta *m, const char *hash, bool enabled, struct kcr_err *err);
    int (*key_set_limits)(struct kcr_meta *m, const char *hash, const struct kcr_rate_limits *l,
                          struct kcr_err *err);
    int (*key_delete)(struct kcr_meta *m, const char *hash, struct kcr_err *err);

    /* Adds one hit to the counter of key in the fixed window starting at
     * window_ms (kept until expires_ms) and returns the count with this hit.
     * Atomic: concurrent hits (threads, replicas) each get their own count. */
    int (*rate_hit)(struct kcr_meta *m, const char *key, int64_t window_ms, int64_t expires_ms,
                    int64_t *ret_count, struct kcr_err *err);
    /* Takes one hit back from that counter (a request counted where it
     * is not served). Never below zero; a counter that is gone stays gone. */
    int (*rate_undo)(struct kcr_meta *m, const char *key, int64_t window_ms, struct kcr_err *err);

    /* Continuation records, by key: cont_put replaces the record of its
     * key; cont_get fails with NOT_FOUND when absent or expired at now_ms;
     * cont_delete removes it only while it still names replica (any
     * replica when NULL), and is 0 when there was none. */
    int (*cont_put)(struct kcr_meta *m, const struct kcr_cont_meta *c, struct kcr_err *err);
    int (*cont_get)(struct kcr_meta *m, const char *key, int64_t now_ms, struct kcr_cont_meta *ret,
                    struct kcr_err *err);
    int (*cont_delete)(struct kcr_meta *m, const char *key, const char *replica,
                       struct kcr_err *err);

    /* Counts of sessions, files and states (struct kcr_store_summary). */
    int (*summary)(struct kcr_meta *m, int64_t now_ms, struct kcr_store_summary *ret,
                   struct kcr_err *err);

    /* 0 when the store answers a trivial query. */
    int (*ping)(struct kcr_meta *m, struct kcr_err *err);
    void (*free)(struct kcr_meta *m);
};

struct kcr_meta {
    const struct kcr_meta_ops *ops;
};

/* Frees any backend. Accepts NULL; returns NULL. */
struct kcr_meta *meta_free(struct kcr_meta *m);
