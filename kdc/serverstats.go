package kdc

import (
	"log/slog"
	"sync/atomic"
)

// ServerStats counts what a [Server] refused or left unanswered, and why.
type ServerStats struct {
	// Unanswered: messages the handler gave no reply, being no AS-REQ or
	// TGS-REQ (noise, replies, KRB-ERRORs), or empty datagrams.
	Unanswered uint64
	// SpoofedSource: datagrams from one of the server's own listening
	// addresses, or from an address none can come from.
	SpoofedSource uint64
	// Oversize: datagrams and TCP frames over MaxRequest.
	Oversize uint64
	// ErrorsLimited: KRB-ERRORs not sent over UDP because their
	// destination had had its ErrorRate.
	ErrorsLimited uint64
	// LogsLimited: log lines not written because their source had had its
	// share.
	LogsLimited uint64
	// TCPRefused: connections closed at once, MaxConns being open and none
	// idle; TCPRefusedSource: closed at once, MaxConnsPerSource being open
	// from their address; TCPEvicted: idle connections closed to admit a new
	// one at MaxConns.
	TCPRefused, TCPRefusedSource, TCPEvicted uint64
	// TCPIdleTimeouts: connections closed after IdleTimeout without a
	// request; TCPHeaderTimeouts: after HeaderTimeout in the middle of one.
	TCPIdleTimeouts, TCPHeaderTimeouts uint64
	// TCPOpen is the number of connections open now.
	TCPOpen int
	// InFlight is the number of requests being handled now.
	InFlight int
	// Workers is the number of worker goroutines that handle requests, busy
	// or waiting for one (at most MaxInFlight; idle ones end).
	Workers int
}

// serverCounters are the live counters behind ServerStats.
type serverCounters struct {
	unanswered, spoofed, oversize, errorsLimited, logsLimited atomic.Uint64
	tcpRefused, tcpRefusedSource, tcpEvicted                  atomic.Uint64
	tcpIdle, tcpHeader                                        atomic.Uint64
}

// Stats returns the server's counters so far.
func (s *Server) Stats() ServerStats {
	s.init()
	c := &s.counters
	return ServerStats{
		Unanswered: c.unanswered.Load(), SpoofedSource: c.spoofed.Load(), Oversize: c.oversize.Load(),
		ErrorsLimited: c.errorsLimited.Load(), LogsLimited: c.logsLimited.Load(),
		TCPRefused: c.tcpRefused.Load(), TCPRefusedSource: c.tcpRefusedSource.Load(), TCPEvicted: c.tcpEvicted.Load(),
		TCPIdleTimeouts: c.tcpIdle.Load(), TCPHeaderTimeouts: c.tcpHeader.Load(),
		TCPOpen: s.table.open(), InFlight: len(s.sem), Workers: int(s.workers.Load()),
	}
}

// logValue is the counters as one log line's attributes.
func (st ServerStats) logValue() []any {
	return []any{
		slog.Uint64("unanswered", st.Unanswered), slog.Uint64("spoofed_source", st.SpoofedSource),
		slog.Uint64("oversize", st.Oversize), slog.Uint64("errors_limited", st.ErrorsLimited),
		slog.Uint64("logs_limited", st.LogsLimited), slog.Uint64("tcp_refused", st.TCPRefused),
		slog.Uint64("tcp_refused_source", st.TCPRefusedSource), slog.Uint64("tcp_evicted", st.TCPEvicted),
		slog.Uint64("tcp_idle_timeouts", st.TCPIdleTimeouts), slog.Uint64("tcp_header_timeouts", st.TCPHeaderTimeouts),
	}
}
