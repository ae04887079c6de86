package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Files nested too deeply are refused before parsing, fast and in one line, wherever the
// nesting comes from: block lists, compact lists, flow collections or flow pairs.
func TestDeepNesting(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"dashes", "tenants:\n  " + strings.Repeat("- ", 20_000) + "x\n", "dashes:2:"},
		{"flow", "tenants: " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n", "flow:1:"},
		{"flow pairs", "a: " + strings.Repeat("[a: ", 10_000) + "1" + strings.Repeat("]", 10_000), "flow pairs:1:"},
		{"flow maps", "a: " + strings.Repeat("{a: ", 10_000) + "1" + strings.Repeat("}", 10_000), "flow maps:1:"},
		{"keys", nestedKeys(200), "keys:"},
	} {
		_, err := parseScenario([]byte(tc.text), tc.name, defaultLimits)
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
		assert.Contains(t, err.Error(), "nests more than 64 levels deep", tc.name)
		assert.NotContains(t, err.Error(), "\n")
		var ue *usageError
		assert.ErrorAs(t, err, &ue)
	}
	// Sweep files too, through the command: exit code 2, one line.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deep.yaml"), []byte("scenario: noisy-neighbour\nparameters: "+strings.Repeat("[", 5000)+"\n"), 0o644))
	code, _, stderr := run(t, dir, nil, "sweep", "--dry-run", "deep.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "deep.yaml:2:")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
	// Within the bound, nesting is left to the parser and the decoder.
	_, err := parseScenario([]byte(nestedKeys(20)), "ok", defaultLimits)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "k0"`)
}

// nestedKeys is a block mapping n levels deep: k0: k1: ... x.
func nestedKeys(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%sk%d:\n", strings.Repeat(" ", i), i)
	}
	b.WriteString(strings.Repeat(" ", n) + "x\n")
	return b.String()
}

// checkNesting bounds the depth from above: on random documents that mix every way YAML
// nests, a document it accepts nests at most maxNesting levels, and one that nests at most
// 16 levels is accepted.
func TestNestingIsAnUpperBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	parsed, refused := 0, 0
	for range 3000 {
		var b strings.Builder
		genBlock(r, &b, 0, 1+r.IntN(70))
		text := b.String()
		toks, err := tokenize([]byte(text))
		require.NoError(t, err)
		f, err := parseTree([]byte(text))
		if err != nil {
			continue // not valid YAML: the generator is loose
		}
		parsed++
		depth := 0
		for _, d := range f.Docs {
			depth = max(depth, nodeDepth(d, false))
		}
		if err := checkNesting("gen", toks); err != nil {
			refused++
			require.Greater(t, depth, 16, "a document %d levels deep was refused:\n%s", depth, text)
			continue
		}
		require.LessOrEqual(t, depth, maxNesting, "a document %d levels deep was accepted:\n%s", depth, text)
	}
	t.Logf("%d valid documents, %d refused", parsed, refused)
	require.Greater(t, parsed, 1000)
	require.Greater(t, refused, 100)
}

// nodeDepth is the number of nested collections (mappings, lists) from n down.
func nodeDepth(n ast.Node, inMapping bool) int {
	switch x := n.(type) {
	case *ast.DocumentNode:
		return nodeDepth(x.Body, false)
	case *ast.MappingNode:
		d := 0
		for _, v := range x.Values {
			d = max(d, nodeDepth(v, true))
		}
		return 1 + d
	case *ast.MappingValueNode:
		d := nodeDepth(x.Value, false)
		if !inMapping { // a lone key: value pair is a mapping of its own
			d++
		}
		return d
	case *ast.SequenceNode:
		d := 0
		for _, v := range x.Values {
			d = max(d, nodeDepth(v, false))
		}
		return 1 + d
	case *ast.AnchorNode:
		return nodeDepth(x.Value, inMapping)
	case *ast.TagNode:
		return nodeDepth(x.Value, inMapping)
	}
	return 0
}

// genBlock writes a random value about depth levels deep that starts a line at column ind,
// mixing block mappings, block and compact lists, flow collections and flow pairs.
func genBlock(r *rand.Rand, b *strings.Builder, ind, depth int) {
	pad := strings.Repeat(" ", ind)
	if depth <= 0 {
		b.WriteString(pad + "x\n")
		return
	}
	switch r.IntN(5) {
	case 0, 1: // a block mapping: its value on the next line, deeper or (a list) at the same column
		for k := range 1 + r.IntN(2) {
			fmt.Fprintf(b, "%sk%d:\n", pad, k)
			child := ind + 1 + r.IntN(3)
			if r.IntN(3) == 0 {
				child = ind
				b.WriteString(pad + "-\n")
				genBlock(r, b, ind+2, depth-2)
				continue
			}
			genBlock(r, b, child, depth-1)
		}
	case 2: // a block list of compact lists: "- - - x"
		n := min(depth, 1+r.IntN(5))
		b.WriteString(pad + strings.Repeat("- ", n) + "\n")
		genBlock(r, b, ind+2*n, depth-n)
	case 3: // a list entry holding a mapping: "- k:"
		b.WriteString(pad + "- k:\n")
		genBlock(r, b, ind+3+r.IntN(2), depth-2)
	default: // flow collections and flow pairs, on one line
		b.WriteString(pad + "f: ")
		genFlow(r, b, depth-1)
		b.WriteString("\n")
	}
}

func genFlow(r *rand.Rand, b *strings.Builder, depth int) {
	if depth <= 0 {
		b.WriteString("x")
		return
	}
	switch r.IntN(3) {
	case 0:
		b.WriteString("[y, ")
		genFlow(r, b, depth-1)
		b.WriteString("]")
	case 1:
		b.WriteString("{a: ")
		genFlow(r, b, depth-1)
		b.WriteString("}")
	default:
		b.WriteString("[a: ")
		genFlow(r, b, depth-2)
		b.WriteString("]")
	}
}
