{{- define "shared.name" -}}parent-wins{{- end -}}
{{- define "parent.only" -}}p{{- end -}}
