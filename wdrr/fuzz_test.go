package wdrr_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/dispatchlab/dispatchlab/wdrr"
)

// ints decodes data as little-endian int64s (a trailing partial word is dropped).
func ints(data []byte) []int {
	out := make([]int, 0, len(data)/8)
	for ; len(data) >= 8; data = data[8:] {
		out = append(out, int(int64(binary.LittleEndian.Uint64(data))))
	}
	return out
}

// FuzzSWRR feeds arbitrary configurations, weights and operations to the constructors and
// the SWRR: nothing panics, every rejection is a "wdrr: " error, and the invariants hold
// after every step. Run it with go test -fuzz=FuzzSWRR.
func FuzzSWRR(f *testing.F) {
	f.Add(uint8(0), 0, []byte{5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 1, 2, 3, 4, 5, 6})
	f.Add(uint8(3), 2, []byte{255, 255, 255, 127, 0, 0, 0, 0}, []byte{9, 9, 9, 9})
	f.Add(uint8(9), -1, []byte{}, []byte{})
	f.Add(uint8(2), 1, []byte{0, 0, 0, 0, 0, 0, 0, 128}, []byte{1})
	f.Fuzz(func(t *testing.T, rule uint8, maxFails int, weights, ops []byte) {
		c := wdrr.SWRRConfig{Rule: wdrr.Rule(rule), MaxFails: maxFails}
		ws := ints(weights)
		members := make([]wdrr.Weighted[int], len(ws))
		for i, w := range ws {
			members[i] = wdrr.Weighted[int]{Value: i, Weight: w}
		}
		s, err := wdrr.NewSWRRWith(c, members...)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wdrr: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		for i, op := range ops {
			id := wdrr.ID(op >> 3)
			switch op % 8 {
			case 0, 1, 2:
				mask := uint(op)
				v, err := s.Next(func(v int) bool { return mask>>(uint(v)%8)&1 == 1 })
				if err == nil && mask>>(uint(v)%8)&1 == 0 {
					t.Fatalf("op %d: picked ineligible %d", i, v)
				}
			case 3:
				_, _ = s.Next(nil)
			case 4:
				_, err = s.Add(i, int(int8(op))*int(op))
			case 5:
				err = s.Remove(id)
			case 6:
				err = s.SetWeight(id, int(op)*int(op)*int(op)*7919)
			default:
				if op%16 == 7 {
					s.Reset()
				} else {
					err = s.Fail(id)
				}
			}
			if err != nil && !strings.HasPrefix(err.Error(), "wdrr: ") {
				t.Fatalf("op %d: error %q lacks the package prefix", i, err)
			}
			if msg := checkInvariants(s); msg != "" {
				t.Fatalf("op %d: %s", i, msg)
			}
		}
	})
}

// FuzzDRR feeds arbitrary quanta, costs, weights and operations to NewDRR and the DRR:
// nothing panics (Pop always returns, whatever the ratio of cost to quantum), every
// rejection is a "wdrr: " error, the invariants hold, and every accepted item comes out once.
func FuzzDRR(f *testing.F) {
	f.Add(1, []byte{1, 2, 3, 0, 0, 0})
	f.Add(1<<62, []byte{255, 255, 0, 0})
	f.Add(0, []byte{})
	f.Add(3, []byte{10, 20, 30, 7, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, quantum int, ops []byte) {
		d, err := wdrr.NewDRR[uint8, int](quantum)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wdrr: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		pushed, popped := 0, 0
		for i, op := range ops {
			key := op >> 5
			switch op % 4 {
			case 0:
				if _, _, ok := d.Pop(); ok {
					popped++
				}
			case 1, 2:
				cost := 1 + int(op)*int(op)*int(op)*int(op)
				if op%32 == 1 {
					cost = wdrr.MaxCost - int(op)
				}
				if d.Push(key, i, cost) == nil {
					pushed++
				}
			default:
				if err := d.SetWeight(key, int(op)*int(op)); err != nil && !strings.HasPrefix(err.Error(), "wdrr: ") {
					t.Fatalf("op %d: error %q lacks the package prefix", i, err)
				}
			}
			if msg := checkInvariants(d); msg != "" {
				t.Fatalf("op %d: %s", i, msg)
			}
		}
		for d.Len() > 0 {
			if _, _, ok := d.Pop(); !ok {
				t.Fatal("Pop returned nothing with items queued")
			}
			popped++
		}
		if pushed != popped {
			t.Fatalf("%d pushed, %d popped", pushed, popped)
		}
	})
}

// FuzzAllocator feeds arbitrary member lists (weights, repeated IDs) and predicates to an
// Allocator: nothing panics, errors carry the prefix, and the counters keep summing to zero.
func FuzzAllocator(f *testing.F) {
	f.Add(uint8(0), []byte{1, 2, 3, 4, 5, 6})
	f.Add(uint8(3), []byte{1, 1, 0, 255})
	f.Fuzz(func(t *testing.T, rule uint8, data []byte) {
		a, err := wdrr.NewAllocator[uint8](wdrr.Rule(rule), func(v int) int { return v % 16 })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wdrr: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		for i := 0; i+2 <= len(data); i += 2 {
			var ms []wdrr.Weighted[int]
			for j, b := range data[i:min(len(data), i+int(data[i]%8)+2)] {
				ms = append(ms, wdrr.Weighted[int]{Value: int(b), Weight: int(int8(b)) * (j + 1)})
			}
			mask := data[i+1]
			_, err := a.Fallback(mask%3, ms, []func(int) bool{
				func(v int) bool { return mask>>(uint(v)%8)&1 == 1 },
				nil,
			}, nil)
			if err != nil && !strings.HasPrefix(err.Error(), "wdrr: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			if msg := checkInvariants(a); msg != "" {
				t.Fatal(msg)
			}
		}
	})
}
