{{/* Names, labels and the image shared by every template. */}}

{{- define "axis.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "axis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
app.kubernetes.io/part-of: axis
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector labels of one component: include "axis.selector" (list . "operator") */}}
{{- define "axis.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: axis-{{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{- define "axis.componentLabels" -}}
{{ include "axis.labels" (index . 0) }}
{{ include "axis.selector" . }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "axis.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "axis.mlImage" -}}
{{- printf "%s:%s" .Values.models.image.repository (default .Chart.AppVersion .Values.models.image.tag) -}}
{{- end -}}

{{- define "axis.podSecurity" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "axis.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "axis.modelsUrl" -}}
{{- printf "http://%s-serve-svc.%s.svc:8000" .Values.models.name .Release.Namespace -}}
{{- end -}}

{{/*
Environment of every Ray pod: the MLflow server the apps load models from, and the Serve
ingress settings Ray reads when its processes start (axis_ml.serving.config.ray_environment).
*/}}
{{- define "axis.rayEnv" -}}
{{- $root := index . 0 -}}
{{- $serve := $root.Values.models.serve -}}
- name: MLFLOW_TRACKING_URI
  value: {{ index . 1 | quote }}
- name: RAY_SERVE_ENABLE_HA_PROXY
  value: {{ ternary "1" "0" (eq $serve.ingress "haproxy") | quote }}
- name: RAY_SERVE_THROUGHPUT_OPTIMIZED
  value: {{ ternary "1" "0" $serve.throughputOptimized | quote }}
{{- end -}}
