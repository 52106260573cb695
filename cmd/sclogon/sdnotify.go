package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// notifyServiceManager sends state ("READY=1", ...) to the service manager
// over $NOTIFY_SOCKET, as sd_notify(3) does; without the variable, as
// outside systemd, it does nothing. A failure is logged, not fatal: the
// KDC serves either way, and systemd reports a unit that never got READY.
func notifyServiceManager(log *slog.Logger, state string) {
	if err := sdNotify(os.Getenv("NOTIFY_SOCKET"), state); err != nil {
		log.Warn("sclogon kdc: cannot notify the service manager", "err", err)
	}
}

// sdNotify writes state to the datagram socket at path: a file, or an
// abstract socket written @name (Go maps the @ to the leading NUL).
func sdNotify(path, state string) error {
	if path == "" {
		return nil
	}
	if path[0] != '/' && path[0] != '@' {
		return fmt.Errorf("NOTIFY_SOCKET %q is neither a path nor an abstract socket", path)
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = c.Write([]byte(state))
	return err
}

// reloadingState tells the service manager a reload has begun; systemd
// asks for the monotonic clock's time with RELOADING=1 (sd_notify(3)).
func reloadingState() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "RELOADING=1"
	}
	return fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", ts.Nano()/1000)
}
