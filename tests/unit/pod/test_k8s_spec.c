/* Unit tests for k8s-spec: the execution pod manifest carries every security
 * field of the DHI guide section 15, the limits land on the sidecar, and bad
 * parameters are refused naming the parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "pod/k8s-spec.h"

static json_t *container(json_t *pod, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "name")), name))
            return c;
    }
    return NULL;
}

/* Follows a dotted path of object keys. */
static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return v;
}

static const char *str_at(json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

static bool has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), s))
            return true;
    }
    return false;
}

static const char *env_of(json_t *c, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "env"), i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "name")), name))
            return json_string_value(json_object_get(v, "value"));
    }
    return NULL;
}

/* The pod spec of params (taken over), which must be valid. */
static json_t *pod_of(json_t *params)
{
    struct kcr_err err = {0};
    json_t *pod = k8s_spec_pod(params, &err);
    if (!pod)
        fprintf(stderr, "k8s_spec_pod: %s\n", err.msg);
    json_decref(params);
    assert_non_null(pod);
    return pod;
}

static const char *label_of(json_t *pod, const char *key)
{
    return json_string_value(json_object_get(at(pod, "metadata.labels"), key));
}

static void test_pod_security_fields(void **state)
{
    (void)state;
    json_auto_t *pod = pod_of(json_pack("{s:s, s:s, s:s}", "name", "kcr-py-0123abcd", "language",
                                        "py", "namespace", "exec"));
    assert_string_equal(str_at(pod, "kind"), "Pod");
    assert_string_equal(str_at(pod, "metadata.namespace"), "exec");
    assert_true(json_is_true(at(pod, "spec.shareProcessNamespace")));
    assert_true(json_is_false(at(pod, "spec.automountServiceAccountToken")));
    assert_true(json_is_false(at(pod, "spec.enableServiceLinks")));
    assert_string_equal(str_at(pod, "spec.restartPolicy"), "Never");
    assert_string_equal(str_at(pod, "spec.securityContext.seccompProfile.type"), "RuntimeDefault");
    assert_int_equal(json_integer_value(at(pod, "spec.securityContext.fsGroup")), 65532);

    json_t *m = container(pod, "main");
    assert_non_null(m);
    assert_string_equal(str_at(m, "image"), "kcr-python:latest");
    assert_true(json_is_true(at(m, "securityContext.runAsNonRoot")));
    assert_int_equal(json_integer_value(at(m, "securityContext.runAsUser")), 65532);
    assert_int_equal(json_integer_value(at(m, "securityContext.runAsGroup")), 65532);
    assert_true(json_is_false(at(m, "securityContext.allowPrivilegeEscalation")));
    assert_true(json_is_true(at(m, "securityContext.readOnlyRootFilesystem")));
    assert_true(has_string(at(m, "securityContext.capabilities.drop"), "ALL"));
    assert_null(at(m, "securityContext.capabilities.add"));
    assert_null(json_object_get(m, "ports"));

    json_t *s = container(pod, "kcr-sidecar");
    assert_non_null(s);
    assert_string_equal(str_at(s, "image"), "kcr-sidecar:latest");
    assert_int_equal(json_integer_value(at(s, "securityContext.runAsUser")), 65532);
    assert_true(json_is_true(at(s, "securityContext.allowPrivilegeEscalation")));
    json_t *caps = at(s, "securityContext.capabilities");
    assert_true(has_string(json_object_get(caps, "drop"), "ALL"));
    assert_int_equal(json_array_size(json_object_get(caps, "add")), 3);
    assert_true(has_string(json_object_get(caps, "add"), "SYS_ADMIN"));
    assert_true(has_string(json_object_get(caps, "add"), "SYS_CHROOT"));
    assert_true(has_string(json_object_get(caps, "add"), "SYS_PTRACE"));
    assert_string_equal(str_at(s, "readinessProbe.httpGet.path"), "/ready");
    assert_int_equal(json_integer_value(at(s, "readinessProbe.httpGet.port")), 8080);
    assert_string_equal(env_of(s, "LANGUAGE"), "py");
    assert_string_equal(env_of(s, "WORKING_DIR"), "/mnt/data");
    assert_string_equal(env_of(s, "SIDECAR_PORT"), "8080");
    assert_string_equal(env_of(s, "NETWORK_ISOLATED"), "true");
    assert_string_equal(env_of(s, "MAX_EXECUTION_TIME"), "30");
    /* Characters for the API, bytes for the sidecar: room for 4-byte UTF-8. */
    assert_string_equal(env_of(s, "MAX_OUTPUT_SIZE"), "262148");

    /* /mnt/data is one emptyDir with a size limit, mounted in both. */
    json_t *vol = json_array_get(at(pod, "spec.volumes"), 0);
    assert_string_equal(str_at(vol, "name"), "data");
    assert_string_equal(str_at(vol, "emptyDir.sizeLimit"), "1024Mi");
    assert_string_equal(str_at(json_array_get(json_object_get(m, "volumeMounts"), 0), "mountPath"),
                        "/mnt/data");
    assert_string_equal(str_at(json_array_get(json_object_get(s, "volumeMounts"), 0), "mountPath"),
                        "/mnt/data");

    assert_string_equal(label_of(pod, K8S_LABEL_MANAGED), "kcr");
    assert_string_equal(label_of(pod, K8S_LABEL_LANG), "py");
}

/* User code runs in the sidecar's cgroup, so the execution memory limit (times
 * the language's multiplier) is the sidecar's, and main stays small. */
static void test_limits_on_sidecar(void **state)
{
    (void)state;
    json_auto_t *pod =
        pod_of(json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:{s:s}}", "name", "kcr-java-1",
                         "language", "java", "memory_mb", 512, "cpu_millis", 2000, "registry",
                         "reg.example/kcr", "tag", "v1", "labels", K8S_LABEL_POOL, "warm"));
    json_t *s = container(pod, "kcr-sidecar");
    json_t *m = container(pod, "main");
    assert_string_equal(str_at(m, "image"), "reg.example/kcr-java:v1");
    assert_string_equal(str_at(s, "image"), "reg.example/kcr-sidecar:v1");
    /* java mem_mult 1.5: 768 MiB for the program plus the sidecar's own 64. */
    assert_string_equal(str_at(s, "resources.limits.memory"), "832Mi");
    assert_string_equal(str_at(s, "resources.limits.cpu"), "2000m");
    assert_string_equal(env_of(s, "MAX_MEMORY_MB"), "768");
    /* java time_mult 2.0: the API asks for 60 s, the sidecar must allow it. */
    assert_string_equal(env_of(s, "MAX_EXECUTION_TIME"), "60");
    /* the larger emptyDir (data 1024 Mi by default, tmp 512 Mi) */
    assert_string_equal(env_of(s, "MAX_FILE_WRITE_MB"), "1024");
    assert_string_equal(str_at(m, "resources.limits.memory"), "64Mi");
    assert_string_equal(label_of(pod, K8S_LABEL_POOL), "warm");
    assert_string_equal(label_of(pod, K8S_LABEL_LANG), "java");
}

/* Kubernetes has no fork-server: a py pod's own runner preloads. */
static void test_runner_preload(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    json_auto_t *pod = pod_of(json_pack("{s:s, s:s, s:s}", "name", "kcr-py-1", "language", "py",
                                        "runner_preload", "numpy,pandas"));
    assert_string_equal(env_of(container(pod, "kcr-sidecar"), "RUNNER_PRELOAD"), "numpy,pandas");
    /* The preloaded stack gets its own room: 512 + 64 + 192. */
    assert_string_equal(str_at(container(pod, "kcr-sidecar"), "resources.limits.memory"), "768Mi");
    json_auto_t *plain = pod_of(json_pack("{s:s, s:s}", "name", "kcr-py-2", "language", "py"));
    assert_null(env_of(container(plain, "kcr-sidecar"), "RUNNER_PRELOAD"));
    assert_string_equal(str_at(container(plain, "kcr-sidecar"), "resources.limits.memory"),
                        "576Mi");
    json_auto_t *bad =
        json_pack("{s:s, s:s, s:i}", "name", "kcr-py-3", "language", "py", "runner_preload", 7);
    assert_null(k8s_spec_pod(bad, &err));
}

static void test_bad_params(void **state)
{
    (void)state;
    struct kcr_err err = {0};
    json_auto_t *a = json_pack("{s:s, s:s}", "name", "Bad_Name", "language", "py");
    assert_null(k8s_spec_pod(a, &err));
    assert_int_equal(err.kind, KCR_ERR_INVALID);
    assert_non_null(strstr(err.msg, "'name'"));
    json_auto_t *b = json_pack("{s:s, s:s}", "name", "kcr-x-1", "language", "cobol");
    assert_null(k8s_spec_pod(b, &err));
    assert_non_null(strstr(err.msg, "'language'"));
    json_auto_t *c =
        json_pack("{s:s, s:s, s:i}", "name", "kcr-x-1", "language", "py", "memory_mb", -5);
    assert_null(k8s_spec_pod(c, &err));
    assert_non_null(strstr(err.msg, "'memory_mb'"));
    json_auto_t *d =
        json_pack("{s:s, s:s, s:{s:i}}", "name", "kcr-x-1", "language", "py", "labels", "a", 1);
    assert_null(k8s_spec_pod(d, &err));
    assert_non_null(strstr(err.msg, "labels.a"));
}

static void test_image_names(void **state)
{
    (void)state;
    _cleanup_free_ char *a = k8s_spec_image("kcr", "latest", "py");
    _cleanup_free_ char *b = k8s_spec_image("kcr", "1.0", "cpp");
    assert_string_equal(a, "kcr-python:latest");
    assert_string_equal(b, "kcr-c-cpp:1.0");
    assert_null(k8s_spec_image("kcr", "latest", "nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pod_security_fields), cmocka_unit_test(test_limits_on_sidecar),
        cmocka_unit_test(test_runner_preload),      cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_image_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
