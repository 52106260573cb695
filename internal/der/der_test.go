package der

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// tree is an element for the differential test: primitive with contents,
// or constructed with children.
type tree struct {
	id       cbasn1.Tag
	contents []byte
	kids     []tree
	integer  *int64
}

func (t tree) build(b *Builder) {
	switch {
	case t.integer != nil:
		b.AddInt64(*t.integer)
	case t.kids == nil:
		b.Add(t.id, t.contents)
	default:
		b.Open(t.id)
		for _, k := range t.kids {
			k.build(b)
		}
		b.Close()
	}
}

func (t tree) cryptobyte(b *cryptobyte.Builder) {
	switch {
	case t.integer != nil:
		b.AddASN1Int64(*t.integer)
	case t.kids == nil:
		b.AddASN1(cbasn1.Tag(t.id), func(b *cryptobyte.Builder) { b.AddBytes(t.contents) })
	default:
		b.AddASN1(cbasn1.Tag(t.id), func(b *cryptobyte.Builder) {
			for _, k := range t.kids {
				k.cryptobyte(b)
			}
		})
	}
}

// sizes straddle every boundary of the length's form.
var sizes = []int{0, 1, 126, 127, 128, 129, 255, 256, 257, 65535, 65536, 65537}

func randomTree(r *rand.Rand, depth int) tree {
	switch k := r.IntN(4); {
	case depth == 0 || k == 0:
		n := sizes[r.IntN(len(sizes))]
		if r.IntN(3) > 0 {
			n = r.IntN(300)
		}
		c := make([]byte, n)
		for i := range c {
			c[i] = byte(r.Uint32())
		}
		return tree{id: OctetString, contents: c}
	case k == 1:
		v := int64(r.Uint64())
		if r.IntN(2) == 0 {
			v >>= r.IntN(64)
		}
		return tree{integer: &v}
	default:
		ids := []cbasn1.Tag{Sequence, Explicit(r.IntN(13)), Application(r.IntN(31))}
		t := tree{id: ids[r.IntN(len(ids))], kids: []tree{}}
		for range r.IntN(5) {
			t.kids = append(t.kids, randomTree(r, depth-1))
		}
		return t
	}
}

// TestMatchesCryptobyte: random trees of elements, with contents around
// every length boundary and integers of every size, encode byte for byte
// as cryptobyte encodes them.
func TestMatchesCryptobyte(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		tr := randomTree(r, 5)
		b := NewBuilder(nil)
		tr.build(b)
		got, err := b.Bytes()
		if err != nil {
			t.Fatalf("tree %d: %v", i, err)
		}
		cb := cryptobyte.NewBuilder(nil)
		tr.cryptobyte(cb)
		want, err := cb.Bytes()
		if err != nil {
			t.Fatalf("tree %d: cryptobyte: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("tree %d: %d bytes differ from cryptobyte's %d:\n% x\n% x", i, len(got), len(want), got[:min(len(got), 64)], want[:min(len(want), 64)])
		}
	}
}

// TestSizes: Size and ExplicitSize are what AppendHeader and AppendElement
// write, at every boundary of the length's form.
func TestSizes(t *testing.T) {
	for _, n := range append(sizes, 1<<24-1, 1<<24, 1<<24+1) {
		contents := make([]byte, n)
		if got := len(AppendElement(nil, OctetString, contents)); got != Size(n) {
			t.Errorf("%d content octets: %d written, Size says %d", n, got, Size(n))
		}
		inner := AppendElement(nil, OctetString, contents)
		if got := len(AppendElement(nil, Explicit(1), inner)); got != ExplicitSize(n) {
			t.Errorf("[1] around %d octets: %d written, ExplicitSize says %d", n, got, ExplicitSize(n))
		}
	}
}

// TestIntegers: the boundaries of each integer length, as cryptobyte
// writes them, by AppendInt, IntSize and the Builder.
func TestIntegers(t *testing.T) {
	var vs []int64
	for s := 0; s < 63; s++ {
		vs = append(vs, 1<<s-1, 1<<s, -(1 << s), -(1<<s)-1)
	}
	vs = append(vs, math.MaxInt64, math.MinInt64, 0)
	for _, v := range vs {
		b := NewBuilder(nil)
		b.AddInt64(v)
		got, _ := b.Bytes()
		cb := cryptobyte.NewBuilder(nil)
		cb.AddASN1Int64(v)
		want, _ := cb.Bytes()
		if !bytes.Equal(got, want) {
			t.Errorf("%d: % x, want % x", v, got, want)
		}
		if a := AppendInt(nil, v); !bytes.Equal(a, want) || len(a) != Size(IntSize(v)) {
			t.Errorf("%d: AppendInt % x (IntSize %d), want % x", v, a, IntSize(v), want)
		}
	}
}

// TestMisuse: unbalanced elements, too deep a nesting and a multi-octet
// identifier fail at Bytes, and nothing is written after the first error.
func TestMisuse(t *testing.T) {
	cases := map[string]func(b *Builder){
		"left open":      func(b *Builder) { b.Open(Sequence) },
		"close too many": func(b *Builder) { b.Open(Sequence); b.Close(); b.Close() },
		"high tag":       func(b *Builder) { b.Open(cbasn1.Tag(0x1f)) },
		"too deep": func(b *Builder) {
			for range maxDepth + 1 {
				b.Open(Sequence)
			}
		},
		"set error": func(b *Builder) { b.SetError(errTest) },
	}
	for name, f := range cases {
		b := NewBuilder(nil)
		f(b)
		b.AddInt64(1)
		if out, err := b.Bytes(); err == nil {
			t.Errorf("%s: no error, % x", name, out)
		}
	}
}

type testError struct{}

func (testError) Error() string { return "test" }

var errTest = testError{}

// TestNoAllocations: into a buffer large enough, building allocates
// nothing, long-form lengths included.
func TestNoAllocations(t *testing.T) {
	buf := make([]byte, 0, 4096)
	contents := make([]byte, 1000)
	n := testing.AllocsPerRun(100, func() {
		b := Builder{buf: buf[:0]}
		b.Open(Application(11))
		b.Open(Sequence)
		for i := range 3 {
			b.Open(Explicit(i))
			b.AddInt64(int64(i) << 40)
			b.Add(OctetString, contents)
			b.Close()
		}
		b.Close()
		b.Close()
		if _, err := b.Bytes(); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}
