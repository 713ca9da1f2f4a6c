/* k8s-pod — Pod field readers (see k8s-pod.h). */
#include "pod/k8s-pod.h"

#include <stdlib.h>
#include <string.h>

static json_t *meta(const json_t *pod)
{
    return json_object_get(pod, "metadata");
}

const char *k8s_pod_label(const json_t *pod, const char *key)
{
    return json_string_value(json_object_get(json_object_get(meta(pod), "labels"), key));
}

const char *k8s_pod_meta(const json_t *pod, const char *key)
{
    return json_string_value(json_object_get(meta(pod), key));
}

long k8s_pod_annotation_long(const json_t *pod, const char *key)
{
    const char *v =
        json_string_value(json_object_get(json_object_get(meta(pod), "annotations"), key));
    return v ? strtol(v, NULL, 10) : 0;
}

const char *k8s_pod_phase(const json_t *pod)
{
    const char *p = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return p ? p : "Pending";
}

const char *k8s_pod_ip(const json_t *pod)
{
    return json_string_value(json_object_get(json_object_get(pod, "status"), "podIP"));
}

bool k8s_pod_is_deleting(const json_t *pod)
{
    return k8s_pod_meta(pod, "deletionTimestamp") != NULL;
}

bool k8s_pod_is_finished(const json_t *pod)
{
    const char *p = k8s_pod_phase(pod);
    return !strcmp(p, "Failed") || !strcmp(p, "Succeeded");
}

bool k8s_pod_is_ready(const json_t *pod)
{
    const json_t *conds = json_object_get(json_object_get(pod, "status"), "conditions");
    if (k8s_pod_is_deleting(pod) || strcmp(k8s_pod_phase(pod), "Running") || !k8s_pod_ip(pod))
        return false;
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const json_t *c = json_array_get(conds, i);
        const char *type = json_string_value(json_object_get(c, "type"));
        if (type && !strcmp(type, "Ready")) {
            const char *st = json_string_value(json_object_get(c, "status"));
            return st && !strcmp(st, "True");
        }
    }
    return false;
}

time_t k8s_pod_created_at(const json_t *pod)
{
    const char *ts = k8s_pod_meta(pod, "creationTimestamp");
    struct tm tm = {0};
    if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
        return time(NULL);
    return timegm(&tm);
}
