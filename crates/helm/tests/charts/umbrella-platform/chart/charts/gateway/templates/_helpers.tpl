{{- define "svc.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "svc.labels" -}}
app: {{ .Chart.Name }}
release: {{ .Release.Name }}
tier: {{ .Values.global.tier | default "none" }}
{{- end -}}
