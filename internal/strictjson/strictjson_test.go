package strictjson_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mosaicstack/mosaic/internal/strictjson"
)

type target struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     target
		wantErr  error  // a sentinel, matched with errors.Is
		wantText string // else a part of encoding/json's message
	}{
		{name: "valid", in: `{"name":"a","count":2}`, want: target{Name: "a", Count: 2}},
		{name: "valid with white space around", in: " \t\r\n{\"name\":\"a\"}\n \t\r", want: target{Name: "a"}},
		{name: "empty", in: ``, wantErr: strictjson.ErrEmpty},
		{name: "only white space", in: " \n\t", wantErr: strictjson.ErrEmpty},
		{name: "unknown field", in: `{"name":"a","colour":"blue"}`, wantText: `json: unknown field "colour"`},
		{name: "second JSON value", in: `{"name":"a"} {"name":"b"}`, wantErr: strictjson.ErrTrailingData},
		{name: "second value without a space", in: `{"name":"a"}{}`, wantErr: strictjson.ErrTrailingData},
		{name: "trailing garbage", in: `{"name":"a"} x`, wantErr: strictjson.ErrTrailingData},
		{name: "stray closing brace", in: `{"name":"a"}}`, wantErr: strictjson.ErrTrailingData},
		{name: "stray closing bracket", in: `{"name":"a"}]`, wantErr: strictjson.ErrTrailingData},
		{name: "trailing comma", in: `{"name":"a"},`, wantErr: strictjson.ErrTrailingData},
		{name: "not JSON", in: `{name: a}`, wantText: "invalid character"},
		{name: "truncated", in: `{"name":`, wantText: "unexpected EOF"},
		{name: "wrong type", in: `{"count":"x"}`, wantText: "cannot unmarshal string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got target
			err := strictjson.Decode([]byte(tc.in), &got)
			switch {
			case tc.wantErr == nil && tc.wantText == "":
				if err != nil {
					t.Fatalf("Decode(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Fatalf("Decode(%q) = %+v; want %+v", tc.in, got, tc.want)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Decode(%q): error %v; want %v", tc.in, err, tc.wantErr)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("Decode(%q): error %v; want one containing %q", tc.in, err, tc.wantText)
				}
				if errors.Is(err, strictjson.ErrEmpty) || errors.Is(err, strictjson.ErrTrailingData) {
					t.Fatalf("Decode(%q): error %v is a sentinel; want encoding/json's", tc.in, err)
				}
			}
		})
	}
}

// encoding/json's typed errors come through unwrapped, for callers that look at them.
func TestDecodeKeepsEncodingJSONErrors(t *testing.T) {
	t.Parallel()
	var v target
	var syn *json.SyntaxError
	if err := strictjson.Decode([]byte(`{"name" "a"}`), &v); !errors.As(err, &syn) {
		t.Fatalf("syntax error: %v (%T); want *json.SyntaxError", err, err)
	}
	var typ *json.UnmarshalTypeError
	if err := strictjson.Decode([]byte(`{"count":true}`), &v); !errors.As(err, &typ) {
		t.Fatalf("type error: %v (%T); want *json.UnmarshalTypeError", err, err)
	}
}
