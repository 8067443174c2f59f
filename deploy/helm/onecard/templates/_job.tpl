{{/*
A hook Job running one `onecard` command. Call with
(dict "root" $ "name" "migrate" "args" (list "migrate") "hook" "pre-install,pre-upgrade" "weight" "0").
Hook jobs run before the release's ConfigMap exists (pre-install), so they get the configuration
inline rather than from the ConfigMap.
*/}}
{{- define "onecard.hookJob" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-%s" (include "onecard.fullname" $root | trunc 50 | trimSuffix "-") .name }}
  labels:
    {{- include "onecard.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .name }}
  annotations:
    helm.sh/hook: {{ .hook }}
    helm.sh/hook-weight: {{ .weight | quote }}
    helm.sh/hook-delete-policy: {{ $root.Values.hooks.deletePolicy }}
spec:
  backoffLimit: {{ $root.Values.migrations.backoffLimit }}
  activeDeadlineSeconds: {{ $root.Values.migrations.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ $root.Values.hooks.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "onecard.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ .name }}
    spec:
      restartPolicy: Never
      {{- include "onecard.podCommon" $root | trim | nindent 6 }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      containers:
        - name: {{ .name }}
          image: {{ include "onecard.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["onecard"]
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            {{- range $k, $v := (include "onecard.config" $root | fromYaml) }}
            - name: {{ $k }}
              value: {{ $v | toString | quote }}
            {{- end }}
            {{- include "onecard.secretEnv" (dict "root" $root "privateKey" false) | trim | nindent 12 }}
          resources:
            {{- toYaml $root.Values.migrations.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "onecard.tmpVolume" $root | nindent 8 }}
{{- end -}}
