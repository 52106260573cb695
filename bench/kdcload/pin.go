package kdcload

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinSelf binds every thread of this process (the load generator) to cpus
// and returns the function that lets it run on all CPUs again. Linux sets
// affinity per thread and a new thread inherits its creator's, so pinning
// the threads there are, twice over to catch one made meanwhile, pins the
// threads the Go runtime makes later too. GOMAXPROCS follows the mask.
func PinSelf(cpus ...int) (restore func(), err error) {
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		return nil, fmt.Errorf("kdcload: sched_getaffinity: %w", err)
	}
	var set unix.CPUSet
	for _, c := range cpus {
		if !all.IsSet(c) {
			return nil, fmt.Errorf("kdcload: CPU %d is not ours to run on", c)
		}
		set.Set(c)
	}
	if err := setThreadsAffinity(&set); err != nil {
		return nil, err
	}
	runtime.GOMAXPROCS(len(cpus))
	return func() {
		_ = setThreadsAffinity(&all)
		runtime.SetDefaultGOMAXPROCS()
	}, nil
}

func setThreadsAffinity(set *unix.CPUSet) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("kdcload: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// A thread that ended since the listing is no error.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("kdcload: sched_setaffinity %d: %w", tid, err)
			}
		}
	}
	return nil
}
