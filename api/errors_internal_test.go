package api

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/agents/knowledge"
	"github.com/mosaicstack/mosaic/credentials"
	"github.com/mosaicstack/mosaic/crypto"
	"github.com/mosaicstack/mosaic/federation"
	"github.com/mosaicstack/mosaic/store"
)

// TestErrorOfIsTheOneMapping: every error a handler gets from below answers with its code,
// wrapped or not; an API error passes as it is; anything else is internal.
func TestErrorOfIsTheOneMapping(t *testing.T) {
	for err, code := range map[error]string{
		store.ErrNotFound:          CodeNotFound,
		store.ErrConflict:          CodeConflict,
		store.ErrVersionMismatch:   CodeConflict,
		store.ErrValueBound:        CodeInvalidArgument,
		store.ErrForbidden:         CodeForbidden,
		agents.ErrInvalidSpec:      CodeInvalidArgument,
		agents.ErrInvalidArgs:      CodeInvalidArgument,
		agents.ErrUnknownKind:      CodeInvalidArgument,
		credentials.ErrInvalid:     CodeInvalidArgument,
		knowledge.ErrInvalid:       CodeInvalidArgument,
		federation.ErrInvalid:      CodeInvalidArgument,
		federation.ErrBadSignature: CodeUnauthenticated,
		federation.ErrTooMany:      CodeRateLimited,
		federation.ErrNotLinked:    CodeConflict,
		federation.ErrUnreachable:  CodeUnavailable,
		crypto.ErrUnavailable:      CodeUnavailable,
		&url.Error{Op: "Post", URL: "http://embedder", Err: errors.New("refused")}: CodeInternal, // its text not sent
		federation.ErrPeerAPI: CodeUnavailable,
		&federation.RemoteError{Code: federation.CodeRefused, Message: "no"}: CodeForbidden,
		errorf(CodeTooLarge, "big"):       CodeTooLarge,
		errors.New("the disk is on fire"): CodeInternal,
	} {
		for _, e := range []error{err, fmt.Errorf("doing a thing: %w", err)} {
			if got := errorOf(e); got.Code != code || got.Status != codeStatus[code] {
				t.Errorf("errorOf(%v) = %s (%d); want %s (%d)", e, got.Code, got.Status, code, codeStatus[code])
			}
		}
	}
}
