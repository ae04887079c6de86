package main

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// maxNesting bounds how deeply a scenario or sweep file may nest. The YAML parser gives every
// node its path from the root (and keeps the keys' paths in a map), so its time and memory
// grow with the square of the depth: a 40 KB line of "- - - …", 20,000 levels deep, took 2 GB
// and 2 s, and a file of a few MB would exhaust any machine. Scenario files nest about ten
// levels (tenants[0].arrivals.bursts[0].factor is eight).
const maxNesting = 64

// checkNesting refuses a file whose tokens may nest deeper than maxNesting, before the parser
// sees them. In one pass over the tokens (the lexer's cost is linear) it keeps an upper bound
// of the depth: the open flow collections ([ and {, each perhaps holding one implicit
// "key: value" mapping, so two levels each), and the columns of the open block collections
// (a "-" or "?" entry, or the key before a ":"), popped when a line starts at or left of them
// as YAML's indentation rule closes them. A mapping and a compact list as its value may share
// a column, so each column stands for up to two levels. A file that passes nests at most
// maxNesting levels.
func checkNesting(source string, toks token.Tokens) error {
	var (
		flow  int   // open flow collections
		block []int // columns of the open block collections, outermost first
		line  = -1  // line of the previous token
		prev  *token.Token
	)
	for _, tk := range toks {
		if tk == nil || tk.Position == nil || tk.Type == token.CommentType {
			continue
		}
		pos := tk.Position
		switch {
		case tk.Type == token.DocumentHeaderType || tk.Type == token.DocumentEndType:
			flow, block = 0, block[:0]
		case flow > 0:
			// Inside a flow collection columns mean nothing; only brackets nest.
			switch tk.Type {
			case token.SequenceStartType, token.MappingStartType:
				flow++
			case token.SequenceEndType, token.MappingEndType:
				flow--
			}
		default:
			if pos.Line != line { // a line's first token closes the block collections at or right of it
				for len(block) > 0 && block[len(block)-1] >= pos.Column {
					block = block[:len(block)-1]
				}
			}
			switch tk.Type {
			case token.SequenceEntryType, token.MappingKeyType:
				block = append(block, pos.Column)
			case token.MappingValueType:
				col := pos.Column
				if prev != nil && prev.Position != nil {
					col = prev.Position.Column // the key's column
				}
				block = append(block, col)
			case token.SequenceStartType, token.MappingStartType:
				flow++
			}
		}
		if 2*(flow+len(block)) > maxNesting {
			return usagef("%s:%d:%d: the file nests more than %d levels deep here; scenario and sweep files need about ten (the YAML parser's time and memory grow with the square of the depth)",
				source, pos.Line, pos.Column, maxNesting)
		}
		line, prev = pos.Line, tk
	}
	return nil
}

// tokenize splits data into YAML tokens, turning a panic of the YAML library into an error.
func tokenize(data []byte) (toks token.Tokens, err error) {
	defer func() {
		if r := recover(); r != nil {
			toks, err = nil, errParserPanic{r}
		}
	}()
	return lexer.Tokenize(string(data)), nil
}

// parseTokens parses tokens into a syntax tree as parseTree does.
func parseTokens(toks token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, errParserPanic{r}
		}
	}()
	return parser.Parse(toks, 0)
}
