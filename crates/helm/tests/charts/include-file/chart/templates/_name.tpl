{{- .Template.Name }} in {{ .Template.BasePath }}
