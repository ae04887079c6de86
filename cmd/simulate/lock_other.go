//go:build !unix

package main

// lockDir does nothing where flock is missing: do not run two sweeps into one directory.
func lockDir(string) (func(), error) { return func() {}, nil }
