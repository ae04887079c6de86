package sim

import "testing"

func BenchmarkZZNoisy(b *testing.B) {
	sc := goldenScenarios()[2]
	for i := 0; b.Loop(); i++ {
		Run(sc, 7, i%3)
	}
}
