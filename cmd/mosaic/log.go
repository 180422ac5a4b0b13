package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// newLogger builds the process logger: human-readable on a terminal, JSON lines otherwise.
func newLogger(level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("%s: %q is not one of trace, debug, info, warn, error", setting("log-level"), level)
	}
	var w io.Writer = os.Stderr
	switch format {
	case "auto":
		if isTerminal(os.Stderr) {
			w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	case "json":
	default:
		return zerolog.Logger{}, fmt.Errorf("%s: %q is not auto, console or json", setting("log-format"), format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
