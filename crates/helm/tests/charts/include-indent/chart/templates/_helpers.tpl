{{- define "ii.labels" -}}
app: ii
{{ toYaml .Values.labels }}
{{- end -}}
{{- define "ii.container" -}}
- name: main
  image: busybox
  env:
    {{- toYaml .Values.env | nindent 4 }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
{{- end -}}
