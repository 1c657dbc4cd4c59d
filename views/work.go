package views

import (
	"time"
)

// WorkVM is one running piece of work as its page shows it: how far it is, for how long, what it waits for,
// and whether the viewer may cancel it (CancelURL empty: no button).
type WorkVM struct {
	Verb        string // "read" (backups), "restored" (drills, restores)
	Done, Total int64  // plain bytes; Total 0 when unknown
	Started     *time.Time
	Now         time.Time
	Waiting     string // e.g. "a lock on public.patients_patient"; empty when not waiting
	CancelURL   string
}

// Pct is Done of Total in whole percent (0 when Total is unknown, at most 99 until the work ends).
func (w WorkVM) Pct() int {
	if w.Total <= 0 {
		return 0
	}
	return int(min(99, 100*w.Done/w.Total))
}

// Line says how far the work is: "1.2 GiB of 1.9 GiB restored (63%) · 1m20s elapsed · about 47s left". The
// estimate assumes the rest goes at the average pace so far; it is left out until there is a pace to go by.
func (w WorkVM) Line() string {
	s := Bytes(w.Done) + " " + w.Verb
	if w.Total > 0 {
		s = Bytes(w.Done) + " of " + Bytes(w.Total) + " " + w.Verb + " (" + itoa(int64(w.Pct())) + "%)"
	}
	if w.Started == nil {
		return s + " · not started yet"
	}
	elapsed := w.Now.Sub(*w.Started)
	if elapsed < 0 {
		elapsed = 0
	}
	s += " · " + Dur(elapsed) + " elapsed"
	if left, ok := w.Left(); ok {
		s += " · about " + Dur(left) + " left"
	}
	return s
}

// Left estimates the time still needed from the pace so far; ok is false without a pace (nothing done yet,
// total unknown, or already past the estimate's total).
func (w WorkVM) Left() (time.Duration, bool) {
	if w.Started == nil || w.Done <= 0 || w.Total <= 0 || w.Done >= w.Total {
		return 0, false
	}
	elapsed := w.Now.Sub(*w.Started)
	if elapsed <= 0 {
		return 0, false
	}
	return time.Duration(float64(elapsed) * float64(w.Total-w.Done) / float64(w.Done)).Round(time.Second), true
}
