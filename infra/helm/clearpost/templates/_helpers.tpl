{{/* The release's name for its objects: "<release>-clearpost", or the release name when it says clearpost. */}}
{{- define "clearpost.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "clearpost.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "clearpost.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "clearpost.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "clearpost.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "clearpost.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
The processes of a release, one Deployment each: name, service, kind (api or worker), the
clearpost arguments, replicas, resources, and what they mount. Services with a signing key ring:
gateway, review, audit.
*/}}
{{- define "clearpost.components" -}}
{{- $signing := list "gateway" "review" "audit" -}}
{{- $components := list -}}
{{- range $service := list "gateway" "drafts" "review" "publisher" "audit" -}}
{{- $api := get $.Values.apis $service -}}
{{- $args := list "serve" $service -}}
{{- if ne $service "gateway" -}}{{- $args = append $args "--no-worker" -}}{{- end -}}
{{- $components = append $components (dict "name" $service "service" $service "kind" "api" "args" $args "replicas" $api.replicas "resources" $api.resources "port" $api.port "keys" (has $service $signing) "media" (eq $service "drafts")) -}}
{{- end -}}
{{- range $service := list "drafts" "review" "publisher" "audit" "workflows" -}}
{{- $worker := get $.Values.workers $service -}}
{{- $args := list "worker" -}}
{{- if ne $service "workflows" -}}{{- $args = append $args $service -}}{{- end -}}
{{- $components = append $components (dict "name" (printf "%s-worker" $service) "service" $service "kind" "worker" "args" $args "replicas" $worker.replicas "resources" $worker.resources "port" $.Values.workers.healthPort "keys" (has $service $signing) "media" false) -}}
{{- end -}}
{{- toJson (dict "items" $components) -}}
{{- end -}}

{{/* The settings every process reads from its ConfigMap. */}}
{{- define "clearpost.serviceUrl" -}}
{{- printf "http://%s-%s:%v" (include "clearpost.fullname" .root) .service (get .root.Values.apis .service).port -}}
{{- end -}}
