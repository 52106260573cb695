package kdc

import (
	"context"
	"log/slog"
	"time"
)

// Running is a KDC answering in the background, started by [Start].
type Running struct {
	// Addrs are the host:port addresses it answers on (UDP and TCP).
	Addrs []string

	srv    *Server
	cancel context.CancelFunc
	done   chan error
}

// Start serves k on addrs ("127.0.0.1:0" picks a free port) in the
// background, for tests, the demo and embedders; [Running.Stop] shuts it
// down gracefully. log receives the server's own messages (nil: none).
func Start(k *KDC, addrs []string, log *slog.Logger) (*Running, error) {
	ls, err := Listen(addrs)
	if err != nil {
		return nil, err
	}
	r := &Running{done: make(chan error, 1)}
	for _, l := range ls {
		r.Addrs = append(r.Addrs, l.TCP.Addr().String())
	}
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	r.srv = &Server{Handler: k, Realm: k.Realm(), Log: log}
	go func() { r.done <- r.srv.Serve(ctx, ls, 5*time.Second) }()
	return r, nil
}

// Addr is the first address the KDC answers on.
func (r *Running) Addr() string { return r.Addrs[0] }

// Stats are the server's counts of what it refused or left unanswered.
func (r *Running) Stats() ServerStats { return r.srv.Stats() }

// Stop shuts the KDC down, letting requests in progress finish, and returns
// the error that ended serving, if any.
func (r *Running) Stop() error {
	r.cancel()
	return <-r.done
}
