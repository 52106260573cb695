package ldap

import (
	"context"
	"errors"
	"fmt"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/sclogon/sclogon/mapping"
)

// Errors of [Directory.Add], [Directory.Modify] and [Directory.Children]
// that callers branch on; each wraps the server's answer.
var (
	// ErrEntryExists: Add named an entry that exists (entryAlreadyExists).
	ErrEntryExists = errors.New("mapping/ldap: the entry exists")
	// ErrNoSuchEntry: the entry, or a search base, does not exist (noSuchObject).
	ErrNoSuchEntry = errors.New("mapping/ldap: no such entry")
	// ErrValueConflict: a Modify deleted a value that is not there
	// (noSuchAttribute) or added one that is (attributeOrValueExists) —
	// the entry changed since it was read.
	ErrValueConflict = errors.New("mapping/ldap: the entry's values changed")
)

// Attribute is an attribute with its values, binary-safe.
type Attribute struct {
	Name   string
	Values [][]byte
}

// ChangeOp is what a [Change] does (RFC 4511 §4.6).
type ChangeOp int

const (
	AddValues     ChangeOp = iota // add, RFC 4511 operation 0
	DeleteValues                  // delete the values given (all if none), operation 1
	ReplaceValues                 // replace, operation 2
)

// Change is one step of a [Directory.Modify].
type Change struct {
	Op ChangeOp
	Attribute
}

// BaseDN is the naming context searches start from.
func (d *Directory) BaseDN() string { return d.cfg.BaseDN }

func values(vs [][]byte) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// Add adds the entry dn with attrs; it fails with [ErrEntryExists] when
// dn exists. The bind DN needs write access.
func (d *Directory) Add(ctx context.Context, dn string, attrs []Attribute) error {
	req := goldap.NewAddRequest(dn, nil)
	for _, a := range attrs {
		req.Attribute(a.Name, values(a.Values))
	}
	err := d.do(ctx, func(c *goldap.Conn) error { return c.Add(req) })
	return writeError("add", dn, err)
}

// Modify applies changes to dn atomically: all or none (RFC 4511 §4.6).
// Deleting a value read before and adding its successor in one Modify
// fails with [ErrValueConflict] if another writer got there first.
func (d *Directory) Modify(ctx context.Context, dn string, changes []Change) error {
	req := goldap.NewModifyRequest(dn, nil)
	for _, ch := range changes {
		switch ch.Op {
		case AddValues:
			req.Add(ch.Name, values(ch.Values))
		case DeleteValues:
			req.Delete(ch.Name, values(ch.Values))
		case ReplaceValues:
			req.Replace(ch.Name, values(ch.Values))
		default:
			return fmt.Errorf("mapping/ldap: modify %s: unknown change %d", dn, ch.Op)
		}
	}
	err := d.do(ctx, func(c *goldap.Conn) error { return c.Modify(req) })
	return writeError("modify", dn, err)
}

// Children returns the entries right below base that match filter, with
// attrs, paging through them all; [ErrNoSuchEntry] when base does not
// exist.
func (d *Directory) Children(ctx context.Context, base, filter string, attrs []string) ([]mapping.Entry, error) {
	var out []mapping.Entry
	err := d.do(ctx, func(c *goldap.Conn) error {
		req := goldap.NewSearchRequest(base, goldap.ScopeSingleLevel, goldap.NeverDerefAliases,
			0, int(d.cfg.Timeout.Seconds())+1, false, filter, attrs, nil)
		res, err := c.SearchWithPaging(req, d.cfg.PageSize)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, e := range res.Entries {
			out = append(out, toEntry(e))
		}
		return nil
	})
	if err != nil {
		return nil, writeError("search", base, err)
	}
	return out, nil
}

// writeError names the operation and wraps the answers callers branch on.
func writeError(op, dn string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mapping.ErrDirectoryUnavailable):
		return err
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		return fmt.Errorf("%w: %s %s: %w", ErrEntryExists, op, dn, err)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject):
		return fmt.Errorf("%w: %s %s: %w", ErrNoSuchEntry, op, dn, err)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute),
		goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists):
		return fmt.Errorf("%w: %s %s: %w", ErrValueConflict, op, dn, err)
	}
	return fmt.Errorf("mapping/ldap: %s %s: %w", op, dn, err)
}
