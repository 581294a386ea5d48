{{- define "shop.fullname" -}}{{ include "common.names.fullname" . }}{{- end -}}
{{- define "shop.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ default (include "shop.fullname" .) .Values.serviceAccount.name }}
{{- else -}}
{{ default "default" .Values.serviceAccount.name }}
{{- end -}}
{{- end -}}
{{- define "shop.image" -}}
{{ include "common.images.image" (dict "imageRoot" .Values.image "global" .Values.global) }}
{{- end -}}
{{- define "shop.redisHost" -}}
{{- if .Values.redis.enabled -}}
{{ printf "%s-redis-master" .Release.Name }}
{{- else -}}
external-redis
{{- end -}}
{{- end -}}
