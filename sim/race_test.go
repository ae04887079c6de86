//go:build race

package sim

// raceEnabled shrinks the validation runs under the race detector, which makes them ~10×
// slower; the checks are the same.
const raceEnabled = true
