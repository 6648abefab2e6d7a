package pusher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// errDeadline is the cause of a push stopped by Options.Deadline.
var errDeadline = errors.New("deadline exceeded")

// retrier runs one operation until it succeeds, fails for good, or runs out
// of attempts or time. Retrying whole operations rather than single requests
// is what makes uploads safe to retry: a blob whose upload broke off is
// started again in a new upload session, never appended to a half-written one.
type retrier struct {
	attempts int
	base     time.Duration
	debug    *lineWriter
}

func (r *retrier) do(ctx context.Context, what string, op func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		hint := &retryHint{}
		err := op(context.WithValue(ctx, hintKey{}, hint))
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx, err)
		}
		if !transient(err) {
			return err
		}
		if attempt >= r.attempts {
			if attempt > 1 {
				return &triedError{err: err, n: attempt}
			}
			return err
		}
		delay := r.delay(attempt)
		if after := hint.get(); after > delay {
			delay = after
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return err
		}
		r.debug.printf("retry: %s: attempt %d of %d in %s after: %v", what, attempt+1, r.attempts, delay.Round(time.Millisecond), err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxError(ctx, err)
		case <-t.C:
		}
	}
}

// delay is the exponential backoff before attempt n+1, with jitter over
// its upper half so that parallel uploads do not retry in lockstep.
func (r *retrier) delay(n int) time.Duration {
	d := r.base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

// ctxError explains an error that happened while ctx ended: a deadline says
// so; a cancellation keeps the error as it is.
func ctxError(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if errors.Is(cause, errDeadline) && !errors.Is(err, errDeadline) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

// triedError says how often a transient failure was tried.
type triedError struct {
	err error
	n   int
}

func (e *triedError) Error() string { return fmt.Sprintf("%v (tried %d times)", e.err, e.n) }
func (e *triedError) Unwrap() error { return e.err }
