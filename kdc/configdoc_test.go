package kdc

import (
	"regexp"
	"testing"
)

// TestExampleConfigDocumentsEveryKey: every key the loader knows appears in
// ExampleConfig (set or commented out) in its section.
func TestExampleConfigDocumentsEveryKey(t *testing.T) {
	sections := regexp.MustCompile(`(?m)^\[(\w+)\]`).FindAllStringSubmatchIndex(ExampleConfig, -1)
	for section, keys := range knownKeys {
		var body string
		for i, m := range sections {
			if ExampleConfig[m[2]:m[3]] == section {
				end := len(ExampleConfig)
				if i+1 < len(sections) {
					end = sections[i+1][0]
				}
				body = ExampleConfig[m[1]:end]
			}
		}
		if body == "" {
			t.Errorf("ExampleConfig has no [%s] section", section)
			continue
		}
		for _, key := range keys {
			if !regexp.MustCompile(`(?m)^\s*#?\s*` + key + ` = `).MatchString(body) {
				t.Errorf("ExampleConfig does not document %s.%s", section, key)
			}
		}
	}
}
