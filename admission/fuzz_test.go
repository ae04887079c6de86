package admission

import (
	"strings"
	"testing"
	"time"
)

// FuzzPolicy drives the state machine of props_test.go from fuzzed seeds and lengths, and
// feeds arbitrary configurations to New: nothing panics, every rejection is a named error,
// and conservation, caps, dedupe, the throttle bound and the fetch order hold after every step.
// Run it with go test ./admission -fuzz FuzzPolicy.
func FuzzPolicy(f *testing.F) {
	f.Add(uint64(1), uint16(200), 500, 50, int64(time.Minute), 0)
	f.Add(uint64(42), uint16(1000), 0, 0, int64(0), 1)
	f.Add(uint64(7), uint16(10), -1, 3, int64(-1), 2)
	f.Fuzz(func(t *testing.T, seed uint64, steps uint16, batch, quantum int, lease int64, order int) {
		_, err := New(Config[tctx]{PartitionBy: byTenant, BatchSize: batch, Quantum: quantum, Lease: time.Duration(lease), Order: Order(order)})
		valid := batch >= 0 && quantum >= 0 && lease >= 0 && (order == 0 || order == 1)
		if (err == nil) != valid {
			t.Fatalf("New(batch %d, quantum %d, lease %d, order %d) = %v", batch, quantum, lease, order, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "admission: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
		m, err := newMachine(seed)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(steps%2000); i++ {
			if err := m.step(); err != nil {
				t.Fatalf("seed %d step %d: %v\n%s", seed, i, err, strings.Join(m.log, "\n"))
			}
		}
	})
}
