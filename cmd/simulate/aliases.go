package main

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxAliasNodes bounds how many nodes YAML aliases may add to a document when expanded. A
// "billion laughs" file of a few hundred bytes expands to 10⁹ nodes and tens of gigabytes in
// the decoder; real scenario files use aliases, if at all, to repeat a tenant or two.
const maxAliasNodes = 1_000_000

// checkTree checks the syntax tree of a scenario or sweep file before it is decoded: it must
// not nest deeper than maxNesting (checked on the tokens, before the tree is built), hold one
// document, a mapping of fields (the decoder would read only the first document, or take a
// stray scalar for an empty file), and its aliases must not expand to more than
// maxAliasNodes nodes (sizes are counted on the tree, where every alias is one node).
func checkTree(source string, data []byte) error {
	toks, err := tokenize(data)
	if err != nil {
		return nil // the decoder reports it
	}
	if err := checkNesting(source, toks); err != nil {
		return err
	}
	f, err := parseTokens(toks)
	if err != nil {
		return nil // the decoder reports syntax errors with their position
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) > 1 {
		p := startToken(docs[1].Body).Position
		return usagef("%s:%d:%d: a second YAML document; a file holds one scenario or sweep (remove the \"---\" and what follows, or split the file)", source, p.Line, p.Column)
	}
	if len(docs) == 1 {
		body := docs[0].Body
		for {
			if a, ok := body.(*ast.AnchorNode); ok && a.Value != nil {
				body = a.Value
			} else if t, ok := body.(*ast.TagNode); ok && t.Value != nil {
				body = t.Value
			} else {
				break
			}
		}
		switch body.(type) {
		case *ast.MappingNode, *ast.MappingValueNode, *ast.NullNode:
		default:
			p := startToken(body).Position
			return usagef("%s:%d:%d: the file must be a mapping of fields (key: value lines), got %s", source, p.Line, p.Column, nodeKind(body))
		}
	}
	anchors := map[string]int64{} // expanded size of each anchor's value
	var extra int64               // nodes added by aliases
	var size func(n ast.Node) int64
	size = func(n ast.Node) int64 {
		if n == nil || extra > maxAliasNodes {
			return 0
		}
		switch x := n.(type) {
		case *ast.DocumentNode:
			return size(x.Body)
		case *ast.MappingNode:
			s := int64(1)
			for _, v := range x.Values {
				s += size(v)
			}
			return s
		case *ast.MappingValueNode:
			return size(x.Key) + size(x.Value)
		case *ast.MappingKeyNode:
			return size(x.Value)
		case *ast.SequenceNode:
			s := int64(1)
			for _, v := range x.Values {
				s += size(v)
			}
			return s
		case *ast.TagNode:
			return size(x.Value)
		case *ast.AnchorNode:
			s := size(x.Value)
			if x.Name != nil {
				anchors[x.Name.String()] = s
			}
			return s
		case *ast.AliasNode:
			s := int64(1)
			if x.Value != nil {
				s = max(anchors[x.Value.String()], 1)
			}
			extra += s - 1
			return s
		default:
			return 1
		}
	}
	for _, d := range f.Docs {
		size(d)
	}
	if extra > maxAliasNodes {
		return usagef("%s: YAML aliases expand to more than %d nodes; write the repeated parts out, or use a tenant's count", source, maxAliasNodes)
	}
	return nil
}

// nodeKind names a YAML node's kind as a file's author would.
func nodeKind(n ast.Node) string {
	switch n.(type) {
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true or false"
	case *ast.AliasNode:
		return "an alias"
	}
	return "a string"
}

// errParserPanic marks a file on which the YAML library panicked (a bug of the library, seen
// by fuzzing on odd combinations of tags and anchors): the file is refused, not the process.
type errParserPanic struct{ v any }

func (e errParserPanic) Error() string {
	return fmt.Sprintf("the YAML parser failed on this file (%v); simplify its tags and anchors", e.v)
}

// unmarshal decodes data into v (strictly: unknown fields are errors), turning a panic of
// the YAML library into an error.
func unmarshal(data []byte, v any, strict bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errParserPanic{r}
		}
	}()
	if strict {
		return yaml.UnmarshalWithOptions(data, v, yaml.Strict())
	}
	return yaml.Unmarshal(data, v)
}

// parseTree parses data's syntax tree, turning a panic of the YAML library into an error.
func parseTree(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errParserPanic{r}
		}
	}()
	return parser.ParseBytes(data, 0)
}
