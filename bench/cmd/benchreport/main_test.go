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
