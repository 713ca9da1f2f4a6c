/* k8s-client — a small Kubernetes API client for pods (libcurl + jansson).
 *
 * Only what the kubernetes pod backend needs: create, get, list (label
 * selectors), JSON merge-patch (optionally guarded by resourceVersion), delete
 * (optionally guarded by resourceVersion) and watch of the pods of one
 * namespace. Creates and patches ask for fieldValidation=Strict. Every response body is
 * size-capped; 429 (Retry-After), 5xx and transport failures are retried a bounded number of times;
 * a watch is a streamed sequence of JSON lines. Thread-safe: each call uses its own curl handle. */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "common/err.h"

/* Returned (instead of -1) when the server answered 409 to a guarded update:
 * another writer changed the object first. */
#define K8S_CONFLICT (-2)
/* Returned by k8s_pod_watch when the resourceVersion is too old (410 Gone):
 * relist, then watch from the list's resourceVersion. */
#define K8S_GONE (-3)

struct k8s_client_config {
    char *api_url;    /* "https://10.0.0.1:443" or "http://127.0.0.1:8001" */
    char *token;      /* bearer token, or NULL */
    char *token_file; /* re-read on every request (bound tokens rotate), or NULL */
    char *ca_file;    /* CA bundle for https, or NULL for the system store */
    char *namespace;  /* where execution pods live */
    bool insecure;    /* K8S_INSECURE_SKIP_TLS_VERIFY: tests against self-signed only */
};

/* Fills cfg from the environment: K8S_API_URL (+ K8S_TOKEN or K8S_TOKEN_FILE,
 * K8S_CA_FILE) when set, else the in-cluster service account
 * (KUBERNETES_SERVICE_HOST/PORT, /var/run/secrets/kubernetes.io/serviceaccount).
 * K8S_NAMESPACE overrides the namespace (default: the service account's, else
 * "default"). Fails naming what is missing. */
int k8s_client_config_from_env(struct k8s_client_config *cfg, struct kcr_err *err);
void k8s_client_config_done(struct k8s_client_config *cfg);

struct k8s_client;

/* Copies cfg. */
struct k8s_client *k8s_client_new(const struct k8s_client_config *cfg, struct kcr_err *err);
/* Accepts NULL; returns NULL. */
struct k8s_client *k8s_client_free(struct k8s_client *c);

/* POST a pod; *ret (may be NULL) gets the created object. */
int k8s_pod_create(struct k8s_client *c, const json_t *pod, json_t **ret, struct kcr_err *err);
/* GET a pod; KCR_ERR_NOT_FOUND when it does not exist. */
int k8s_pod_get(struct k8s_client *c, const char *name, json_t **ret, struct kcr_err *err);
/* GET the PodList matching selector (may be NULL); *ret is the list object. */
int k8s_pod_list(struct k8s_client *c, const char *selector, json_t **ret, struct kcr_err *err);
/* PATCH (merge patch) a pod. When the patch carries metadata.resourceVersion
 * the server applies it only if the pod still has that version, else
 * K8S_CONFLICT. KCR_ERR_NOT_FOUND when the pod is gone. */
int k8s_pod_patch(struct k8s_client *c, const char *name, const json_t *patch, json_t **ret,
                  struct kcr_err *err);
/* DELETE a pod (grace period in seconds, -1 for the pod's own). A pod that is
 * already gone counts as deleted. */
int k8s_pod_delete(struct k8s_client *c, const char *name, int grace_s, struct kcr_err *err);
/* The same, only while the pod is still at resource_version (DeleteOptions
 * preconditions): K8S_CONFLICT when it changed since (claimed, its lease
 * renewed), so a collector never deletes on a stale view. NULL: unconditional. */
int k8s_pod_delete_if(struct k8s_client *c, const char *name, int grace_s,
                      const char *resource_version, struct kcr_err *err);

/* One watch event: type "ADDED", "MODIFIED", "DELETED" or "BOOKMARK"; object
 * borrowed. Return non-zero to stop watching. */
typedef int (*k8s_watch_cb)(const char *type, json_t *object, void *userdata);

/* Watches pods matching selector from resource_version (NULL = now) until the
 * server ends the stream (timeout_s), cb returns non-zero or *stop becomes
 * true. Returns 0 then, K8S_GONE when the version is too old (HTTP 410 or an
 * ERROR event with code 410), -1 on transport or server failure. Each event
 * line is capped. */
int k8s_pod_watch(struct k8s_client *c, const char *selector, const char *resource_version,
                  int timeout_s, k8s_watch_cb cb, void *userdata, const atomic_bool *stop,
                  struct kcr_err *err);
