{{- define "tpl.name" -}}named-{{ .Values.appName }}{{- end -}}
