package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/dispatchlab/dispatchlab/sim"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// builtin is an embedded scenario or sweep.
type builtin struct {
	name, summary string
	data          []byte
}

// builtins returns the embedded scenarios (kind "scenario") or sweeps (kind "sweep"), sorted
// by name. Each file's first comment line is its one-line summary.
func builtins(kind string) []builtin {
	entries, _ := fs.ReadDir(builtinFS, "scenarios")
	var out []builtin
	for _, e := range entries {
		data, _ := builtinFS.ReadFile("scenarios/" + e.Name())
		name := strings.TrimSuffix(e.Name(), ".yaml")
		isSweep := strings.HasSuffix(name, ".sweep")
		if isSweep != (kind == "sweep") {
			continue
		}
		name = strings.TrimSuffix(name, ".sweep")
		first, _, _ := bytes.Cut(data, []byte("\n"))
		out = append(out, builtin{name: name, summary: strings.TrimSpace(strings.TrimPrefix(string(first), "#")), data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func findBuiltin(kind, name string) (builtin, bool) {
	for _, b := range builtins(kind) {
		if b.name == name {
			return b, true
		}
	}
	return builtin{}, false
}

// Limits a scenario file must respect; flags raise them.
type limits struct {
	maxJobs    float64 // expected jobs per run
	maxTenants int
	maxPoints  int // sweep points × replications
}

var defaultLimits = limits{maxJobs: 50e6, maxTenants: 200_000, maxPoints: 10_000}

// usageError is a bad invocation or a bad scenario: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// loadScenario reads a scenario from a built-in name or a YAML/JSON file and validates it,
// with errors that name the file, line, column and field.
func loadScenario(ref string, lim limits) (*sim.Scenario, string, error) {
	data, source, err := readRef("scenario", ref)
	if err != nil {
		return nil, "", err
	}
	sc, err := parseScenario(data, source, lim)
	return sc, source, err
}

// readRef returns the bytes of a built-in (by name) or of a file.
func readRef(kind, ref string) ([]byte, string, error) {
	if b, ok := findBuiltin(kind, ref); ok {
		return b.data, "builtin:" + b.name, nil
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		var names []string
		for _, b := range builtins(kind) {
			names = append(names, b.name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", usagef("%s %q is neither a file nor a built-in (built-ins: %s)", kind, ref, strings.Join(names, ", "))
		}
		return nil, "", usagef("reading %s: %v", ref, err)
	}
	if len(data) > 64<<20 {
		return nil, "", usagef("%s: file is larger than 64 MiB", ref)
	}
	return data, ref, nil
}

// parseScenario decodes and validates one scenario document.
func parseScenario(data []byte, source string, lim limits) (*sim.Scenario, error) {
	if err := checkAliases(source, data); err != nil {
		return nil, err
	}
	var sc sim.Scenario
	if err := yaml.UnmarshalWithOptions(data, &sc, yaml.Strict()); err != nil {
		return nil, usagef("%s", positioned(source, data, err))
	}
	applyDefaults(&sc, source, data)
	if err := checkScenario(&sc, source, data, lim); err != nil {
		return nil, err
	}
	return &sc, nil
}

// checkScenario validates sc and the resource bounds, pointing at the offending line.
func checkScenario(sc *sim.Scenario, source string, data []byte, lim limits) error {
	if err := sc.Validate(); err != nil {
		var fe *sim.FieldError
		if errors.As(err, &fe) {
			return usagef("%s: %s: %s", at(source, data, fe.Path), fe.Path, strings.TrimPrefix(fe.Err.Error(), "sim: "))
		}
		return usagef("%s: %v", source, err)
	}
	tenants := 0
	for _, t := range sc.Tenants {
		tenants += max(t.Count, 1)
	}
	if tenants > lim.maxTenants {
		return usagef("%s: %s: %d tenants exceed the limit of %d; raise it with --max-tenants", at(source, data, "tenants"), "tenants", tenants, lim.maxTenants)
	}
	if n := sc.ExpectedJobs(); n > lim.maxJobs {
		return usagef("%s: duration: the scenario generates about %.3g jobs per run, over the limit of %.3g; raise it with --max-jobs", at(source, data, "duration"), n, lim.maxJobs)
	}
	return nil
}

var (
	posRE     = regexp.MustCompile(`^\[(\d+):(\d+)\] `)
	unknownRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	typeRE    = regexp.MustCompile(`cannot unmarshal (.+?) into Go (?:struct field \S+ |value )of type (.+)$`)
)

// friendlyType names a Go type as a scenario file spells its values.
func friendlyType(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration (e.g. 250ms, 1.5s)"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map[") || strings.HasPrefix(goType, "struct") || strings.Contains(goType, "."):
		return "a mapping"
	default:
		return goType
	}
}

// positioned formats a decoding error as "source:line:col: message", finding the position
// (and the field path) of errors that do not carry one, such as a bad duration.
func positioned(source string, data []byte, err error) string {
	msg := err.Error()
	first, _, _ := strings.Cut(msg, "\n")
	if m := posRE.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		field := pathAt(data, line, col)
		// An unknown field is not in the decoded document: name it under its parent.
		if u := unknownRE.FindStringSubmatch(first); u != nil {
			if parent := parentPath(field); parent != "" || field != "" {
				field = strings.TrimPrefix(parent+"."+u[1], ".")
			} else {
				field = u[1]
			}
		}
		text := strings.TrimPrefix(first, m[0])
		// Go's wording names internal struct fields; say what the file needs instead.
		if t := typeRE.FindStringSubmatch(text); t != nil {
			got := friendlyType(t[1])
			if got == "a list" || got == "a mapping" {
				// pathAt found a scalar inside the list or mapping: name the field itself.
				field = parentPath(field)
			}
			text = fmt.Sprintf("want %s, got %s", friendlyType(t[2]), got)
		}
		if field != "" {
			field += ": "
		}
		return fmt.Sprintf("%s:%d:%d: %s%s", source, line, col, field, text)
	}
	// An error without a position quotes the bad value (time: invalid duration "x"): find it.
	if q := regexp.MustCompile(`"([^"]*)"`).FindStringSubmatch(first); q != nil {
		if p, line, col, ok := findScalar(data, q[1]); ok {
			return fmt.Sprintf("%s:%d:%d: %s: %s", source, line, col, p, first)
		}
	}
	return fmt.Sprintf("%s: %s", source, first)
}

// at returns "source:line:col" for a field path (tenants[1].arrivals.rate), or as close to
// it as the file has (a field left out takes its parent's position).
func at(source string, data []byte, field string) string {
	for p := field; p != ""; p = parentPath(p) {
		yp, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		f, err := parser.ParseBytes(data, 0)
		if err != nil {
			break
		}
		if n, err := yp.FilterFile(f); err == nil && n != nil {
			pos := n.GetToken().Position
			return fmt.Sprintf("%s:%d:%d", source, pos.Line, pos.Column)
		}
	}
	return source
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

// pathAt returns the field path of the value or key at line:col, if any.
func pathAt(data []byte, line, col int) string {
	// The scalar at line:col; else the first one after it on the line (an error on a list or
	// mapping points at its start); else the first on the line.
	var exact, after, first string
	afterCol := 0
	walkScalars(data, func(p string, l, c int, _ string) bool {
		if l != line {
			return true
		}
		switch {
		case c == col:
			exact = p
		case c > col && (after == "" || c < afterCol):
			after, afterCol = p, c
		case first == "":
			first = p
		}
		return true
	})
	for _, p := range []string{exact, after, first} {
		if p != "" {
			return p
		}
	}
	return ""
}

// findScalar returns the path and position of the first scalar whose text is value.
func findScalar(data []byte, value string) (string, int, int, bool) {
	var p string
	var l, c int
	ok := false
	walkScalars(data, func(path string, line, col int, text string) bool {
		if text == value {
			p, l, c, ok = path, line, col, true
			return false
		}
		return true
	})
	return p, l, c, ok
}

// walkScalars visits every scalar of a YAML document with its field path.
func walkScalars(data []byte, visit func(path string, line, col int, text string) bool) {
	var generic any
	if yaml.Unmarshal(data, &generic) != nil {
		return
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return
	}
	var walk func(p string, v any) bool
	walk = func(p string, v any) bool {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !walk(path.Join(p, k), x[k]) {
					return false
				}
			}
		case []any:
			for i, e := range x {
				if !walk(fmt.Sprintf("%s[%d]", p, i), e) {
					return false
				}
			}
		default:
			dotted := strings.ReplaceAll(p, "/", ".")
			yp, err := yaml.PathString("$." + dotted)
			if err != nil {
				return true
			}
			n, err := yp.FilterFile(f)
			if err != nil || n == nil {
				return true
			}
			pos := n.GetToken().Position
			return visit(dotted, pos.Line, pos.Column, n.GetToken().Value)
		}
		return true
	}
	walk("", generic)
}
