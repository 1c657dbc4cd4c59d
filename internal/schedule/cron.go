package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// minEvery bounds "@every" schedules: a backup every few seconds would only fill storage and the queue.
const minEvery = time.Minute

// parseCron reads a standard five-field expression or a descriptor (@daily, @weekly, @every 6h). The time zone
// lives in its own field, so a TZ= prefix is refused rather than silently competing with it; robfig/cron also
// panics on some malformed prefixes, which this keeps away from it.
func parseCron(expr string) (s cron.Schedule, err error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return nil, errors.New("cron expression is empty (want five fields, e.g. \"0 2 * * *\")")
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, errors.New("put the time zone in the timezone field, not in the cron expression")
	case len(expr) > 200:
		return nil, errors.New("cron expression is too long")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cron expression %q does not parse", expr)
		}
	}()
	s, err = cron.ParseStandard(expr)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q does not parse: %v", expr, err)
	}
	switch sc := s.(type) {
	case cron.ConstantDelaySchedule:
		if sc.Delay < minEvery {
			return nil, fmt.Errorf("cron expression %q runs more often than every %s", expr, minEvery)
		}
	case *cron.SpecSchedule:
		// Seconds are not part of the standard syntax; the parser leaves them at 0 (bit 0 set).
		if sc.Second != 1 {
			return nil, fmt.Errorf("cron expression %q does not parse", expr)
		}
	}
	return s, nil
}

// FieldError is one bad field of a schedule, named as the form and the API name it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Errors is every bad field of one schedule; it is the error Parse and Validate return.
type Errors []FieldError

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, f := range e {
		msgs[i] = f.Field + ": " + f.Message
	}
	return strings.Join(msgs, "; ")
}

func (e *Errors) add(field, format string, args ...any) {
	*e = append(*e, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Field returns the message for field, or "".
func (e Errors) Field(field string) string {
	for _, f := range e {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}
