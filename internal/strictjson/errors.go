package strictjson

import "errors"

var (
	// ErrEmpty is Decode's error for input with no JSON value: empty, or only white space.
	ErrEmpty = errors.New("no JSON value")
	// ErrTrailingData is Decode's error for input with more than white space after its JSON value.
	ErrTrailingData = errors.New("data after the JSON value")
)
