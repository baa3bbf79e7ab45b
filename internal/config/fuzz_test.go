package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	promconfig "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// docExample returns the YAML example of docs/configuration.md (every
// key with its default), or nil where the docs are not at hand.
func docExample(tb testing.TB) []byte {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		tb.Logf("no docs example: %v", err)
		return nil
	}
	_, rest, ok := bytes.Cut(b, []byte("```yaml\n"))
	if !ok {
		return nil
	}
	block, _, _ := bytes.Cut(rest, []byte("```"))
	return block
}

// FuzzLoad checks Load on any file content: a refusal names the file and
// says why, and an accepted configuration written out as YAML loads again
// to the same configuration.
func FuzzLoad(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(full)
	if ex := docExample(f); ex != nil {
		f.Add(ex)
	}
	for _, s := range []string{
		"",
		"interval: 50ms\n",
		"listen: [\n",
		"storage: {retention_size: 10GiB, retention_time: 15d}\nquery: {timeout: 1m, max_samples: 1000000}\n",
		"remote_write:\n  - url: http://prom:9090/api/v1/write\n    basic_auth: {username: a, password: b}\n",
		"alerting:\n  alertmanagers: [{url: \"http://alertmanager:9093\"}]\n  receivers: [{name: ops, webhook: {url: \"http://hook\"}}]\n",
		"processes:\n  process_names:\n    - name: \"{{.Comm}}\"\n      cmdline: ['(?P<script>[^ /]+\\.py)']\n",
		"push: {max_body_bytes: 1MiB, ttl: 1h}\nweb: {max_body_bytes: -1}\n",
		"gpu: {disable: [nvml, amd]}\nhost: {disable: [cpu]}\n",
		"---\n---\n",
		"&a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	// Secrets are written out as "<secret>" unless told otherwise; the
	// round trip needs them.
	promconfig.MarshalSecretValue = true
	f.Cleanup(func() { promconfig.MarshalSecretValue = false })

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		out1, err := yaml.Marshal(&cfg)
		if err != nil {
			t.Fatalf("accepted configuration does not write out: %v", err)
		}
		path2 := filepath.Join(dir, "again.yml")
		if err := os.WriteFile(path2, out1, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg2, err := Load(path2)
		if err != nil {
			t.Fatalf("accepted configuration, written out, is refused: %v\ninput:\n%s\nwritten:\n%s", err, data, out1)
		}
		out2, err := yaml.Marshal(&cfg2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out1, out2) {
			t.Fatalf("configuration changed in a round trip:\n%s\nthen\n%s", out1, out2)
		}
	})
}
