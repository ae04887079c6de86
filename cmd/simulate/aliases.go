package main

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxAliasNodes bounds how many nodes YAML aliases may add to a document when expanded. A
// "billion laughs" file of a few hundred bytes expands to 10⁹ nodes and tens of gigabytes in
// the decoder; real scenario files use aliases, if at all, to repeat a tenant or two.
const maxAliasNodes = 1_000_000

// checkAliases refuses a document whose aliases expand to more than maxAliasNodes nodes,
// before it is decoded. It counts sizes on the syntax tree, where every alias is one node.
func checkAliases(source string, data []byte) error {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil // the decoder reports syntax errors with their position
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
