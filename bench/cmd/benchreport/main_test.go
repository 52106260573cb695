package main

import "testing"

func TestParseBenchmarks(t *testing.T) {
	out := []byte(`goos: linux
pkg: github.com/sclogon/sclogon/pkinit
BenchmarkRSA2048Verify-2   	   26000	     45000 ns/op
BenchmarkRSA2048Sign-2     	    1100	   1000000 ns/op	    5000 B/op	      40 allocs/op
BenchmarkRSA2048Verify-2   	   26000	     47000 ns/op
BenchmarkRSA2048Verify-2   	   26000	     90000 ns/op
BenchmarkDH2048Secret      	    2000	    450123.5 ns/op
PASS
`)
	ops, err := parseBenchmarks(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"RSA2048Verify": 47000, "RSA2048Sign": 1e6, "DH2048Secret": 450123.5}
	if len(ops) != len(want) || ops[0].Name != "RSA2048Verify" {
		t.Fatalf("ops %+v", ops)
	}
	for _, o := range ops {
		if want[o.Name] != o.NsPerOp {
			t.Errorf("%s: %v ns/op, want %v", o.Name, o.NsPerOp, want[o.Name])
		}
	}
	if _, err := parseBenchmarks([]byte("PASS\n")); err == nil {
		t.Error("output without results parsed")
	}
}

func TestParseMetrics(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkDirectory/ldif-2         	       1	4292538563 ns/op	         0 errors	       113.0 exch/s	         2.611 kdc-cpu-ms/exch
BenchmarkDirectory/slapd-ocsp-cache-2   	       1	3398142201 ns/op	         1 errors	       149.5 exch/s
BenchmarkStorm                  	       1	1472089722 ns/op	        74.38 exch/s	         1.344 serve-all-s	       100.0 served
BenchmarkDH2048SecretTiming-2   	       1	3689286137 ns/op	         0.08882 |t|-bigmod	         0.2070 |t|-math/big
--- BENCH: BenchmarkStorm-2
PASS
`)
	m := parseMetrics(out)
	if got := m["Directory/ldif"]["exch/s"]; got != 113 {
		t.Errorf("ldif exch/s = %v", got)
	}
	if got := m["Directory/slapd-ocsp-cache"]["errors"]; got != 1 {
		t.Errorf("slapd-ocsp-cache errors = %v", got)
	}
	if got := m["Storm"]["serve-all-s"]; got != 1.344 {
		t.Errorf("storm serve-all-s = %v", got)
	}
	if got := m["DH2048SecretTiming"]["|t|-math/big"]; got != 0.207 {
		t.Errorf("timing |t|-math/big = %v", got)
	}
	if len(m) != 4 {
		t.Errorf("%d benchmarks parsed: %v", len(m), m)
	}
}
