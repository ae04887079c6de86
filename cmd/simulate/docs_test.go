package main

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dispatchlab/dispatchlab/sim"
)

var fenceRE = regexp.MustCompile("(?s)```(yaml|json)\n(.*?)```")

// The scenario reference documents every field, and its examples are valid.
func TestScenarioDocs(t *testing.T) {
	doc, err := os.ReadFile("docs/scenarios.md")
	require.NoError(t, err)
	text := string(doc)
	for _, f := range yamlFields(reflect.TypeOf(sim.Scenario{})) {
		assert.Truef(t, strings.Contains(text, "`"+f+"`"), "docs/scenarios.md does not document field %q", f)
	}
	blocks := fenceRE.FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		body := strings.TrimSpace(b[2])
		if strings.HasPrefix(body, "arrivals:") || strings.HasPrefix(body, "service:") {
			// One-line fragments of a tenant: each is checked inside a scenario.
			for _, line := range strings.Split(body, "\n") {
				_, err := parseScenario([]byte("tenants:\n  - "+line+"\n"), "docs/scenarios.md", defaultLimits)
				assert.NoError(t, err, "example %q", line)
			}
			continue
		}
		_, err := parseScenario([]byte(body), "docs/scenarios.md", defaultLimits)
		assert.NoError(t, err, "example:\n%s", body)
	}
	// The example of the whole default scenario is the built-in, field for field.
	want, err := loadScenarioOnly("noisy-neighbour")
	require.NoError(t, err)
	var full *sim.Scenario
	for _, b := range blocks {
		if strings.HasPrefix(b[2], "name: noisy-neighbour") {
			full, err = parseScenario([]byte(b[2]), "docs", defaultLimits)
			require.NoError(t, err)
		}
	}
	require.NotNil(t, full)
	assert.Equal(t, want, full)
}

func loadScenarioOnly(name string) (*sim.Scenario, error) {
	sc, _, err := loadScenario(name, defaultLimits)
	return sc, err
}

// yamlFields lists the YAML names of t's fields, recursively.
func yamlFields(t reflect.Type) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t.PkgPath() == "time" {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			walk(f.Type)
		}
	}
	walk(t)
	return out
}

// The sweep docs' Kubernetes manifests parse, and the Job's completions match its shards.
func TestSweepDocsManifests(t *testing.T) {
	for _, name := range []string{"docs/k8s-sweep-job.yaml", "docs/k8s-merge-job.yaml"} {
		data, err := os.ReadFile(name)
		require.NoError(t, err)
		docs := strings.Split(string(data), "\n---\n")
		var job struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Completions int `yaml:"completions"`
				Template    struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		for _, d := range docs {
			var generic map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(d), &generic), name)
			require.NoError(t, yaml.Unmarshal([]byte(d), &job), name)
			if job.Kind != "Job" || job.Spec.Completions == 0 {
				continue
			}
			args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
			assert.Contains(t, args, "--shard=env/"+strconv.Itoa(job.Spec.Completions), "completions must equal the shard count")
		}
	}
	sweeps, err := os.ReadFile("docs/sweeps.md")
	require.NoError(t, err)
	for _, f := range yamlFields(reflect.TypeOf(sweepSpec{})) {
		assert.Truef(t, strings.Contains(string(sweeps), f+":") || strings.Contains(string(sweeps), "`"+f+"`"), "docs/sweeps.md does not document sweep field %q", f)
	}
	for _, b := range fenceRE.FindAllStringSubmatch(string(sweeps), -1) {
		if b[1] != "yaml" {
			continue
		}
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(dir+"/s.yaml", []byte(b[2]), 0o644))
		_, err := loadSweep(dir+"/s.yaml", defaultLimits, 0, 0)
		assert.NoError(t, err, "sweep example:\n%s", b[2])
	}
}
