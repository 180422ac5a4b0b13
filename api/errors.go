package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/mosaicstack/mosaic/mosaictype"
)

// Error codes of the JSON error body, with their HTTP statuses (codeStatus): mosaictype's.
const (
	CodeInvalidArgument = mosaictype.CodeInvalidArgument
	CodeUnauthenticated = mosaictype.CodeUnauthenticated
	CodeForbidden       = mosaictype.CodeForbidden
	CodeNotFound        = mosaictype.CodeNotFound
	CodeConflict        = mosaictype.CodeConflict
	CodeTooLarge        = mosaictype.CodeTooLarge
	CodeRateLimited     = mosaictype.CodeRateLimited
	CodeUnavailable     = mosaictype.CodeUnavailable
	CodeInternal        = mosaictype.CodeInternal
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

// Error (mosaictype.Error) is an API error: what the server sends and the client returns.
type Error = mosaictype.Error

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
