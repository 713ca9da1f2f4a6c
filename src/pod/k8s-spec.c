/* k8s-spec — the execution pod manifest (see k8s-spec.h and docs/kubernetes.md).
 *
 * Why the two containers look the way they do:
 *  - main runs the language image's entrypoint (`env -i <lang env> sleep
 *    infinity`) and never runs user code itself, so it gets no capabilities, a
 *    read-only root and small resources;
 *  - kcr-sidecar finds main's `sleep` through the shared pid namespace
 *    (shareProcessNamespace) and kcr-nsexec (file capabilities SYS_ADMIN,
 *    SYS_CHROOT, SYS_PTRACE, hence allowPrivilegeEscalation: true) enters main's
 *    mount namespace and execs the user's program. setns() does not move a
 *    process between cgroups, so user code is charged to the SIDECAR's cgroup:
 *    the execution limits are the sidecar container's resources. */
#include "pod/k8s-spec.h"
#include "common/limits.h"
#include "pod/sidecar-client.h"

#include "common/cleanup.h"
#include "common/lang.h"
#include "common/xalloc.h"

#include <stdbool.h>
#include <string.h>

/* Memory kcr-sidecar itself needs on top of the user program's limit. */
#define SIDECAR_OVERHEAD_MB 64
/* What a runner's preloaded data-science stack holds (~150 MB measured):
 * added to the container's limit, so user code keeps MAX_MEMORY_MB. */
#define PRELOAD_OVERHEAD_MB 192

struct spec_in {
    const char *name, *ns, *registry, *tag, *sidecar_image, *pull_policy, *runtime_class;
    const char *runner_preload;
    const struct kcr_lang *lang;
    json_int_t memory_mb, cpu_millis, main_memory_mb, main_cpu_millis;
    json_int_t max_exec, max_output, max_pids, data_mb, tmp_mb, port;
    bool writable_root;
};

/* DNS-1123 label: what a pod name must be. */
static bool is_dns_label(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static int get_str(const json_t *p, const char *key, const char *def, const char **ret,
                   struct kcr_err *err)
{
    const json_t *v = json_object_get(p, key);
    if (!v || json_is_null(v)) {
        *ret = def;
        return 0;
    }
    if (!json_is_string(v) || !json_string_length(v))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: '%s' must be a non-empty string",
                           key);
    *ret = json_string_value(v);
    return 0;
}

static int get_int(const json_t *p, const char *key, json_int_t def, json_int_t min, json_int_t max,
                   json_int_t *ret, struct kcr_err *err)
{
    const json_t *v = json_object_get(p, key);
    if (!v || json_is_null(v)) {
        *ret = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "pod spec: '%s' must be an integer in [%lld, %lld]", key, (long long)min,
                           (long long)max);
    *ret = json_integer_value(v);
    return 0;
}

static int parse_in(const json_t *p, struct spec_in *in, struct kcr_err *err)
{
    const char *code = NULL;
    if (!json_is_object(p))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: parameters must be an object");
    if (get_str(p, "name", NULL, &in->name, err) < 0 ||
        get_str(p, "language", NULL, &code, err) < 0 ||
        get_str(p, "namespace", NULL, &in->ns, err) < 0 ||
        get_str(p, "registry", "kcr", &in->registry, err) < 0 ||
        get_str(p, "tag", "latest", &in->tag, err) < 0 ||
        get_str(p, "sidecar_image", NULL, &in->sidecar_image, err) < 0 ||
        get_str(p, "pull_policy", "IfNotPresent", &in->pull_policy, err) < 0 ||
        get_str(p, "runtime_class", NULL, &in->runtime_class, err) < 0 ||
        get_str(p, "runner_preload", NULL, &in->runner_preload, err) < 0)
        return -1;
    if (!in->name || !is_dns_label(in->name))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: 'name' must be a DNS-1123 label");
    in->lang = lang_find(code);
    if (!in->lang)
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: unknown 'language'");
    if (get_int(p, "memory_mb", 512, 16, 1 << 20, &in->memory_mb, err) < 0 ||
        get_int(p, "cpu_millis", 1000, 10, 1 << 20, &in->cpu_millis, err) < 0 ||
        get_int(p, "main_memory_mb", 64, 8, 1 << 20, &in->main_memory_mb, err) < 0 ||
        get_int(p, "main_cpu_millis", 100, 10, 1 << 20, &in->main_cpu_millis, err) < 0 ||
        get_int(p, "max_execution_time", 30, 1, 3600, &in->max_exec, err) < 0 ||
        get_int(p, "max_output_size", 65536, 1, 1 << 30, &in->max_output, err) < 0 ||
        get_int(p, "max_pids", 256, 8, 1 << 22, &in->max_pids, err) < 0 ||
        get_int(p, "data_size_mb", 1024, 1, 1 << 24, &in->data_mb, err) < 0 ||
        get_int(p, "tmp_size_mb", 512, 1, 1 << 24, &in->tmp_mb, err) < 0 ||
        get_int(p, "sidecar_port", 8080, 1, 65535, &in->port, err) < 0)
        return -1;
    const json_t *w = json_object_get(p, "writable_root");
    if (w && !json_is_boolean(w))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: 'writable_root' must be a boolean");
    in->writable_root = w && json_is_true(w);
    return 0;
}

char *k8s_spec_image(const char *registry, const char *tag, const char *lang_code)
{
    const struct kcr_lang *lang = lang_find(lang_code);
    if (!lang)
        return NULL;
    return xasprintf("%s-%s:%s", registry, lang->image, tag);
}

static json_t *quantity_mi(json_int_t mb)
{
    char s[32];
    snprintf(s, sizeof(s), "%lldMi", (long long)mb);
    return json_string(s);
}

static json_t *quantity_m(json_int_t millis)
{
    char s[32];
    snprintf(s, sizeof(s), "%lldm", (long long)millis);
    return json_string(s);
}

static json_t *env_var(const char *name, json_int_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)v);
    return json_pack("{s:s, s:s}", "name", name, "value", s);
}

/* The language runtime: unprivileged, idle, read-only unless the language
 * needs to write outside /tmp and /mnt/data (none in lang.c does: every
 * language's HOME and TMPDIR are /tmp). */
static json_t *main_container(const struct spec_in *in)
{
    _cleanup_free_ char *image = xasprintf("%s-%s:%s", in->registry, in->lang->image, in->tag);
    return json_pack(
        "{s:s, s:s, s:s, s:{s:b, s:i, s:i, s:b, s:b, s:{s:[s]}, s:{s:s}},"
        " s:{s:{s:o, s:o}, s:{s:o, s:o}}, s:[{s:s, s:s}, {s:s, s:s}]}",
        "name", "main", "image", image, "imagePullPolicy", in->pull_policy, "securityContext",
        "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532, "allowPrivilegeEscalation", 0,
        "readOnlyRootFilesystem", !in->writable_root, "capabilities", "drop", "ALL",
        "seccompProfile", "type", "RuntimeDefault", "resources", "limits", "memory",
        quantity_mi(in->main_memory_mb), "cpu", quantity_m(in->main_cpu_millis), "requests",
        "memory", quantity_mi(in->main_memory_mb / 2 > 0 ? in->main_memory_mb / 2 : 1), "cpu",
        quantity_m(in->main_cpu_millis / 10 > 0 ? in->main_cpu_millis / 10 : 1), "volumeMounts",
        "name", "data", "mountPath", KCR_WORKDIR, "name", "tmp", "mountPath", "/tmp");
}

/* The executor. Its resources are the execution limits (see the file comment). */
static json_t *sidecar_container(const struct spec_in *in)
{
    _cleanup_free_ char *image = in->sidecar_image
                                     ? xstrdup(in->sidecar_image)
                                     : xasprintf("%s-sidecar:%s", in->registry, in->tag);
    /* Rounded up without libm: the multiplier only ever raises the limit. */
    double want = (double)in->memory_mb * lang_mem_mult(in->lang);
    json_int_t exec_mb = (json_int_t)want;
    if ((double)exec_mb < want)
        exec_mb++;
    /* The API asks the sidecar for the base limit times the language's time
     * multiplier; the sidecar refuses anything above its MAX_EXECUTION_TIME. */
    double want_s = (double)in->max_exec * lang_time_mult(in->lang);
    json_int_t exec_s = (json_int_t)want_s;
    if ((double)exec_s < want_s)
        exec_s++;
    if (exec_s > KCR_MAX_EXEC_SECONDS)
        exec_s = KCR_MAX_EXEC_SECONDS; /* the sidecar's own bound */
    /* MAX_OUTPUT_SIZE is characters for the API but bytes for the sidecar. */
    json_int_t out_bytes = sidecar_client_output_bytes((long)in->max_output);
    json_t *env =
        json_pack("[{s:s, s:s}, {s:s, s:s}, o, o, o, o, {s:s, s:s}]", "name", "LANGUAGE", "value",
                  in->lang->code, "name", "WORKING_DIR", "value", KCR_WORKDIR,
                  env_var("SIDECAR_PORT", in->port), env_var("MAX_EXECUTION_TIME", exec_s),
                  env_var("MAX_OUTPUT_SIZE", out_bytes), env_var("MAX_MEMORY_MB", exec_mb), "name",
                  "NETWORK_ISOLATED", "value", "true");
    json_array_append_new(env, env_var("MAX_PIDS", in->max_pids));
    /* The warm pod's own runner imports these while it waits (no fork-server here). */
    if (in->runner_preload)
        json_array_append_new(
            env, json_pack("{s:s, s:s}", "name", "RUNNER_PRELOAD", "value", in->runner_preload));
    /* No real file outgrows the pod's largest emptyDir; only a sparse one can
     * claim to (docs/security.md case 6). */
    json_array_append_new(
        env, env_var("MAX_FILE_WRITE_MB", in->data_mb > in->tmp_mb ? in->data_mb : in->tmp_mb));
    json_int_t overhead_mb = SIDECAR_OVERHEAD_MB + (in->runner_preload ? PRELOAD_OVERHEAD_MB : 0);
    json_t *probe = json_pack("{s:{s:s, s:I}, s:i, s:i, s:i, s:i}", "httpGet", "path", "/ready",
                              "port", in->port, "initialDelaySeconds", 1, "periodSeconds", 2,
                              "timeoutSeconds", 3, "failureThreshold", 3);
    return json_pack(
        "{s:s, s:s, s:s, s:[{s:s, s:I, s:s}], s:o, s:o,"
        " s:{s:b, s:i, s:i, s:b, s:b, s:{s:[s], s:[s, s, s]}, s:{s:s}},"
        " s:{s:{s:o, s:o}, s:{s:o, s:o}}, s:[{s:s, s:s}]}",
        "name", "kcr-sidecar", "image", image, "imagePullPolicy", in->pull_policy, "ports", "name",
        "http", "containerPort", in->port, "protocol", "TCP", "env", env, "readinessProbe", probe,
        "securityContext", "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532,
        "allowPrivilegeEscalation", 1, "readOnlyRootFilesystem", 1, "capabilities", "drop", "ALL",
        "add", "SYS_ADMIN", "SYS_CHROOT", "SYS_PTRACE", "seccompProfile", "type", "RuntimeDefault",
        "resources", "limits", "memory", quantity_mi(exec_mb + overhead_mb), "cpu",
        quantity_m(in->cpu_millis), "requests", "memory", quantity_mi(exec_mb / 4 + overhead_mb),
        "cpu", quantity_m(in->cpu_millis / 4 > 0 ? in->cpu_millis / 4 : 1), "volumeMounts", "name",
        "data", "mountPath", KCR_WORKDIR);
}

/* Copies an optional object-of-strings parameter into dst[key]. */
static int copy_string_map(const json_t *p, const char *key, json_t *dst, const char *dst_key,
                           struct kcr_err *err)
{
    const json_t *m = json_object_get(p, key);
    const char *k;
    const json_t *v;
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_object(m))
        return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: '%s' must be an object", key);
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_string(v))
            return kcr_err_set(err, 0, KCR_ERR_INVALID, "pod spec: '%s.%s' must be a string", key,
                               k);
    }
    json_t *cur = json_object_get(dst, dst_key);
    if (!cur)
        json_object_set_new(dst, dst_key, json_deep_copy(m));
    else
        json_object_update(cur, (json_t *)m);
    return 0;
}

static int add_pull_secrets(const json_t *p, json_t *spec, struct kcr_err *err)
{
    const json_t *a = json_object_get(p, "image_pull_secrets");
    size_t i;
    const json_t *v;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return kcr_err_set(err, 0, KCR_ERR_INVALID,
                           "pod spec: 'image_pull_secrets' must be an array");
    json_t *out = json_array();
    json_object_set_new(spec, "imagePullSecrets", out);
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v))
            return kcr_err_set(err, 0, KCR_ERR_INVALID,
                               "pod spec: 'image_pull_secrets' must hold strings");
        json_array_append_new(out, json_pack("{s:O}", "name", v));
    }
    return 0;
}

json_t *k8s_spec_pod(const json_t *params, struct kcr_err *err)
{
    struct spec_in in = {0};
    if (parse_in(params, &in, err) < 0)
        return NULL;
    json_auto_t *pod = json_pack(
        "{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s, s:s}, s:{}},"
        " s:{s:b, s:b, s:b, s:s, s:i, s:{s:{s:s}, s:i, s:i, s:i, s:[i]}, s:[o, o],"
        " s:[{s:s, s:{s:o}}, {s:s, s:{s:o}}]}}",
        "apiVersion", "v1", "kind", "Pod", "metadata", "name", in.name, "labels", K8S_LABEL_NAME,
        "kcr", K8S_LABEL_COMPONENT, "execution", K8S_LABEL_MANAGED, "kcr", K8S_LABEL_LANG,
        in.lang->code, "annotations", "spec", "shareProcessNamespace", 1,
        "automountServiceAccountToken", 0, "enableServiceLinks", 0, "restartPolicy", "Never",
        "terminationGracePeriodSeconds", 2, "securityContext", "seccompProfile", "type",
        "RuntimeDefault", "fsGroup", 65532, "runAsUser", 65532, "runAsGroup", 65532,
        "supplementalGroups", 65532, "containers", main_container(&in), sidecar_container(&in),
        "volumes", "name", "data", "emptyDir", "sizeLimit", quantity_mi(in.data_mb), "name", "tmp",
        "emptyDir", "sizeLimit", quantity_mi(in.tmp_mb));
    if (!pod)
        return kcr_err_set(err, 0, KCR_ERR_INTERNAL, "pod spec: json_pack failed"), NULL;
    json_t *meta = json_object_get(pod, "metadata");
    json_t *spec = json_object_get(pod, "spec");
    if (in.ns)
        json_object_set_new(meta, "namespace", json_string(in.ns));
    if (in.runtime_class)
        json_object_set_new(spec, "runtimeClassName", json_string(in.runtime_class));
    if (copy_string_map(params, "labels", meta, "labels", err) < 0 ||
        copy_string_map(params, "annotations", meta, "annotations", err) < 0 ||
        copy_string_map(params, "node_selector", spec, "nodeSelector", err) < 0 ||
        add_pull_secrets(params, spec, err) < 0)
        return NULL;
    return TAKE_PTR(pod);
}
