package ldap

import (
	"context"
	"errors"
	"fmt"

	"github.com/sclogon/sclogon/internal/ldapwire"
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
type Attribute = ldapwire.Attribute

// ChangeOp is what a [Change] does (RFC 4511 §4.6).
type ChangeOp = ldapwire.ChangeOp

const (
	AddValues     = ldapwire.ChangeAdd     // add, RFC 4511 operation 0
	DeleteValues  = ldapwire.ChangeDelete  // delete the values given (all if none), operation 1
	ReplaceValues = ldapwire.ChangeReplace // replace, operation 2
)

// Change is one step of a [Directory.Modify].
type Change = ldapwire.Change

// BaseDN is the naming context searches start from.
func (d *Directory) BaseDN() string { return d.cfg.BaseDN }

// Add adds the entry dn with attrs; it fails with [ErrEntryExists] when
// dn exists. The bind DN needs write access.
func (d *Directory) Add(ctx context.Context, dn string, attrs []Attribute) error {
	err := d.do(ctx, func(c *ldapwire.Conn) error { return c.Add(dn, attrs) })
	return writeError("add", dn, err)
}

// Modify applies changes to dn atomically: all or none (RFC 4511 §4.6).
// Deleting a value read before and adding its successor in one Modify
// fails with [ErrValueConflict] if another writer got there first.
func (d *Directory) Modify(ctx context.Context, dn string, changes []Change) error {
	err := d.do(ctx, func(c *ldapwire.Conn) error { return c.Modify(dn, changes) })
	return writeError("modify", dn, err)
}

// Children returns the entries right below base that match filter, with
// attrs, paging through them all; [ErrNoSuchEntry] when base does not
// exist.
func (d *Directory) Children(ctx context.Context, base string, filter Filter, attrs []string) ([]mapping.Entry, error) {
	out, err := d.run(ctx, &ldapwire.SearchRequest{Base: base, Scope: ldapwire.ScopeOne, Filter: filter, Attrs: attrs,
		PageSize: d.cfg.PageSize})
	return out, writeError("search", base, err)
}

// Entry reads the entry dn itself with attrs; [ErrNoSuchEntry] when it
// does not exist, or the server shows none of it (an ACL).
func (d *Directory) Entry(ctx context.Context, dn string, attrs []string) (mapping.Entry, error) {
	out, err := d.run(ctx, &ldapwire.SearchRequest{Base: dn, Scope: ldapwire.ScopeBase, SizeLimit: 1,
		Filter: Present(mapping.AttrObjectClass), Attrs: attrs})
	if err == nil && len(out) != 1 {
		err = fmt.Errorf("%w: a base search found %d entries", ErrNoSuchEntry, len(out))
	}
	if err != nil {
		return mapping.Entry{}, writeError("read", dn, err)
	}
	return out[0], nil
}

// writeError names the operation and wraps the answers callers branch on.
func writeError(op, dn string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mapping.ErrDirectoryUnavailable):
		return err
	case ldapwire.IsCode(err, ldapwire.EntryAlreadyExists):
		return fmt.Errorf("%w: %s %s: %w", ErrEntryExists, op, dn, err)
	case ldapwire.IsCode(err, ldapwire.NoSuchObject):
		return fmt.Errorf("%w: %s %s: %w", ErrNoSuchEntry, op, dn, err)
	case ldapwire.IsCode(err, ldapwire.NoSuchAttribute),
		ldapwire.IsCode(err, ldapwire.AttributeOrValueExists):
		return fmt.Errorf("%w: %s %s: %w", ErrValueConflict, op, dn, err)
	}
	return fmt.Errorf("mapping/ldap: %s %s: %w", op, dn, err)
}
