/* k8s-pod — reading fields of a v1 Pod object (jansson), tolerant of missing
 * fields: the cache of the kubernetes backend holds whatever the API sent. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

/* metadata.labels[key], or NULL. Borrowed. */
const char *k8s_pod_label(const json_t *pod, const char *key);
/* metadata[key] as a string ("name", "resourceVersion"...), or NULL. Borrowed. */
const char *k8s_pod_meta(const json_t *pod, const char *key);
/* metadata.annotations[key] parsed as a decimal integer, or 0. */
long k8s_pod_annotation_long(const json_t *pod, const char *key);
/* status.phase, "Pending" when absent. Borrowed. */
const char *k8s_pod_phase(const json_t *pod);
/* status.podIP, or NULL. Borrowed. */
const char *k8s_pod_ip(const json_t *pod);
/* metadata.deletionTimestamp is set. */
bool k8s_pod_is_deleting(const json_t *pod);
/* Failed or Succeeded: the pod will never serve again. */
bool k8s_pod_is_finished(const json_t *pod);
/* Running, condition Ready=True, with an IP, and not being deleted. */
bool k8s_pod_is_ready(const json_t *pod);
/* metadata.creationTimestamp (RFC 3339, UTC), or now when absent/unparsable. */
time_t k8s_pod_created_at(const json_t *pod);
