{{/* Names and labels shared by the templates. */}}
{{- define "kcr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kcr.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kcr.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kcr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The API pods. Execution pods are labelled by kcr itself
     (app.kubernetes.io/managed-by=kcr, component=execution). */}}
{{- define "kcr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kcr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "kcr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kcr.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kcr.execNamespace" -}}
{{- default .Release.Namespace .Values.execution.namespace -}}
{{- end -}}

{{- define "kcr.secretName" -}}
{{- default (include "kcr.fullname" .) .Values.api.existingSecret -}}
{{- end -}}

{{/* Whether the shared stores are configured ("true" or ""). */}}
{{- define "kcr.redisSet" -}}
{{- if or .Values.redis.url .Values.redis.host .Values.redis.urlKey -}}true{{- end -}}
{{- end -}}

{{- define "kcr.s3Set" -}}
{{- if .Values.s3.endpoint -}}true{{- end -}}
{{- end -}}

{{- define "kcr.sharedStores" -}}
{{- if and (include "kcr.redisSet" .) (include "kcr.s3Set" .) -}}true{{- end -}}
{{- end -}}

{{/* The per-replica data volume: a PVC only with the embedded store. */}}
{{- define "kcr.usePVC" -}}
{{- if and .Values.persistence.enabled (not (include "kcr.sharedStores" .)) -}}true{{- end -}}
{{- end -}}

{{/* Values that cannot work together: rendering fails with the reason. */}}
{{- define "kcr.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not (include "kcr.sharedStores" .)) -}}
{{- fail (printf "replicaCount=%d needs the shared stores: set redis (redis.url, redis.host or redis.existingSecret + redis.urlKey) and s3 (s3.endpoint, s3.existingSecret). Replicas on the embedded store (SQLite + files) would not share sessions or files." (int .Values.replicaCount)) -}}
{{- end -}}
{{- if and .Values.redis.urlKey (not .Values.redis.existingSecret) -}}
{{- fail "redis.urlKey names a key of redis.existingSecret: set redis.existingSecret" -}}
{{- end -}}
{{- if and (include "kcr.s3Set" .) (not .Values.s3.existingSecret) -}}
{{- fail "s3.endpoint is set: name the Secret with its credentials in s3.existingSecret (keys s3.accessKeyKey, s3.secretKeyKey)" -}}
{{- end -}}
{{- if and .Values.s3.endpoint (contains "://" .Values.s3.endpoint) -}}
{{- fail "s3.endpoint is host:port without a scheme (MINIO_ENDPOINT); s3.secure selects https" -}}
{{- end -}}
{{- end -}}
