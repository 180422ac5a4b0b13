package mosaictype

import (
	"errors"
	"fmt"
)

// Error codes of the JSON error body, {"error": {"code": …, "message": …}}, with their HTTP
// statuses.
const (
	CodeInvalidArgument = "invalid_argument" // 400
	CodeUnauthenticated = "unauthenticated"  // 401
	CodeForbidden       = "forbidden"        // 403
	CodeNotFound        = "not_found"        // 404
	CodeConflict        = "conflict"         // 409
	CodeTooLarge        = "too_large"        // 413
	CodeRateLimited     = "rate_limited"     // 429
	CodeUnavailable     = "unavailable"      // 503
	CodeInternal        = "internal"         // 500
)

// Error is an API error: what the server sends and what the client returns. Status is the HTTP
// status it came with (not part of the body).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// IsCode reports whether err is (or wraps) an API error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
