{{- define "shared.name" -}}sub-loses{{- end -}}
{{- define "sub.only" -}}sub-{{ .Chart.Name }}{{- end -}}
