{{/*
Chart name, truncated to the 63 characters a label value allows.
*/}}
{{- define "mcp-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart> unless the release name already contains the chart name.
Also names the cluster-scoped objects (CompositeController, ClusterRoles).
*/}}
{{- define "mcp-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mcp-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "mcp-operator.labels" -}}
helm.sh/chart: {{ include "mcp-operator.chart" . }}
{{ include "mcp-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcp-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels (stable: never add a mutable value here).
*/}}
{{- define "mcp-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcp-operator.hook.selectorLabels" -}}
{{ include "mcp-operator.selectorLabels" . }}
app.kubernetes.io/component: hook
{{- end }}

{{- define "mcp-operator.hook.serviceAccountName" -}}
{{- if .Values.hook.serviceAccount.create }}
{{- default (include "mcp-operator.fullname" .) .Values.hook.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.hook.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcp-operator.hook.image" -}}
{{- $img := .Values.hook.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "mcp-operator.bridge.image" -}}
{{- $img := .Values.bridge.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "mcp-operator.prober.image" -}}
{{- $img := .Values.prober.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{- define "mcp-operator.mcpServer.serviceAccountName" -}}
{{- default (printf "%s-mcp-server" (include "mcp-operator.fullname" .)) .Values.mcpServerRbac.serviceAccountName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Namespaces in which the MCP server ServiceAccount gets pod and event access (namespaced mode).
*/}}
{{- define "mcp-operator.mcpServer.namespaces" -}}
{{- if .Values.mcpServerRbac.namespaces }}
{{- toJson (uniq .Values.mcpServerRbac.namespaces) }}
{{- else }}
{{- toJson (list .Release.Namespace) }}
{{- end }}
{{- end }}

{{/*
Base URL Metacontroller uses when the hook runs outside the cluster.
*/}}
{{- define "mcp-operator.externalUrl" -}}
{{- trimSuffix "/" .Values.compositeController.webhook.externalUrl }}
{{- end }}

{{/*
Preflight checks: fail early with a message a person can act on.
*/}}
{{- define "mcp-operator.preflight" -}}
{{- if and .Values.metacontroller.requireApi (not (.Capabilities.APIVersions.Has "metacontroller.k8s.io/v1alpha1/CompositeController")) }}
{{- fail (printf "\n\nMetacontroller is not installed: this cluster does not serve metacontroller.k8s.io/v1alpha1 CompositeController.\nmcp-operator needs Metacontroller to reconcile MCPServers. Either let this chart run one, scoped to this release:\n  --set metacontroller.bundled.enabled=true\n(its CRDs ship in the chart; an install with --skip-crds must apply them: helm show crds), or install it yourself first, for example:\n  kubectl apply -k 'https://github.com/metacontroller/metacontroller/manifests/production'\nor its Helm chart:\n  helm install metacontroller oci://ghcr.io/metacontroller/metacontroller-helm --namespace metacontroller --create-namespace\nthen run this command again. To render without a cluster (helm template, GitOps), set --set metacontroller.requireApi=false.\n") }}
{{- end }}
{{- if and .Values.metacontroller.requireApi .Values.hook.enabled .Values.hook.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}
{{- fail "hook.serviceMonitor.enabled=true but this cluster does not serve monitoring.coreos.com/v1 ServiceMonitor (install the Prometheus Operator CRDs, or leave the ServiceMonitor disabled)." }}
{{- end }}
{{- if and (not .Values.hook.enabled) (not .Values.compositeController.webhook.externalUrl) .Values.compositeController.create }}
{{- fail "hook.enabled=false needs compositeController.webhook.externalUrl: Metacontroller must have a hook to call." }}
{{- end }}
{{- end }}
