package ccache

import "errors"

// The KCM protocol and the kernel keyring store principals and credentials
// one at a time, each in the FILE format version 4 encoding of that record
// (MIT's k5_marshal_princ and k5_marshal_cred with version 4).

// marshalPrincipal encodes p as a version 4 principal record.
func marshalPrincipal(p Principal) ([]byte, error) {
	var w writer
	w.principal(p)
	return w.buf, w.err
}

// marshalCredential encodes cr as a version 4 credential record.
func marshalCredential(cr Credential) ([]byte, error) {
	var w writer
	w.credential(cr)
	return w.buf, w.err
}

// errTrailing reports bytes after a record that should end the input.
var errTrailing = errors.New("ccache: trailing data after record")

// parsePrincipal decodes exactly one version 4 principal record.
func parsePrincipal(data []byte) (Principal, error) {
	r := reader{buf: data}
	p := r.principal()
	return p, r.end()
}

// parseCredential decodes exactly one version 4 credential record.
func parseCredential(data []byte) (Credential, error) {
	r := reader{buf: data}
	cr := r.credential(Version4)
	return cr, r.end()
}

// end reports the reader's error, or trailing data if input is left.
func (r *reader) end() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) != 0 {
		return errTrailing
	}
	return nil
}

// samePrincipal compares principals as krb5_principal_compare does: realm
// and components, not the name type.
func samePrincipal(a, b Principal) bool {
	if a.Realm != b.Realm || len(a.Components) != len(b.Components) {
		return false
	}
	for i := range a.Components {
		if a.Components[i] != b.Components[i] {
			return false
		}
	}
	return true
}
