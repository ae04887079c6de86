package main

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/dispatchlab/dispatchlab/sim"
)

// loc is one key or value of a YAML document: its field path (tenants[1].arrivals.rate) and
// where it starts.
type loc struct {
	path      string
	line, col int
	key       bool   // the key of a mapping entry; its path is the entry's
	scalar    bool   // a scalar value
	text      string // a scalar's text
	container bool   // a mapping or a list
}

// locations lists the keys and values of data's YAML documents in document order. It walks
// the syntax tree once, so that locating an error costs O(size of the file) even in a file
// of a million list entries. A document that does not parse has no locations.
func locations(data []byte) []loc {
	f, err := parseTree(data)
	if err != nil {
		return nil
	}
	var out []loc
	add := func(path string, n ast.Node, l loc) {
		if t := startToken(n); t != nil && t.Position != nil {
			l.path, l.line, l.col = path, t.Position.Line, t.Position.Column
			out = append(out, l)
		}
	}
	var walk func(n ast.Node, path string, depth int)
	walk = func(n ast.Node, path string, depth int) {
		if n == nil || depth > 10_000 {
			return
		}
		switch x := n.(type) {
		case *ast.DocumentNode:
			walk(x.Body, path, depth+1)
		case *ast.MappingNode:
			add(path, x, loc{container: true})
			for _, v := range x.Values {
				walk(v, path, depth+1)
			}
		case *ast.MappingValueNode:
			if x.Key == nil {
				return
			}
			k := keyText(x.Key)
			p := k
			if path != "" {
				p = path + "." + k
			}
			add(p, x.Key, loc{key: true})
			walk(x.Value, p, depth+1)
		case *ast.SequenceNode:
			add(path, x, loc{container: true})
			for i, v := range x.Values {
				walk(v, fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		case *ast.AnchorNode:
			walk(x.Value, path, depth+1)
		case *ast.TagNode:
			walk(x.Value, path, depth+1)
		case *ast.AliasNode, *ast.CommentGroupNode, *ast.CommentNode, *ast.DirectiveNode:
		default:
			add(path, x, loc{scalar: true, text: x.GetToken().Value})
		}
	}
	for _, d := range f.Docs {
		walk(d, "", 0)
	}
	return out
}

// startToken is the first token of n: a block mapping's own token is its first ':'.
func startToken(n ast.Node) *token.Token {
	switch x := n.(type) {
	case *ast.MappingNode:
		if !x.IsFlowStyle && len(x.Values) > 0 && x.Values[0].Key != nil {
			return x.Values[0].Key.GetToken()
		}
	case *ast.MappingValueNode:
		if x.Key != nil {
			return x.Key.GetToken()
		}
	}
	return n.GetToken()
}

func keyText(k ast.MapKeyNode) string {
	if mk, ok := k.(*ast.MappingKeyNode); ok && mk.Value != nil {
		if t := mk.Value.GetToken(); t != nil {
			return t.Value
		}
	}
	if t := k.GetToken(); t != nil {
		return t.Value
	}
	return ""
}

// pathAt returns the field path of the key or value at line:col: the one starting there,
// else the first after it on the line (an error on an entry points at its start), else the
// first on the line.
func pathAt(locs []loc, line, col int) string {
	var exact, after, first *loc
	for i := range locs {
		l := &locs[i]
		if l.line != line {
			continue
		}
		switch {
		case l.col == col:
			if exact == nil || l.key {
				exact = l
			}
		case l.col > col && (after == nil || l.col < after.col):
			after = l
		case first == nil:
			first = l
		}
	}
	for _, l := range []*loc{exact, after, first} {
		if l != nil {
			return l.path
		}
	}
	return ""
}

// position returns "source:line:col" for a field path, or as close to it as the file has (a
// field left out takes its parent's position; a field the file does not have at all, the
// file's name).
func position(source string, locs []loc, field string) string {
	for p := field; p != ""; p = parentPath(p) {
		for _, l := range locs {
			if l.path == p && !l.key {
				return fmt.Sprintf("%s:%d:%d", source, l.line, l.col)
			}
		}
	}
	return source
}

// at is position on the locations of data.
func at(source string, data []byte, field string) string {
	return position(source, locations(data), field)
}

// findScalar returns the first scalar whose text is value.
func findScalar(locs []loc, value string) (loc, bool) {
	for _, l := range locs {
		if l.scalar && l.text == value {
			return l, true
		}
	}
	return loc{}, false
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

var goFieldRE = regexp.MustCompile(`\b([A-Z][A-Za-z]*)((?:\[\d+\])?)`)

// refinePath narrows the path of a validation error to the field its message is about. The
// algorithm packages' Validate methods name Go fields ("tokenbucket: Per must be > 0"); the
// loader reports them at the struct ("admission.throttle"), and this finds the first word of
// the message that is a field of that struct and appends its YAML name
// ("admission.throttle.per"), so that the position points at the line to fix.
func refinePath(path, msg string) string {
	t := typeAt(reflect.TypeOf(sim.Scenario{}), path)
	if t == nil {
		return path
	}
	words := goFieldRE.FindAllStringSubmatch(msg, -1)
	for i, w := range words {
		f, ok := t.FieldByName(w[1])
		if !ok {
			continue
		}
		name := yamlName(f)
		if name == "" {
			continue
		}
		// "Times must be non-decreasing, got Times[1] = 1s": point at the entry.
		for _, later := range words[i+1:] {
			if w[2] == "" && later[1] == w[1] && later[2] != "" {
				w = later
				break
			}
		}
		return path + "." + name + w[2]
	}
	return path
}

var segmentRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$`)

// typeAt returns the struct type at a field path of t, or nil.
func typeAt(t reflect.Type, path string) reflect.Type {
	deref := func(t reflect.Type) reflect.Type {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		return t
	}
	t = deref(t)
	for _, seg := range strings.Split(path, ".") {
		m := segmentRE.FindStringSubmatch(seg)
		if m == nil || t.Kind() != reflect.Struct {
			return nil
		}
		var next reflect.Type
		for i := range t.NumField() {
			if f := t.Field(i); yamlName(f) == m[1] {
				next = f.Type
			}
		}
		if next == nil {
			return nil
		}
		t = deref(next)
		for range strings.Count(m[2], "[") {
			if t.Kind() != reflect.Slice {
				return nil
			}
			t = deref(t.Elem())
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return t
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

var (
	posRE     = regexp.MustCompile(`^\[(\d+):(\d+)\] `)
	unknownRE = regexp.MustCompile(`unknown field "([^"]+)"`)
	typeRE    = regexp.MustCompile(`cannot unmarshal (.+?) into Go (?:struct field \S+ |value )of type (.+)$`)
	usedRE    = regexp.MustCompile(`^(\S+) was used where (\S+) is expected`)
	definedRE = regexp.MustCompile(`already defined at \[(\d+):(\d+)\]`)
	quotedRE  = regexp.MustCompile(`"([^"]*)"`)
)

// friendlyType names a Go type (or a YAML node type) as a scenario file spells its values.
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
	case goType == "null":
		return "null"
	case strings.HasPrefix(goType, "[]") || goType == "sequence":
		return "a list"
	case strings.HasPrefix(goType, "map[") || strings.HasPrefix(goType, "struct") || strings.Contains(goType, ".") || goType == "mapping":
		return "a mapping"
	default:
		return goType
	}
}

// positioned formats a decoding error as "source:line:col: field: message", finding the
// position (and the field path) of errors that do not carry one, such as a bad duration.
func positioned(source string, data []byte, err error) string {
	locs := locations(data)
	// The parser's own Error() prints the source around the error, token by token, in time
	// quadratic in the file's size (minutes for a 2 MB trace): take its parts instead.
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
		pos := ye.GetToken().Position
		return located(source, locs, pos.Line, pos.Column, ye.GetMessage())
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	if m := posRE.FindStringSubmatch(first); m != nil {
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		return located(source, locs, line, col, strings.TrimPrefix(first, m[0]))
	}
	// An error without a position quotes the bad value (time: invalid duration "x"): find it.
	if q := quotedRE.FindStringSubmatch(first); q != nil {
		if l, ok := findScalar(locs, q[1]); ok {
			return fmt.Sprintf("%s:%d:%d: %s: %s", source, l.line, l.col, l.path, first)
		}
	}
	return fmt.Sprintf("%s: %s", source, first)
}

// located formats the message of an error at line:col with the field path found there.
func located(source string, locs []loc, line, col int, text string) string {
	text, _, _ = strings.Cut(text, "\n")
	field := pathAt(locs, line, col)
	if u := unknownRE.FindStringSubmatch(text); u != nil && field != u[1] && !strings.HasSuffix(field, "."+u[1]) {
		// The position is not at the key itself: name the field under its parent.
		field = strings.TrimPrefix(parentPath(field)+"."+u[1], ".")
	}
	// Go's and the parser's wording name internal types; say what the file needs instead.
	if t := typeRE.FindStringSubmatch(text); t != nil {
		text = fmt.Sprintf("want %s, got %s", friendlyType(t[2]), friendlyType(t[1]))
	} else if t := usedRE.FindStringSubmatch(text); t != nil {
		text = fmt.Sprintf("want %s, got %s", friendlyType(t[2]), friendlyType(t[1]))
	} else if d := definedRE.FindStringSubmatch(text); d != nil {
		text = strings.Replace(text, d[0], fmt.Sprintf("already defined at line %s, column %s; keep one", d[1], d[2]), 1)
	}
	if field != "" {
		field += ": "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", source, line, col, field, text)
}
