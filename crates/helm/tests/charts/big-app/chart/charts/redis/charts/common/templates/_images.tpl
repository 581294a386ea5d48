{{- define "common.images.image" -}}
{{- $registry := .imageRoot.registry -}}
{{- if and .global .global.imageRegistry -}}
{{- $registry = .global.imageRegistry -}}
{{- end -}}
{{- $sep := ":" -}}
{{- $tag := .imageRoot.tag | toString -}}
{{- if .imageRoot.digest -}}
{{- $sep = "@" -}}
{{- $tag = .imageRoot.digest -}}
{{- end -}}
{{- if $registry -}}
{{- printf "%s/%s%s%s" $registry .imageRoot.repository $sep $tag -}}
{{- else -}}
{{- printf "%s%s%s" .imageRoot.repository $sep $tag -}}
{{- end -}}
{{- end -}}

{{- define "common.images.pullSecrets" -}}
{{- $secrets := list -}}
{{- range .global.imagePullSecrets -}}{{- $secrets = append $secrets . -}}{{- end -}}
{{- range .images -}}{{- range .pullSecrets -}}{{- $secrets = append $secrets . -}}{{- end -}}{{- end -}}
{{- if $secrets }}
imagePullSecrets:
{{- range $secrets | uniq }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}
