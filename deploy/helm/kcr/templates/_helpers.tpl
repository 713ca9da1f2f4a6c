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
