package kdc_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sclogon/sclogon/kdc"
)

// goroutineID is the running goroutine's number, from its stack's header.
func goroutineID() int {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.Atoi(string(b[:bytes.IndexByte(b, ' ')]))
	return id
}

// byGoroutine answers each request with the number of the goroutine that
// handled it; held, while set, makes each request wait for it.
type byGoroutine struct {
	mu   sync.Mutex
	seen map[int]int
	held chan struct{}
}

func (h *byGoroutine) ServeKerberos(_ context.Context, req []byte, _ netip.AddrPort, _ string) []byte {
	if h.held != nil {
		<-h.held
	}
	id := goroutineID()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen == nil {
		h.seen = map[int]int{}
	}
	h.seen[id]++
	return []byte(strconv.Itoa(id))
}

func udpExchange(t testing.TB, addr string, msg []byte) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := readDatagram(c, 10*time.Second)
	if reply == nil {
		t.Fatal("no reply over UDP")
	}
	return reply
}

// TestWorkersReused: requests one after another, over UDP, over a TCP
// connection each and over one connection, all run on one goroutine, the
// worker that grew its stack on the first: none is started per datagram or
// per connection.
func TestWorkersReused(t *testing.T) {
	h := &byGoroutine{}
	srv := &kdc.Server{Handler: h, Realm: realm}
	addr := serve(t, srv)
	for range 5 {
		udpExchange(t, addr, []byte("request"))
		c := dialFrom(t, "127.0.0.1", addr)
		exchangeOn(t, c, []byte("request"))
		c.Close()
	}
	c := dialFrom(t, "127.0.0.1", addr)
	for range 5 {
		exchangeOn(t, c, []byte("request"))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 1 {
		t.Errorf("15 requests one after another ran on %d goroutines (%v), want one", len(h.seen), h.seen)
	}
	if w := srv.Stats().Workers; w != 1 {
		t.Errorf("Stats().Workers = %d, want 1", w)
	}
}

// TestWorkersBounded: requests that arrive together get a worker each up
// to MaxInFlight, the rest wait for one; once idle the workers end.
func TestWorkersBounded(t *testing.T) {
	kdc.SetWorkerIdleTimeout(t, 200*time.Millisecond)
	h := &byGoroutine{held: make(chan struct{})}
	srv := &kdc.Server{Handler: h, Realm: realm, MaxInFlight: 3}
	addr := serve(t, srv)
	const n = 8
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(frame([]byte("request"))); err != nil {
				t.Error(err)
				return
			}
			if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
				t.Errorf("no reply: %v", err)
			}
		}()
	}
	waitUntil(t, "three requests in flight", func() bool { return srv.Stats().InFlight == 3 })
	if w := srv.Stats().Workers; w != 3 {
		t.Errorf("with 3 requests in flight and 5 waiting, %d workers, want 3", w)
	}
	close(h.held)
	wg.Wait()
	h.mu.Lock()
	if len(h.seen) > 3 {
		t.Errorf("%d requests ran on %d goroutines, want at most MaxInFlight (3)", n, len(h.seen))
	}
	h.mu.Unlock()
	waitUntil(t, "the idle workers to end", func() bool { return srv.Stats().Workers == 0 })
}

// TestWorkersEndingRace: with one worker allowed and workers ending after
// a millisecond idle, requests that arrive as the worker ends still get
// answered: a dispatch that found no worker free starts one once the last
// has ended.
func TestWorkersEndingRace(t *testing.T) {
	kdc.SetWorkerIdleTimeout(t, time.Millisecond)
	h := &byGoroutine{}
	srv := &kdc.Server{Handler: h, Realm: realm, MaxInFlight: 1}
	addr := serve(t, srv)
	c := dialFrom(t, "127.0.0.1", addr)
	for i := range 300 {
		if i%3 == 0 {
			time.Sleep(time.Duration(i%5) * 300 * time.Microsecond)
		}
		exchangeOn(t, c, []byte("request"))
	}
	if w := srv.Stats().Workers; w > 1 {
		t.Errorf("%d workers with MaxInFlight 1", w)
	}
}
