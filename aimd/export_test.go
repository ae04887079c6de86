package aimd

// EwmaMillis exposes an AIMD's EWMA in milliseconds, exactly, so that tests compare it
// with the reference model bit for bit.
func EwmaMillis(a *AIMD) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.ewma
}
