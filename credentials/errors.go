package credentials

import "errors"

// ErrInvalid: a credential's fields break a rule.
var ErrInvalid = errors.New("invalid credential")
