package agents

import (
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy decides how long a failed attempt waits before the next.
type RetryPolicy interface {
	// NextRetry is the delay after attempt (1-based) failed with err.
	NextRetry(attempt int, err error) time.Duration
}

// ExponentialBackoff waits Base·2^(attempt−1), at most Max, with ±Jitter of it at random.
// The zero value waits 1s, 2s, 4s… up to 10 minutes, ±20%.
type ExponentialBackoff struct {
	Base   time.Duration
	Max    time.Duration
	Jitter float64
}

// NextRetry implements RetryPolicy.
func (b ExponentialBackoff) NextRetry(attempt int, _ error) time.Duration {
	base, max, jitter := b.Base, b.Max, b.Jitter
	if base <= 0 {
		base = time.Second
	}
	if max <= 0 {
		max = 10 * time.Minute
	}
	if jitter <= 0 {
		jitter = 0.2
	}
	if attempt < 1 {
		attempt = 1
	}
	d := float64(base) * math.Pow(2, float64(attempt-1))
	if d > float64(max) {
		d = float64(max)
	}
	d *= 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(d)
}
