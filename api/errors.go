package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error codes of the JSON error body, with their HTTP statuses.
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

var codeStatus = map[string]int{
	CodeInvalidArgument: http.StatusBadRequest,
	CodeUnauthenticated: http.StatusUnauthorized,
	CodeForbidden:       http.StatusForbidden,
	CodeNotFound:        http.StatusNotFound,
	CodeConflict:        http.StatusConflict,
	CodeTooLarge:        http.StatusRequestEntityTooLarge,
	CodeRateLimited:     http.StatusTooManyRequests,
	CodeUnavailable:     http.StatusServiceUnavailable,
	CodeInternal:        http.StatusInternalServerError,
}

// Error is an API error: what the server sends and what the client returns.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Status: codeStatus[code], Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, struct {
		Error *Error `json:"error"`
	}{e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
