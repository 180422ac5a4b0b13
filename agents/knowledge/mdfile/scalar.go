package mdfile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reads and writes the small subset of YAML the front matter uses: plain,
// 'single-quoted' and "double-quoted" scalars on one line, and one-line [ … ] lists of them.
// Errors here carry no file or line; the parser adds both.

// readScalar reads the scalar at the start of s, which has no leading blanks.
//
// In block context (flow false) the scalar is the rest of the line: a plain scalar ends at a
// comment (" #") and loses its trailing blanks, a quoted one may be followed only by blanks and a
// comment. In flow context (inside [ … ]) a plain scalar ends before the next ',' or ']', and rest
// is what follows the scalar.
func readScalar(s string, flow bool) (val, rest string, err error) {
	if s == "" {
		return "", "", nil
	}
	switch s[0] {
	case '"', '\'':
		if s[0] == '"' {
			val, rest, err = readDoubleQuoted(s)
		} else {
			val, rest, err = readSingleQuoted(s)
		}
		if err != nil || flow {
			return val, rest, err
		}
		return val, "", checkTrailing(rest, "the closing quote")
	case '#':
		if !flow {
			return "", "", nil // the value is empty; the rest of the line is a comment
		}
	}
	return readPlain(s, flow)
}

// readPlain reads an unquoted scalar and rejects what YAML would read as something else than
// that string (a list, a map, an anchor, a block scalar…).
func readPlain(s string, flow bool) (val, rest string, err error) {
	raw := s
	if flow {
		if i := strings.IndexAny(s, ",]"); i >= 0 {
			raw, rest = s[:i], s[i:]
		}
		if commentStart(raw) >= 0 {
			return "", "", errors.New(`a comment (" #") cannot be inside a [ … ] list`)
		}
	} else if i := commentStart(raw); i >= 0 {
		raw = raw[:i]
	}
	val = strings.TrimRight(raw, " \t")
	if val == "" {
		return "", rest, nil
	}
	c := val[0]
	switch {
	case c == '|' || c == '>':
		return "", "", fmt.Errorf("block scalars (%q) are not supported; write a double-quoted value with \\n for line breaks", c)
	case strings.IndexByte("[]{}#&*!%@`,", c) >= 0:
		return "", "", fmt.Errorf("a plain value cannot start with %q; quote the value", c)
	case strings.IndexByte("-?:", c) >= 0 && (len(val) == 1 || val[1] == ' ' || val[1] == '\t'):
		return "", "", fmt.Errorf("a plain value cannot start with %q and a blank (nested lists and maps are not supported); quote the value", val[:1])
	case strings.Contains(val, ": ") || strings.Contains(val, ":\t") || strings.HasSuffix(val, ":"):
		return "", "", errors.New(`a plain value cannot contain ": " or end with ":"; quote the value`)
	case flow && strings.ContainsAny(val, "[{}"):
		return "", "", errors.New(`a plain item of a [ … ] list cannot contain "[", "{" or "}"; quote the item`)
	}
	return val, rest, nil
}

// commentStart is the index of the '#' that starts a comment in s (a '#' after a blank), or -1.
func commentStart(s string) int {
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// checkTrailing accepts what may follow a complete value on its line: blanks and a comment.
func checkTrailing(rest, after string) error {
	t := strings.TrimLeft(rest, " \t")
	if t == "" || (t[0] == '#' && len(t) < len(rest)) {
		return nil
	}
	return fmt.Errorf("unexpected %q after %s", t, after)
}

// readSingleQuoted reads a 'single-quoted' scalar at the start of s, where two quotes stand for one.
func readSingleQuoted(s string) (val, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], nil
	}
	return "", "", errors.New("single-quoted value is not closed on its line")
}

// readDoubleQuoted reads a "double-quoted" scalar at the start of s, with YAML's escapes:
// \0 \a \b \t \n \v \f \r \e \" \/ \\ \N \_ \L \P, \xXX, \uXXXX (a UTF-16 surrogate pair is
// accepted as one character) and \UXXXXXXXX.
func readDoubleQuoted(s string) (val, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return b.String(), s[i+1:], nil
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			break
		}
		if r, ok := simpleEscapes[s[i]]; ok {
			b.WriteRune(r)
			continue
		}
		var n int
		switch s[i] {
		case 'x':
			n = 2
		case 'u':
			n = 4
		case 'U':
			n = 8
		default:
			return "", "", fmt.Errorf("unknown escape %q in double-quoted value", s[i-1:i+1])
		}
		r, err := hexRune(s[i-1:], n)
		if err != nil {
			return "", "", err
		}
		i += n
		if utf16IsHigh(r) && strings.HasPrefix(s[i+1:], `\u`) {
			if lo, err := hexRune(s[i+1:], 4); err == nil && utf16IsLow(lo) {
				r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
				i += 6
			}
		}
		if !utf8.ValidRune(r) {
			return "", "", fmt.Errorf("escape %q is not a valid character (a lone UTF-16 surrogate or beyond U+10FFFF)", s[i-n-1:i+1])
		}
		b.WriteRune(r)
	}
	return "", "", errors.New("double-quoted value is not closed on its line")
}

var simpleEscapes = map[byte]rune{
	'0': 0, 'a': '\a', 'b': '\b', 't': '\t', '\t': '\t', 'n': '\n', 'v': '\v', 'f': '\f',
	'r': '\r', 'e': 0x1b, ' ': ' ', '"': '"', '/': '/', '\\': '\\',
	'N': 0x85, '_': 0xA0, 'L': 0x2028, 'P': 0x2029,
}

// hexRune decodes the n hex digits after the two-byte escape at the start of s ("\u…").
func hexRune(s string, n int) (rune, error) {
	end := 2
	for end < len(s) && end < 2+n && strings.IndexByte("0123456789abcdefABCDEF", s[end]) >= 0 {
		end++
	}
	if end < 2+n {
		return 0, fmt.Errorf("escape %q needs %d hex digits", s[:end], n)
	}
	v, err := strconv.ParseUint(s[2:end], 16, 32)
	if err != nil { // cannot happen: at most 8 hex digits
		return 0, err
	}
	return rune(v), nil
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

// readFlowList reads a one-line [ … ] list at the start of s and returns its items as written
// (quoted items unquoted, nothing trimmed). A trailing comma is allowed, an empty item is not.
func readFlowList(s string) ([]string, error) {
	items := []string{}
	i := 1 // after '['
	for {
		i += blanks(s[i:])
		if i == len(s) {
			return nil, errors.New(`the [ … ] list is not closed on its line (a list over several lines is written as "- item" lines)`)
		}
		if s[i] == ']' {
			break // empty list or trailing comma
		}
		quoted := s[i] == '"' || s[i] == '\''
		v, rest, err := readScalar(s[i:], true)
		if err != nil {
			return nil, err
		}
		if v == "" && !quoted {
			return nil, errors.New("empty item in the [ … ] list")
		}
		items = append(items, v)
		i = len(s) - len(rest)
		i += blanks(s[i:])
		if i == len(s) {
			return nil, errors.New(`the [ … ] list is not closed on its line (a list over several lines is written as "- item" lines)`)
		}
		if s[i] == ']' {
			break
		}
		if s[i] != ',' {
			return nil, fmt.Errorf(`expected "," or "]" after item %q, got %q`, v, s[i:])
		}
		i++
	}
	return items, checkTrailing(s[i+1:], `the closing "]"`)
}

func blanks(s string) int { return len(s) - len(strings.TrimLeft(s, " \t")) }

// writeScalar appends s as a scalar that reads back as exactly s: plain when that is safe, else
// double-quoted with escapes. flow is true for items of a [ … ] list.
func writeScalar(b *strings.Builder, s string, flow bool) {
	if !needsQuote(s, flow) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError && n == 1:
			b.WriteByte(s[i]) // not UTF-8: written as is (Parse rejects it; Validate refuses such docs)
		case mustEscape(r):
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	b.WriteByte('"')
}

// mustEscape: characters never written raw, because Parse rejects them on a line (control
// characters) or other YAML readers could take them for a line break or a byte order mark.
func mustEscape(r rune) bool {
	return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 || r == 0xFEFF
}

// needsQuote reports whether s must be double-quoted: when a plain scalar would not read back as
// the same string here or in other YAML readers. Those are: the empty string; a leading one of
// -?:,[]{}#&*!|>'"%@` ; leading or trailing white space; ": " or " #" inside or ":" at the end;
// a line break or other control character; what YAML reads as a bool, null or number; in a
// [ … ] list also ',' '[' ']' '{' '}'. Whatever else the reader would not return unchanged is
// quoted too.
func needsQuote(s string, flow bool) bool {
	if s == "" || strings.IndexByte("-?:,[]{}#&*!|>'\"%@`", s[0]) >= 0 {
		return true
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return true
	}
	for _, bad := range []string{": ", ":\t", " #", "\t#"} {
		if strings.Contains(s, bad) {
			return true
		}
	}
	if strings.HasSuffix(s, ":") || !utf8.ValidString(s) || strings.IndexFunc(s, mustEscape) >= 0 {
		return true
	}
	if looksLikeNonString(s) || (flow && strings.ContainsAny(s, ",[]{}")) {
		return true
	}
	// Whatever the checks above missed: quote unless the reader returns s unchanged.
	if flow {
		items, err := readFlowList("[" + s + "]")
		return err != nil || len(items) != 1 || items[0] != s
	}
	v, _, err := readScalar(s, false)
	return err != nil || v != s
}

// looksLikeNonString reports whether a plain s could be read by a YAML reader as a bool, a null
// or a number (YAML 1.1 or 1.2). It errs on the safe side: anything starting with a digit, or
// with a sign or '.' and then a digit, counts.
func looksLikeNonString(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~",
		".inf", "+.inf", "-.inf", ".nan":
		return true
	}
	if s[0] == '+' || s[0] == '-' || s[0] == '.' {
		s = s[1:]
		if s != "" && s[0] == '.' {
			s = s[1:]
		}
	}
	return s != "" && s[0] >= '0' && s[0] <= '9'
}
