{{/* Names: <release>-ccproxy, shortened to 63 characters (a DNS label), unless the release already says ccproxy. */}}
{{- define "ccproxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ccproxy.fullname" -}}
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

{{- define "ccproxy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable (Deployment selectors are immutable), so no version in them. */}}
{{- define "ccproxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ccproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ccproxy.labels" -}}
helm.sh/chart: {{ include "ccproxy.chart" . }}
{{ include "ccproxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ccproxy
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The gateway's own pods and Service: component=gateway, so the ServiceMonitor matches only the gateway. */}}
{{- define "ccproxy.gatewaySelectorLabels" -}}
{{ include "ccproxy.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "ccproxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ccproxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ccproxy.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Where each secret comes from: {name, key} of a Secret, or nothing (the value is unset). */}}
{{- define "ccproxy.secretRefs" -}}
{{- $full := include "ccproxy.fullname" . }}
{{- $refs := dict }}
{{- if .Values.admin.existingSecret }}{{ $_ := set $refs "admin" (dict "name" .Values.admin.existingSecret "key" .Values.admin.existingSecretKey) }}
{{- else }}{{ $_ := set $refs "admin" (dict "name" $full "key" "admin-key") }}{{ end }}
{{- if .Values.jwt.existingSecret }}{{ $_ := set $refs "jwt" (dict "name" .Values.jwt.existingSecret "key" .Values.jwt.existingSecretKey) }}
{{- else }}{{ $_ := set $refs "jwt" (dict "name" $full "key" "jwt-secret") }}{{ end }}
{{- if .Values.claude.existingSecret }}{{ $_ := set $refs "claude" (dict "name" .Values.claude.existingSecret "key" .Values.claude.existingSecretKey) }}
{{- else if .Values.claude.apiKeys }}{{ $_ := set $refs "claude" (dict "name" $full "key" "claude-api-keys") }}{{ end }}
{{- if .Values.metrics.existingSecret }}{{ $_ := set $refs "metrics" (dict "name" .Values.metrics.existingSecret "key" .Values.metrics.existingSecretKey) }}
{{- else if .Values.metrics.bearerToken }}{{ $_ := set $refs "metrics" (dict "name" $full "key" "metrics-token") }}{{ end }}
{{- if .Values.clickhouse.existingSecret }}{{ $_ := set $refs "clickhouse" (dict "name" .Values.clickhouse.existingSecret "key" .Values.clickhouse.existingSecretKey) }}
{{- else if or .Values.clickhouse.password .Values.clickhouse.bundled.enabled }}{{ $_ := set $refs "clickhouse" (dict "name" (printf "%s-clickhouse" $full) "key" "password") }}{{ end }}
{{- toJson $refs }}
{{- end }}

{{- define "ccproxy.secretEnv" -}}
{{- $refs := include "ccproxy.secretRefs" . | fromJson }}
{{- range $var, $which := dict "CCPROXY_ADMIN_KEY" "admin" "CCPROXY_JWT_SECRET" "jwt" "CCPROXY_CLAUDE_API_KEYS" "claude" "CCPROXY_METRICS_BEARER_TOKEN" "metrics" "CCPROXY_CLICKHOUSE_PASSWORD" "clickhouse" }}
{{- with get $refs $which }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ccproxy.clickhouseUrl" -}}
{{- if .Values.clickhouse.bundled.enabled }}
{{- printf "http://%s-clickhouse.%s.svc:8123" (include "ccproxy.fullname" .) .Release.Namespace }}
{{- else }}
{{- .Values.clickhouse.url }}
{{- end }}
{{- end }}

{{/* The settings the chart derives from its values; config.yaml is these laid over .Values.config. */}}
{{- define "ccproxy.managedConfig" -}}
server:
  host: 0.0.0.0
  port: 8080
  shutdown_timeout: {{ printf "%ds" (int .Values.shutdown.drainSeconds) }}
  shutdown_grace: {{ printf "%ds" (int .Values.shutdown.flushSeconds) }}
data_dir: /data
logging:
  spool_max_bytes: {{ div (mul (int .Values.dataVolume.sizeLimitMiB) 1048576 9) 10 }}
metrics:
  enabled: {{ .Values.metrics.enabled }}
  path: {{ .Values.metrics.path }}
otel:
  endpoint: {{ .Values.otel.endpoint | quote }}
  service_name: {{ .Values.otel.serviceName | quote }}
  sample_ratio: {{ .Values.otel.sampleRatio }}
  capture_content: {{ .Values.otel.captureContent }}
clickhouse:
  url: {{ include "ccproxy.clickhouseUrl" . | quote }}
  username: {{ .Values.clickhouse.username | quote }}
  database: {{ .Values.clickhouse.database | quote }}
  {{- with .Values.clickhouse.cluster }}
  cluster: {{ . | quote }}
  {{- end }}
  embedded:
    http_port: 0
{{- end }}

{{/* Keys of .Values.config the chart sets itself (or that are secrets): refused, naming the value to use. */}}
{{- define "ccproxy.refusedConfig" -}}
{{- $refused := dict "server.host" "" "server.port" "service.port (the container always listens on 8080)" "server.shutdown_timeout" "shutdown.drainSeconds" "server.shutdown_grace" "shutdown.flushSeconds" "data_dir" "" "admin.key" "admin.key / admin.existingSecret" "jwt.secret" "jwt.secret / jwt.existingSecret" "claude.api_keys" "claude.apiKeys / claude.existingSecret" "metrics.enabled" "metrics.enabled" "metrics.path" "metrics.path" "metrics.bearer_token" "metrics.bearerToken / metrics.existingSecret" "otel.endpoint" "otel.endpoint" "otel.service_name" "otel.serviceName" "otel.sample_ratio" "otel.sampleRatio" "otel.capture_content" "otel.captureContent" "clickhouse.url" "clickhouse.url" "clickhouse.username" "clickhouse.username" "clickhouse.password" "clickhouse.password / clickhouse.existingSecret" "clickhouse.database" "clickhouse.database" "clickhouse.cluster" "clickhouse.cluster" "clickhouse.embedded" "" }}
{{- range $path, $instead := $refused }}
{{- $parts := splitList "." $path }}
{{- $node := $.Values.config }}
{{- range $parts }}{{ if kindIs "map" $node }}{{ $node = get $node . }}{{ else }}{{ $node = "" }}{{ end }}{{ end }}
{{- if not (kindIs "invalid" $node) }}{{ if or (not (kindIs "string" $node)) (ne $node "") }}
{{- fail (printf "config.%s is set by the chart%s" $path (ternary "" (printf "; use %s" $instead) (eq $instead ""))) }}
{{- end }}{{ end }}
{{- end }}
{{- end }}

{{- define "ccproxy.config" -}}
{{- include "ccproxy.refusedConfig" . }}
{{- $managed := include "ccproxy.managedConfig" . | fromYaml }}
{{- $config := mergeOverwrite (deepCopy .Values.config) $managed }}
{{- if hasKey (default dict .Values.config.logging) "spool_max_bytes" }}
{{- $_ := set $config.logging "spool_max_bytes" .Values.config.logging.spool_max_bytes }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* Fail early on combinations that cannot work. */}}
{{- define "ccproxy.validate" -}}
{{- $stop := add .Values.shutdown.preStopSleepSeconds .Values.shutdown.drainSeconds .Values.shutdown.flushSeconds }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $stop) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least shutdown.preStopSleepSeconds + drainSeconds + flushSeconds (%d), or Kubernetes kills the gateway while it drains" (int .Values.terminationGracePeriodSeconds) (int $stop)) }}
{{- end }}
{{- if and (not .Values.clickhouse.bundled.enabled) (not .Values.clickhouse.url) }}
{{- fail "clickhouse.url is empty: point it at a ClickHouse server (http(s)://host:8123), or set clickhouse.bundled.enabled=true" }}
{{- end }}
{{- if and .Values.clickhouse.bundled.enabled .Values.clickhouse.cluster }}
{{- fail "clickhouse.cluster names a replicated cluster; the bundled ClickHouse is a single server: leave cluster empty" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled" }}
{{- end }}
{{- end }}

{{/* Hashes of what the pods read, so a change of config or secret sources rolls them. Generated secrets are left
out: they are kept as they are across upgrades, and under `helm template` they would change every render. */}}
{{- define "ccproxy.checksums" -}}
checksum/config: {{ include "ccproxy.config" . | sha256sum }}
checksum/secret: {{ toJson (list .Values.admin .Values.jwt .Values.claude .Values.metrics.bearerToken .Values.metrics.existingSecret (omit .Values.clickhouse "bundled")) | sha256sum }}
{{- end }}
