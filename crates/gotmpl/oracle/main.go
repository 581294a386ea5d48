// Command gotmpl-oracle renders the conformance cases of crates/gotmpl with Go's own
// text/template, Sprig (the version Helm v3 pins) and, for cases marked "helm", Helm's
// engine itself. It reads the case file on stdin-less argv[1] and writes the expected
// results as JSON to argv[2]. See crates/gotmpl/tests/cases/README.md for the format.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

type tcase struct {
	Name  string
	Helm  bool
	Data  string
	Files []file // Files[0] is the template that is executed.
}

type file struct {
	Name string
	Src  string
}

type result struct {
	Name   string  `json:"name"`
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

// parseCases reads the case format: "## name [helm]" starts a case, an optional
// "data: {json}" line follows, then template lines; "-- file: NAME" starts another file.
func parseCases(path string) ([]tcase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []tcase
	var cur *tcase
	var lines []string
	flush := func() {
		if cur == nil {
			return
		}
		cur.Files[len(cur.Files)-1].Src = strings.Join(lines, "\n")
		lines = nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			flush()
			if cur != nil {
				cases = append(cases, *cur)
			}
			fields := strings.Fields(line[3:])
			cur = &tcase{Name: fields[0], Files: []file{{Name: "main"}}}
			for _, fl := range fields[1:] {
				if fl == "helm" {
					cur.Helm = true
				}
			}
			lines = nil
		case cur == nil:
			// Comments before the first case.
		case strings.HasPrefix(line, "data: ") && len(lines) == 0 && len(cur.Files) == 1 && cur.Data == "":
			cur.Data = line[len("data: "):]
		case strings.HasPrefix(line, "-- file: "):
			flush()
			cur.Files = append(cur.Files, file{Name: strings.TrimSpace(line[len("-- file: "):])})
		default:
			lines = append(lines, line)
		}
	}
	flush()
	if cur != nil {
		cases = append(cases, *cur)
	}
	return cases, sc.Err()
}

func goFuncs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	return f
}

func renderGo(c tcase, data interface{}) (string, error) {
	t := template.New(c.Files[0].Name).Funcs(goFuncs())
	if _, err := t.Parse(c.Files[0].Src); err != nil {
		return "", err
	}
	for _, fl := range c.Files[1:] {
		if _, err := t.New(fl.Name).Parse(fl.Src); err != nil {
			return "", err
		}
	}
	var b strings.Builder
	err := t.ExecuteTemplate(&b, c.Files[0].Name, data)
	return b.String(), err
}

func renderHelm(c tcase, data interface{}) (string, error) {
	vals, _ := data.(map[string]interface{})
	if vals == nil {
		vals = map[string]interface{}{}
	}
	ch := &chart.Chart{Metadata: &chart.Metadata{Name: "c", Version: "0.1.0", APIVersion: "v2"}}
	for i, fl := range c.Files {
		name := "templates/" + fl.Name
		if i == 0 {
			name = "templates/case.yaml"
		}
		ch.Templates = append(ch.Templates, &chart.File{Name: name, Data: []byte(fl.Src)})
	}
	top := chartutil.Values{
		"Values":       vals,
		"Release":      map[string]interface{}{"Name": "rel", "Namespace": "ns", "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": chartutil.DefaultCapabilities,
	}
	out, err := engine.Render(ch, top)
	if err != nil {
		return "", err
	}
	return out["c/templates/case.yaml"], nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gotmpl-oracle CASES OUT.json")
		os.Exit(2)
	}
	cases, err := parseCases(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var results []result
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			fmt.Fprintf(os.Stderr, "duplicate case name %s\n", c.Name)
			os.Exit(1)
		}
		seen[c.Name] = true
		var data interface{}
		if c.Data != "" {
			if err := json.Unmarshal([]byte(c.Data), &data); err != nil {
				fmt.Fprintf(os.Stderr, "case %s: bad data: %v\n", c.Name, err)
				os.Exit(1)
			}
		}
		var out string
		var rerr error
		func() {
			defer func() {
				if r := recover(); r != nil {
					rerr = fmt.Errorf("panic: %v", r)
				}
			}()
			if c.Helm {
				out, rerr = renderHelm(c, data)
			} else {
				out, rerr = renderGo(c, data)
			}
		}()
		r := result{Name: c.Name}
		if rerr != nil {
			msg := rerr.Error()
			r.Error = &msg
		} else {
			r.Output = &out
		}
		results = append(results, r)
	}
	b, err := json.MarshalIndent(results, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[2], append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
