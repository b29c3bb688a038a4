// Command render renders a Helm chart the way `helm template` does, for offline tests where no helm binary
// exists: Go text/template with Sprig (minus env/expandenv, like Helm) and Helm's own functions (include, tpl,
// required, toYaml, toJson, fromYaml, fromJson, lookup as a stub that finds nothing), .Files, .Capabilities,
// -f value files and --set. Build it in GOPATH mode (Debian's golang + sprig packages; see test/support/helm-render.ts).
//
// Not Helm: no subcharts, no .helmignore, no schema validation (the tests use ajv), no kind-ordered output.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// Files is the chart's non-template files, as Helm's .Files.
type Files map[string][]byte

func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}

// APIVersions answers .Capabilities.APIVersions.Has for "group/version" and "group/version/Kind".
type APIVersions []string

func (a APIVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// The API versions every cluster serves; CRD-backed ones come from -api-versions.
var builtinAPIVersions = []string{"v1", "apps/v1", "batch/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1"}

func main() {
	var valueFiles, sets, apiVersions list
	chartDir := flag.String("chart", ".", "chart directory")
	name := flag.String("name", "ccproxy", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	upgrade := flag.Bool("upgrade", false, "render as an upgrade (.Release.IsUpgrade)")
	notes := flag.Bool("notes", false, "print the rendered templates/NOTES.txt instead of the manifests")
	kubeVersion := flag.String("kube-version", "v1.31.0", "Kubernetes version for .Capabilities.KubeVersion")
	flag.Var(&valueFiles, "f", "values file (repeatable, later wins)")
	flag.Var(&sets, "set", "key.path=value (repeatable, after -f)")
	flag.Var(&apiVersions, "api-versions", "extra API versions for .Capabilities (repeatable or comma-separated)")
	flag.Parse()

	out, err := render(*chartDir, *name, *namespace, *upgrade, *notes, *kubeVersion, valueFiles, sets, apiVersions)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

func readYAML(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// merge lays src over dst like Helm's value coalescing: maps merge key by key, a null removes the key.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// parseSet turns "a.b.c=v" into a nested map; v is typed like Helm's --set (int, bool, null, else string).
func parseSet(s string) (map[string]interface{}, error) {
	eq := strings.Index(s, "=")
	if eq < 1 {
		return nil, fmt.Errorf("--set %q: expected key=value", s)
	}
	keys, raw := strings.Split(s[:eq], "."), s[eq+1:]
	var value interface{} = raw
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		value = n
	} else if raw == "true" || raw == "false" {
		value = raw == "true"
	} else if raw == "null" {
		value = nil
	}
	out := map[string]interface{}{keys[len(keys)-1]: value}
	for i := len(keys) - 2; i >= 0; i-- {
		out = map[string]interface{}{keys[i]: out}
	}
	return out, nil
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func render(chartDir, name, namespace string, upgrade, notes bool, kubeVersion string, valueFiles, sets, apiVersions []string) (string, error) {
	chartMeta, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		m, err := readYAML(f)
		if err != nil {
			return "", err
		}
		values = merge(values, m)
	}
	for _, s := range sets {
		m, err := parseSet(s)
		if err != nil {
			return "", err
		}
		values = merge(values, m)
	}

	files := Files{}
	templates := map[string]string{}
	err = filepath.Walk(chartDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasPrefix(rel, "templates/") {
			templates[path.Join(fmt.Sprint(chartMeta["name"]), rel)] = string(data)
		} else {
			files[rel] = data
		}
		return nil
	})
	if err != nil {
		return "", err
	}

	chart := map[string]interface{}{}
	for k, v := range chartMeta {
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	apis := APIVersions(append([]string{}, builtinAPIVersions...))
	for _, a := range apiVersions {
		for _, v := range strings.Split(a, ",") {
			if v = strings.TrimSpace(v); v != "" {
				apis = append(apis, v)
			}
		}
	}
	major, minor := "1", "31"
	if parts := strings.Split(strings.TrimPrefix(kubeVersion, "v"), "."); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	top := map[string]interface{}{
		"Values":  values,
		"Chart":   chart,
		"Release": map[string]interface{}{"Name": name, "Namespace": namespace, "Service": "Helm", "IsInstall": !upgrade, "IsUpgrade": upgrade, "Revision": 1},
		"Capabilities": map[string]interface{}{
			"APIVersions": apis,
			"KubeVersion": map[string]interface{}{"Version": kubeVersion, "GitVersion": kubeVersion, "Major": major, "Minor": minor},
		},
		"Files": files,
	}

	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	sort.Strings(names)

	var root *template.Template
	includeDepth := map[string]int{}
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	// Under `helm template` lookup finds nothing; so it does here.
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) map[string]interface{} { return map[string]interface{}{} }
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includeDepth[name]++
		defer func() { includeDepth[name]-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}

	root = template.New("chart").Funcs(funcs).Option("missingkey=zero")
	for _, n := range names {
		if _, err := root.New(n).Parse(templates[n]); err != nil {
			return "", err
		}
	}

	var out strings.Builder
	for _, n := range names {
		base := path.Base(n)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": n, "BasePath": path.Join(fmt.Sprint(chartMeta["name"]), "templates")}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if notes {
			out.WriteString(text)
		} else {
			fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, strings.TrimRight(text, "\n"))
		}
	}
	return out.String(), nil
}
