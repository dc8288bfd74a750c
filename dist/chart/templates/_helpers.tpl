{{/* The chart's name. */}}
{{- define "browserbase-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object's name: the release name, followed by the chart name unless the release
name already contains it. Release "browserbase-operator" gives the names of config/default.
*/}}
{{- define "browserbase-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
An object's name: the fullname and a suffix, cut to 63 characters (the limit of a Service's name).
Call it with (list . "suffix").
*/}}
{{- define "browserbase-operator.resourceName" -}}
{{- $ctx := index . 0 -}}
{{- printf "%s-%s" (include "browserbase-operator.fullname" $ctx) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The operator's ServiceAccount. */}}
{{- define "browserbase-operator.serviceAccountName" -}}
{{- include "browserbase-operator.resourceName" (list . "controller-manager") -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "browserbase-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "browserbase-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The labels that select the manager's Pods (the Deployment and the metrics Service). */}}
{{- define "browserbase-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "browserbase-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{/* The values no render may go ahead with. */}}
{{- define "browserbase-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "replicas is %d but leaderElection.enabled is false: every replica would reconcile and create Browserbase sessions, so more than one replica needs leaderElection.enabled=true" (int .Values.replicas)) -}}
{{- end -}}
{{- if and .Values.metrics.enabled (eq (int .Values.metrics.port) 8081) -}}
{{- fail "metrics.port cannot be 8081: the health probes listen there" -}}
{{- end -}}
{{- $m := .Values.metrics -}}
{{- if and (not $m.enabled) (or $m.serviceMonitor.enabled $m.prometheusRule.enabled $m.grafanaDashboard.enabled) -}}
{{- fail "metrics.serviceMonitor, metrics.prometheusRule and metrics.grafanaDashboard need metrics.enabled=true: without the endpoint there is nothing to scrape, alert on or graph" -}}
{{- end -}}
{{- if and .Values.webhook.enabled (or (eq (int .Values.webhook.port) 8081) (and .Values.metrics.enabled (eq (int .Values.webhook.port) (int .Values.metrics.port)))) -}}
{{- fail "webhook.port cannot be 8081 (the health probes) or metrics.port" -}}
{{- end -}}
{{- end -}}

{{/* The rules of the optional restart-targets role (restart-targets-rbac.yaml). */}}
{{- define "browserbase-operator.restartTargetsRules" -}}
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, patch]
{{- end -}}
