package embed

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

var (
	// ErrInvalidConfig: a constructor was given a configuration it cannot use. The message names
	// the field; NewHTTP joins one such error per offending field.
	ErrInvalidConfig = errors.New("invalid embedder config")
	// ErrBadResponse: the server answered 2xx with something that is not a usable set of
	// embeddings (undecodable JSON, a count that does not match the inputs, a missing or repeated
	// index, a non-finite number, a body over the size limit).
	ErrBadResponse = errors.New("malformed embedding response")
	// ErrDimensionMismatch: the server returned a vector whose length is not HTTPConfig.Dims —
	// usually the wrong model or the wrong Dims in the configuration.
	ErrDimensionMismatch = errors.New("embedding has the wrong number of dimensions")
	// ErrTimeout: a request took longer than HTTPConfig.Timeout. Errors with it also match
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("embedding request timed out")
	// ErrUnavailable: the server could not be reached or the connection failed.
	ErrUnavailable = errors.New("embedding server unreachable")
	// ErrInvalidVector: Decode was given bytes that are not an encoded vector.
	ErrInvalidVector = errors.New("invalid encoded vector")
)

// StatusError is a non-2xx answer from an embedding server.
type StatusError struct {
	// StatusCode is the HTTP status, e.g. 429.
	StatusCode int
	// Message is the server's own message (Ollama's "error", OpenAI's "error.message", or else the
	// body's text), with any occurrence of the API key replaced by [REDACTED], control characters
	// replaced by spaces, and cut to at most 200 bytes. Empty when the body said nothing.
	Message string
	// RetryAfter is the server's Retry-After header as a duration; 0 when absent or unparsable.
	RetryAfter time.Duration
}

// Error is "server answered <code> <status text>: <message>".
func (e *StatusError) Error() string {
	s := fmt.Sprintf("server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// IsRetryable reports whether err may go away if the same call is made again later: a timeout,
// an unreachable server, or a 408, 425, 429 or 5xx answer (except 501). A cancelled context, an
// invalid configuration, a malformed answer or a 4xx is not.
func IsRetryable(err error) bool {
	if errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnavailable) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch c := se.StatusCode; {
		case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests:
			return true
		case c >= 500 && c != http.StatusNotImplemented:
			return true
		}
	}
	return false
}

// redactedError stands in for an error whose text contained the API key: it prints the scrubbed
// text and still answers errors.Is for the original chain, but does not unwrap to it.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
