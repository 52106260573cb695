package certs

import (
	"bytes"
	"testing"
)

func FuzzUnmarshalPrincipalName(f *testing.F) {
	p := PrincipalName{NameType: 2, Name: []string{"krbtgt", "EXAMPLE.COM"}, Realm: "EXAMPLE.COM"}
	der, _ := p.Marshal()
	f.Add(der)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := UnmarshalPrincipalName(in)
		if err != nil {
			return
		}
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", p, err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("not canonical:\n in %x\nout %x", in, out)
		}
	})
}

func FuzzParseSAN(f *testing.F) {
	p, _ := ParsePrincipalName("alice@EXAMPLE.COM")
	ext, _ := SAN{UPNs: []string{"alice@example.com"}, Principals: []PrincipalName{p},
		DNSNames: []string{"a.example"}, Emails: []string{"a@example"}}.Extension()
	f.Add(ext.Value)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSAN(in)
		if err != nil {
			return
		}
		if len(s.UPNs)+len(s.Principals)+len(s.DNSNames)+len(s.Emails) == 0 {
			return
		}
		// Whatever parsed must survive a rebuild and parse the same.
		ext, err := s.Extension()
		if err != nil {
			// Parsed empty strings are legal on the wire but not buildable.
			return
		}
		s2, err := ParseSAN(ext.Value)
		if err != nil {
			t.Fatalf("rebuilt SAN does not parse: %v", err)
		}
		if len(s2.UPNs) != len(s.UPNs) || len(s2.Principals) != len(s.Principals) {
			t.Fatalf("rebuilt SAN differs: %+v vs %+v", s2, s)
		}
	})
}

func FuzzParseSID(f *testing.F) {
	f.Add("S-1-5-21-1004336348-1177238915-682003330-512")
	f.Add("S-1-0x010000000000-7")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSID(in)
		if err != nil {
			return
		}
		if s.String() != in {
			t.Fatalf("String() = %q, parsed from %q", s.String(), in)
		}
		u, err := UnmarshalSID(s.Marshal())
		if err != nil || u != s {
			t.Fatalf("binary round trip: %v %v", u, err)
		}
	})
}

func FuzzUnmarshalSID(f *testing.F) {
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0, 0x20, 2, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := UnmarshalSID(in)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Marshal(), in) {
			t.Fatalf("not canonical: %x -> %x", in, s.Marshal())
		}
		if p, err := ParseSID(s.String()); err != nil || p != s {
			t.Fatalf("string round trip of %v: %v", s, err)
		}
	})
}

func FuzzParseSIDExtension(f *testing.F) {
	sid, _ := ParseSID("S-1-5-21-1-2-3-1104")
	ext, _ := SIDExtension(sid)
	f.Add(ext.Value)
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSIDExtension(in)
		if err != nil {
			return
		}
		if s.IsZero() {
			return
		}
		ext, err := SIDExtension(s)
		if err != nil {
			t.Fatal(err)
		}
		if s2, err := ParseSIDExtension(ext.Value); err != nil || s2 != s {
			t.Fatalf("rebuild: %v %v", s2, err)
		}
	})
}
