// Package strictjson decodes one JSON value strictly: an object field the target does not declare
// is an error, and so is anything after the value but white space. It is the one decoder behind
// Mosaic's task envelopes (events), a kind's arguments (agents), request bodies (api) and
// federation messages; it imports only the standard library.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Decode decodes the JSON value in data into v, as encoding/json's Decoder with
// DisallowUnknownFields does, and then requires the rest of data to be JSON white space.
//
// Errors: ErrEmpty when data holds no value (empty or only white space); ErrTrailingData when
// something follows the value (a second value, a stray bracket); otherwise encoding/json's own
// error, unwrapped (a *json.SyntaxError, a *json.UnmarshalTypeError, `json: unknown field "x"`),
// so that callers can quote it as before.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return ErrEmpty
		}
		return err
	}
	// Decoder.More is not enough: it reports false before a '}' or ']', so `{}}` would pass.
	for _, c := range data[dec.InputOffset():] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return ErrTrailingData
		}
	}
	return nil
}
