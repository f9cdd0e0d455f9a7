{{/*
THE list of Kubernetes resources this operator's CompositeController touches: the ONE place to
add a kind. It drives the CompositeController's childResources (role child), the bundled
Metacontroller's ClusterRole (every role) and the table in docs/chart-usage.md (a test compares
them). Roles:
  parent   the MCPServer: watched, finalizers/metadata updated, status written
  child    created, updated and deleted by Metacontroller from the hook's answer
  related  read only (customize hook relatedResources)
A YAML list of {apiVersion, resource, role}; apiVersion "v1" is the core group.
*/}}
{{- define "mcp-operator.metacontroller.resources" -}}
- {apiVersion: mcp.example.com/v1alpha1, resource: mcpservers, role: parent}
- {apiVersion: apps/v1, resource: deployments, role: child}
- {apiVersion: v1, resource: services, role: child}
- {apiVersion: v1, resource: configmaps, role: child}
# the bridge's session-signing key of a bridged stdio server (also read as a referenced Secret)
- {apiVersion: v1, resource: secrets, role: child}
# the mcp-prober sidecar's Role and RoleBinding (ConfigMap <name>-inventory, events). Metacontroller
# may create them only while it holds those permissions itself (RBAC escalation check): it does,
# through configmaps (child) and events (below).
- {apiVersion: rbac.authorization.k8s.io/v1, resource: roles, role: child}
- {apiVersion: rbac.authorization.k8s.io/v1, resource: rolebindings, role: child}
# customize hook (hooks/src/mcp_operator_hook/related.py): why pods are not ready, ServiceReady
- {apiVersion: v1, resource: pods, role: related}
- {apiVersion: discovery.k8s.io/v1, resource: endpointslices, role: related}
{{- end }}

{{/*
Verbs per role, and what Metacontroller needs for itself whatever the hook manages
(pkg/controller/composite, pkg/events, leader election).
*/}}
{{- define "mcp-operator.metacontroller.verbs" -}}
parent: [get, list, watch, update, patch]
child: [get, list, watch, create, update, patch, delete]
related: [get, list, watch]
{{- end }}

{{/*
ClusterRole rules of the bundled Metacontroller, from the resource list above. No wildcard.
*/}}
{{- define "mcp-operator.metacontroller.rules" -}}
{{- $verbs := include "mcp-operator.metacontroller.verbs" . | fromYaml }}
{{- range (include "mcp-operator.metacontroller.resources" . | fromYamlArray) }}
{{- $group := "" }}
{{- if contains "/" .apiVersion }}{{ $group = index (splitList "/" .apiVersion) 0 }}{{ end }}
- apiGroups: [{{ $group | quote }}]
  resources: [{{ .resource }}]
  verbs: {{ index $verbs .role | toJson }}
{{- if eq .role "parent" }}
- apiGroups: [{{ $group | quote }}]
  resources: [{{ printf "%s/status" .resource }}]
  verbs: [get, update, patch]
{{- end }}
{{- end }}
# Metacontroller's own API: the controllers it runs, and the ControllerRevisions it keeps per parent.
- apiGroups: [metacontroller.k8s.io]
  resources: [compositecontrollers, decoratorcontrollers]
  verbs: [get, list, watch]
- apiGroups: [metacontroller.k8s.io]
  resources: [controllerrevisions]
  verbs: [get, list, watch, create, update, patch, delete]
# It reads the parent's CRD to check for the status subresource (a cached client: list + watch).
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [get, list, watch]
# The customize hook machinery keeps a namespace informer (relatedResources namespaceSelector).
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
# SyncError and other events on parents and controllers.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch, update]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch, update]
{{- end }}

{{- define "mcp-operator.metacontroller.fullname" -}}
{{- printf "%s-metacontroller" (include "mcp-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-operator.metacontroller.selectorLabels" -}}
{{ include "mcp-operator.selectorLabels" . }}
app.kubernetes.io/component: metacontroller
{{- end }}

{{/*
The label that scopes the bundled Metacontroller (--target-label-selector) to this release's
CompositeController. Always on the CompositeController, so any Metacontroller can be scoped to it.
*/}}
{{- define "mcp-operator.metacontroller.targetLabel" -}}
mcp.example.com/metacontroller: {{ include "mcp-operator.fullname" . }}
{{- end }}

{{- define "mcp-operator.metacontroller.image" -}}
{{- $img := .Values.metacontroller.bundled.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository $img.tag }}
{{- end }}
{{- end }}
