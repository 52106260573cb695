package kdc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrNotReady is wrapped by [Reloader.Ready]'s errors.
var ErrNotReady = errors.New("kdc: not ready")

// readyTimeout bounds the directory's answer to a readiness probe.
const readyTimeout = 2 * time.Second

// Ready reports whether the KDC can serve logons: the krbtgt key loaded and
// the directory answering. An LDAP directory is asked (a connection and a
// bind, within ctx); an LDIF directory is in memory and always answers.
func (r *Reloader) Ready(ctx context.Context) error {
	s := r.acquire()
	defer s.release()
	k := s.kdc
	if keys, ok := k.keys.Keys(k.krbtgt); !ok || len(keys) == 0 {
		return fmt.Errorf("%w: no key for %s", ErrNotReady, k.krbtgt)
	}
	if p, ok := k.cfg.Directory.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("%w: the directory does not answer: %w", ErrNotReady, err)
		}
	}
	return nil
}

// HTTPHandler serves the KDC's health and metrics, for srv serving r:
//
//	/healthz/live   200 while the process serves
//	/healthz/ready  200 when [Reloader.Ready], else 503 with the reason
//	/metrics        [Metrics.WriteText]: Prometheus text format 0.0.4
func (r *Reloader) HTTPHandler(srv *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz/live", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "live")
	})
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := r.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = r.metrics.WriteText(w, srv, r)
	})
	return mux
}

// ServeHTTP serves h on l until ctx ends. The endpoint is for a monitoring
// system on a trusted network: it has no authentication, and answers
// nothing secret.
func ServeHTTP(ctx context.Context, l net.Listener, h http.Handler) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kdc: http: %w", err)
	}
	<-stopped
	return nil
}
