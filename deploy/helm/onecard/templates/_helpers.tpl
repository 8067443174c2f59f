{{/* The five services of the platform, in a fixed order. */}}
{{- define "onecard.serviceNames" -}}
catalog identity payments disbursement reporting
{{- end -}}

{{- define "onecard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "onecard.fullname" -}}
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

{{- define "onecard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "onecard.labels" -}}
helm.sh/chart: {{ include "onecard.chart" . }}
app.kubernetes.io/name: {{ include "onecard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: onecard
{{- end -}}

{{/* Selector labels of one service; call with (dict "root" $ "service" "catalog"). */}}
{{- define "onecard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "onecard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "onecard.serviceLabels" -}}
{{ include "onecard.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* Resource name of one service; call with (dict "root" $ "service" "catalog"). */}}
{{- define "onecard.serviceFullname" -}}
{{- printf "%s-%s" (include "onecard.fullname" .root | trunc 50 | trimSuffix "-") .service -}}
{{- end -}}

{{/* The merged settings of one service: serviceDefaults overlaid with services.<name>. */}}
{{- define "onecard.serviceConfig" -}}
{{- $own := index .root.Values.services .service | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $own)) -}}
{{- end -}}

{{/* Whether a service is enabled ("true"/"false"). */}}
{{- define "onecard.serviceEnabled" -}}
{{- $own := index .root.Values.services .service | default dict -}}
{{- if hasKey $own "enabled" -}}{{ $own.enabled }}{{- else -}}true{{- end -}}
{{- end -}}

{{- define "onecard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "onecard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "onecard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Plain (non-secret) configuration, as a map: the ConfigMap's data and the hook jobs' env. */}}
{{- define "onecard.config" -}}
ONECARD_HOST: "0.0.0.0"
ONECARD_DATA_DIR: /tmp/onecard
ONECARD_REGION: {{ .Values.region | quote }}
ONECARD_PARTNERS: {{ join "," .Values.partners | quote }}
ONECARD_TOPIC_PREFIX: {{ .Values.kafka.topicPrefix | quote }}
ONECARD_LOG_LEVEL: {{ .Values.logLevel | quote }}
{{- if not .Values.kafka.existingSecret }}
ONECARD_KAFKA_BOOTSTRAP: {{ required "kafka.bootstrap or kafka.existingSecret is required" .Values.kafka.bootstrap | quote }}
{{- end }}
{{- if .Values.otlpEndpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .Values.otlpEndpoint | quote }}
{{- end }}
{{- range $k, $v := .Values.extraEnv }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/*
Secret environment: database URL, Kafka bootstrap (when from a secret), keys. Call with
(dict "root" $ "privateKey" true|false); only the catalog (and the migration job, which builds
every service) gets the token private key.
*/}}
{{- define "onecard.secretEnv" -}}
{{- $v := .root.Values -}}
{{- $db := $v.database -}}
{{- if $db.urlKey }}
- name: ONECARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" $db.existingSecret | quote }}
      key: {{ $db.urlKey | quote }}
{{- else }}
- name: ONECARD_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required" $db.existingSecret | quote }}
      key: {{ required "database.passwordKey is required" $db.passwordKey | quote }}
- name: ONECARD_DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(ONECARD_DATABASE_PASSWORD)@%s:%v/%s" $db.user (required "database.host is required when database.urlKey is empty" $db.host) $db.port $db.name | quote }}
{{- end }}
{{- if $v.kafka.existingSecret }}
- name: ONECARD_KAFKA_BOOTSTRAP
  valueFrom:
    secretKeyRef:
      name: {{ $v.kafka.existingSecret | quote }}
      key: {{ $v.kafka.bootstrapKey | quote }}
{{- end }}
{{- $s := $v.secrets }}
- name: ONECARD_TOKEN_PUBLIC_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.existingSecret is required" $s.existingSecret | quote }}
      key: {{ $s.tokenPublicKeyKey | quote }}
- name: ONECARD_PII_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ $s.piiKeyKey | quote }}
{{- if .privateKey }}
- name: ONECARD_TOKEN_PRIVATE_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ $s.tokenPrivateKeyKey | quote }}
{{- end }}
{{- if $s.adminTokenKey }}
- name: ONECARD_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $s.existingSecret | quote }}
      key: {{ $s.adminTokenKey | quote }}
      optional: true
{{- end }}
{{- end -}}

{{/* The Kafka topics the platform uses (mirrors onecard_events.kafka.platform_topics), as YAML list. */}}
{{- define "onecard.topics" -}}
{{- $prefix := .Values.kafka.topicPrefix -}}
{{- $p := int .Values.kafka.topics.partitions -}}
{{- range (splitList " " (include "onecard.serviceNames" .)) }}
- {name: {{ printf "%sonecard.%s.v1" $prefix . | quote }}, partitions: {{ $p }}, retentionMs: -1}
{{- end }}
{{- range .Values.partners }}
- {name: {{ printf "%sonecard.partner.%s.v1" $prefix (toString .) | quote }}, partitions: {{ $p }}, retentionMs: 2592000000}
- {name: {{ printf "%spartner.%s.onecard.v1" $prefix (toString .) | quote }}, partitions: {{ $p }}, retentionMs: 2592000000}
- {name: {{ printf "%spartner.%s.onecard.v1.dlq" $prefix (toString .) | quote }}, partitions: 1, retentionMs: 2419200000}
{{- end }}
{{- end -}}

{{/* Pod-level pieces shared by the Deployments and the hook jobs. */}}
{{- define "onecard.podCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "onecard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}
