package apdu_test

import (
	"os"
	"path/filepath"
)

type fileInfo struct {
	name, body string
	mode       os.FileMode
}

func filepathGlob(dir string) ([]fileInfo, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	var out []fileInfo
	for _, n := range names {
		st, err := os.Stat(n)
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(n)
		out = append(out, fileInfo{name: n, body: string(b), mode: st.Mode().Perm()})
	}
	return out, err
}
