package pki

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
)

// indexSnapshot is index.json as last read. Every writer renames a new
// index into place (writeFile), so a file that is the same file (inode),
// of the same size and modification time, is the same index: a responder
// answering thousands of requests parses a 10,000-certificate index once
// per change instead of once per request, and still sees another
// process's revocation at its next request. A snapshot is never modified.
type indexSnapshot struct {
	info     os.FileInfo
	recs     []Record
	bySerial map[string]int // Serial → position in recs
}

// index returns the current snapshot, re-reading index.json when it changed.
func (ca *CA) index() (*indexSnapshot, error) {
	path := ca.path("index.json")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	ca.idxMu.Lock()
	defer ca.idxMu.Unlock()
	if s := ca.idx; s != nil && os.SameFile(s.info, st) && s.info.Size() == st.Size() && s.info.ModTime().Equal(st.ModTime()) {
		return s, nil
	}
	// Read from the file stat'ed, so the snapshot and its identity agree.
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	var recs []Record
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	s := &indexSnapshot{info: st, recs: recs, bySerial: make(map[string]int, len(recs))}
	for i, r := range recs {
		s.bySerial[r.Serial] = i
	}
	ca.idx = s
	return s, nil
}

// lookup returns the record of a serial in index form.
func (s *indexSnapshot) lookup(serial string) (Record, bool) {
	i, ok := s.bySerial[serial]
	if !ok {
		return Record{}, false
	}
	return s.recs[i], true
}

// clone returns the records for a caller that may change them.
func (s *indexSnapshot) clone() []Record { return slices.Clone(s.recs) }
