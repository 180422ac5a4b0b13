package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/store"

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

// errorOf is the API's one answer to an error a handler got from below: the error codes of the
// store, the credentials vault, the knowledge base, agents' publish checks and federation (a
// peer's signed refusal as the peer gave it), a cipher or a peer that cannot be reached; an *Error
// this server made passes as it is (a peer API's answer never does: federation turns it into
// ErrPeerAPI); anything else is internal (logged, its text not sent: Server.fail).
func errorOf(err error) *Error {
	var (
		e  *Error
		re *federation.RemoteError
	)
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &re) && re.Code == federation.CodeRefused:
		return errorf(CodeForbidden, "the peer refused: %s", re.Message)
	case errors.As(err, &re) && re.Code == federation.CodeInvalid:
		return errorf(CodeInvalidArgument, "the peer: %s", re.Message)
	case errors.As(err, &re):
		return errorf(CodeUnavailable, "the peer: %s", re.Error())
	case errors.Is(err, store.ErrNotFound):
		return errorf(CodeNotFound, "%v", err)
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrVersionMismatch), errors.Is(err, federation.ErrConflict),
		errors.Is(err, federation.ErrNotLinked):
		return errorf(CodeConflict, "%v", err)
	case errors.Is(err, store.ErrValueBound):
		return errorf(CodeInvalidArgument, "%v", store.ErrValueBound)
	case errors.Is(err, agents.ErrInvalidSpec), errors.Is(err, agents.ErrInvalidArgs), errors.Is(err, agents.ErrUnknownKind),
		errors.Is(err, credentials.ErrInvalid), errors.Is(err, knowledge.ErrInvalid), errors.Is(err, federation.ErrInvalid),
		errors.Is(err, federation.ErrMalformed):
		return errorf(CodeInvalidArgument, "%v", err)
	case errors.Is(err, store.ErrForbidden):
		return errorf(CodeForbidden, "%v", err)
	case errors.Is(err, federation.ErrBadSignature), errors.Is(err, federation.ErrStale), errors.Is(err, federation.ErrReplay),
		errors.Is(err, federation.ErrLeafKeyNotProven):
		return errorf(CodeUnauthenticated, "%v", err)
	case errors.Is(err, federation.ErrTooMany):
		return errorf(CodeRateLimited, "%v", err)
	case crypto.IsRetryable(err):
		return errorf(CodeUnavailable, "the cipher is unavailable; try again")
	case errors.Is(err, federation.ErrUnreachable), errors.Is(err, federation.ErrTimeout), errors.Is(err, federation.ErrUnsigned),
		errors.Is(err, federation.ErrBusy), errors.Is(err, federation.ErrPeerAPI):
		return errorf(CodeUnavailable, "%v", err)
	}
	return errorf(CodeInternal, "%v", err)
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Status: codeStatus[code], Code: code, Message: fmt.Sprintf(format, args...)}
}

// fail answers a handler's error on route: a server-side one (5xx) is logged, and an internal
// one's text is not sent.
func (s *Server) fail(w http.ResponseWriter, route string, e *Error) {
	if e.Status >= 500 {
		s.log.Error().Str("code", e.Code).Str("error", e.Message).Str("route", route).Msg("request failed")
		if e.Code == CodeInternal {
			e = errorf(CodeInternal, "internal error (logged)")
		}
	}
	writeError(w, e)
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
