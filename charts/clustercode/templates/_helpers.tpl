{{/* Names, labels and the rendered config file. */}}

{{- define "clustercode.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clustercode.fullname" -}}
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

{{- define "clustercode.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "clustercode.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "clustercode.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clustercode.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control
{{- end }}

{{- define "clustercode.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "clustercode.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "clustercode.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- /* The web view's image: the Containerfile's `web` target (the cluster image has no UI). */}}
{{- define "clustercode.webImage" -}}
{{- $image := .Values.web.image }}
{{- $tag := default .Chart.AppVersion $image.tag }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository $tag }}
{{- end }}
{{- end }}

{{- define "clustercode.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "clustercode.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name an existing service account when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "clustercode.workflowServiceAccountName" -}}
{{- $sa := .Values.workflows.serviceAccount }}
{{- if $sa.create }}
{{- default (printf "%s-workflow" (include "clustercode.fullname" .)) $sa.name }}
{{- else }}
{{- required "workflows.serviceAccount.name: name an existing service account when workflows.serviceAccount.create is false" $sa.name }}
{{- end }}
{{- end }}

{{- define "clustercode.workflowNamespace" -}}
{{- default .Release.Namespace .Values.argo.namespace }}
{{- end }}

{{- define "clustercode.tokenSecretName" -}}
{{- default (printf "%s-token" (include "clustercode.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "clustercode.redisSecretName" -}}
{{- printf "%s-redis" (include "clustercode.fullname" .) }}
{{- end }}

{{/*
Where the control service reads the Redis URL from: "secret" (an env var from a Secret: the
chart's Redis with its password, or external.existingSecret), "url" (in the config file).
*/}}
{{- define "clustercode.redisUrlSource" -}}
{{- if .Values.redis.enabled }}secret
{{- else if .Values.redis.external.existingSecret }}secret
{{- else if .Values.redis.external.url }}url
{{- else }}
{{- fail "redis: set redis.enabled: true, or redis.external.url or redis.external.existingSecret" }}
{{- end }}
{{- end }}

{{/*
Volumes: a list of {name, mount, readOnly, claim | hostPath, create, spec} for the libraries,
the output and the work directory, as JSON (Helm templates return strings).
*/}}
{{- define "clustercode.volumes" -}}
{{- $full := include "clustercode.fullname" . }}
{{- $p := .Values.persistence }}
{{- $inPlace := .Values.config.in_place | default false }}
{{- $entries := list }}
{{- if not $p.libraries }}
{{- fail "persistence.libraries: list at least one library root" }}
{{- end }}
{{- range $i, $lib := $p.libraries }}
{{- $entries = append $entries (dict "name" (printf "library-%d" $i) "mount" (printf "/library/%d" $i) "readOnly" (not $inPlace) "spec" $lib "claimName" (printf "%s-library-%d" $full $i) "what" (printf "persistence.libraries[%d]" $i)) }}
{{- end }}
{{- if not $inPlace }}
{{- $entries = append $entries (dict "name" "output" "mount" "/output" "readOnly" false "spec" $p.output "claimName" (printf "%s-output" $full) "what" "persistence.output") }}
{{- end }}
{{- $entries = append $entries (dict "name" "work" "mount" "/work" "readOnly" false "spec" $p.work "claimName" (printf "%s-work" $full) "what" "persistence.work") }}
{{- $out := list }}
{{- range $entries }}
{{- $spec := .spec }}
{{- $v := dict "name" .name "mount" .mount "readOnly" .readOnly }}
{{- if and $spec.existingClaim $spec.hostPath }}
{{- fail (printf "%s: set existingClaim or hostPath, not both" .what) }}
{{- else if $spec.existingClaim }}
{{- $_ := set $v "claim" $spec.existingClaim }}
{{- else if $spec.hostPath }}
{{- if not (hasPrefix "/" $spec.hostPath) }}
{{- fail (printf "%s.hostPath: %q must be an absolute path" .what $spec.hostPath) }}
{{- end }}
{{- $_ := set $v "hostPath" $spec.hostPath }}
{{- else }}
{{- if ne (include "clustercode.workflowNamespace" $) $.Release.Namespace }}
{{- fail (printf "%s: the chart's claims live in namespace %s but workflows run in %s; set existingClaim (a claim in %s) or hostPath" .what $.Release.Namespace (include "clustercode.workflowNamespace" $) (include "clustercode.workflowNamespace" $)) }}
{{- end }}
{{- $_ := set $v "claim" .claimName }}
{{- $_ := set $v "create" true }}
{{- $_ := set $v "size" ($spec.size | default "10Gi") }}
{{- $_ := set $v "storageClass" ($spec.storageClass | default "") }}
{{- $_ := set $v "accessModes" ($spec.accessModes | default (list "ReadWriteMany")) }}
{{- end }}
{{- $out = append $out $v }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* Settings the chart sets itself; config may not set them. */}}
{{- define "clustercode.managedKeys" -}}
{{- toJson (dict
  "top" (list "executor" "listen" "token" "token_file" "allow_insecure_remote" "metrics_listen" "libraries" "output" "work_dir" "state_dir" "redis_url" "profiles_dir")
  "argo" (list "url" "namespace" "token_file" "ca_file" "verify_tls" "service_account" "image" "image_pull_policy" "library_volumes" "output_volume" "work_volume" "node_selector" "tolerations" "resources")
) }}
{{- end }}

{{- define "clustercode.tokenPath" -}}/etc/clustercode/token/token{{- end }}
{{- define "clustercode.argoTokenPath" -}}
{{- if .Values.argo.token.existingSecret }}/etc/clustercode/argo-token/token
{{- else }}/var/run/secrets/kubernetes.io/serviceaccount/token
{{- end }}
{{- end }}
{{- define "clustercode.argoCaPath" -}}/etc/clustercode/argo-ca/ca.crt{{- end }}

{{/* The config file of the control service. */}}
{{- define "clustercode.config" -}}
{{- $managed := include "clustercode.managedKeys" . | fromJson }}
{{- $user := deepCopy (.Values.config | default dict) }}
{{- $userArgo := get $user "argo" | default dict }}
{{- $user = omit $user "argo" }}
{{- range $key := $managed.top }}
{{- if hasKey $user $key }}
{{- fail (printf "config.%s: the chart sets this itself; remove it from config (see the comment above config in values.yaml)" $key) }}
{{- end }}
{{- end }}
{{- range $key := $managed.argo }}
{{- if hasKey $userArgo $key }}
{{- fail (printf "config.argo.%s: the chart sets this itself; remove it from config (see the comment above config in values.yaml)" $key) }}
{{- end }}
{{- end }}
{{- $volumes := include "clustercode.volumes" . | fromJsonArray }}
{{- $libraries := list }}
{{- $libraryVolumes := list }}
{{- $argo := dict }}
{{- range $volumes }}
{{- $ref := dict }}
{{- if .claim }}{{ $_ := set $ref "claim" .claim }}{{ else }}{{ $_ := set $ref "host_path" .hostPath }}{{ end }}
{{- if hasPrefix "library-" .name }}
{{- $libraries = append $libraries .mount }}
{{- $libraryVolumes = append $libraryVolumes $ref }}
{{- else if eq .name "output" }}
{{- $_ := set $argo "output_volume" $ref }}
{{- else }}
{{- $_ := set $argo "work_volume" $ref }}
{{- end }}
{{- end }}
{{- $cfg := dict
  "executor" "argo"
  "listen" (printf "0.0.0.0:%d" (int .Values.service.port))
  "token_file" (include "clustercode.tokenPath" .)
  "libraries" $libraries
  "work_dir" "/work"
  "state_dir" "/var/lib/clustercode"
}}
{{- if not (.Values.config.in_place | default false) }}
{{- $_ := set $cfg "output" "/output" }}
{{- end }}
{{- if .Values.profiles }}
{{- $_ := set $cfg "profiles_dir" "/etc/clustercode/profiles" }}
{{- end }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $cfg "metrics_listen" (printf "0.0.0.0:%d" (int .Values.metrics.port)) }}
{{- end }}
{{- if eq (include "clustercode.redisUrlSource" .) "url" }}
{{- $_ := set $cfg "redis_url" .Values.redis.external.url }}
{{- end }}
{{- $selector := deepCopy (.Values.workflows.nodeSelector | default dict) }}
{{- with .Values.workflows.arch }}
{{- if not (has . (list "amd64" "arm64")) }}
{{- fail (printf "workflows.arch: %q is not amd64 or arm64 (or empty for any node)" .) }}
{{- end }}
{{- $_ := set $selector "kubernetes.io/arch" . }}
{{- end }}
{{- $_ := set $argo "url" (required "argo.url: the argo-server URL, e.g. https://argo-server.argo.svc:2746" .Values.argo.url) }}
{{- $_ := set $argo "namespace" (include "clustercode.workflowNamespace" .) }}
{{- $_ := set $argo "token_file" (include "clustercode.argoTokenPath" .) }}
{{- $_ := set $argo "verify_tls" .Values.argo.verifyTls }}
{{- if .Values.argo.ca.existingSecret }}
{{- $_ := set $argo "ca_file" (include "clustercode.argoCaPath" .) }}
{{- end }}
{{- $_ := set $argo "service_account" (include "clustercode.workflowServiceAccountName" .) }}
{{- $_ := set $argo "image" (include "clustercode.image" .) }}
{{- $_ := set $argo "image_pull_policy" .Values.image.pullPolicy }}
{{- $_ := set $argo "library_volumes" $libraryVolumes }}
{{- $_ := set $argo "node_selector" $selector }}
{{- $_ := set $argo "tolerations" (.Values.workflows.tolerations | default list) }}
{{- $_ := set $argo "resources" (.Values.workflows.resources | default dict) }}
{{- $_ := set $cfg "argo" (merge $argo $userArgo) }}
{{- toYaml (merge $cfg $user) }}
{{- end }}
