package tui

import (
	"errors"
	"fmt"
	"syscall"
)

// signalChoice is one signal the confirm dialog offers.
type signalChoice struct {
	name string // "TERM"
	sig  syscall.Signal
}

// signalChoices are the dialog's signals, the default first.
func signalChoices() []signalChoice {
	return []signalChoice{{"TERM", syscall.SIGTERM}, {"KILL", syscall.SIGKILL}, {"INT", syscall.SIGINT}}
}

// kill sends sig to pid, explaining the usual failures.
func kill(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("refusing to signal PID %d", pid)
	}
	err := syscall.Kill(pid, sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ESRCH):
		return fmt.Errorf("PID %d: no such process (it has exited): %w", pid, err)
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("PID %d belongs to another user (run as that user or root): %w", pid, err)
	default:
		return fmt.Errorf("signal PID %d: %w", pid, err)
	}
}
