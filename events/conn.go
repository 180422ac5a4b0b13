package events

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// ConnConfig says how to reach a NATS server.
type ConnConfig struct {
	// URL of the server, or several separated by commas (nats://, tls://, ws://, wss://). Required.
	URL string
	// User and Password authenticate by user/password (also accepted inside the URL).
	User, Password string
	// Token authenticates by token.
	Token string
	// CredsFile is a .creds file (JWT + nkey seed).
	CredsFile string
	// TLS: CAFile verifies the server; CertFile and KeyFile present a client certificate.
	CAFile, CertFile, KeyFile string
	// Name identifies the connection on the server. Default "mosaic".
	Name string
	// Logger receives disconnects and reconnects.
	Logger *zerolog.Logger
}

// Validate checks the settings without connecting; errors name the setting.
func (c ConnConfig) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("NATS URL is empty"))
	}
	for _, raw := range strings.Split(c.URL, ",") {
		if c.URL == "" {
			break
		}
		u, err := url.Parse(strings.TrimSpace(raw))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("NATS URL %q: %w", redactNATS(raw), err))
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			errs = append(errs, fmt.Errorf("NATS URL %q: scheme must be nats, tls, ws or wss", redactNATS(raw)))
		case u.Hostname() == "":
			errs = append(errs, fmt.Errorf("NATS URL %q: no host", redactNATS(raw)))
		}
	}
	if c.Token != "" && (c.User != "" || c.CredsFile != "") {
		errs = append(errs, errors.New("NATS: give one of token, user/password or creds file"))
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs = append(errs, errors.New("NATS TLS: cert file and key file go together"))
	}
	for name, path := range map[string]string{"creds file": c.CredsFile, "CA file": c.CAFile, "cert file": c.CertFile, "key file": c.KeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("NATS %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Connect connects to NATS (reconnecting for ever with backoff) and opens JetStream.
func Connect(ctx context.Context, c ConnConfig) (*nats.Conn, jetstream.JetStream, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if c.Name == "" {
		c.Name = "mosaic"
	}
	log := zerolog.Nop()
	if c.Logger != nil {
		log = *c.Logger
	}
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return // this side closed it: a clean stop, nothing to warn of
			}
			log.Warn().Err(err).Msg("NATS disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", redactNATS(nc.ConnectedUrl())).Msg("NATS reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("NATS asynchronous error")
		}),
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	if c.CertFile != "" {
		opts = append(opts, nats.ClientCert(c.CertFile, c.KeyFile))
	}
	nc, err := nats.Connect(c.URL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactNATS(c.URL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream: %w", err)
	}
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(actx); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream is not available at %s: %w", redactNATS(c.URL), err)
	}
	return nc, js, nil
}

// RedactURL is a NATS URL (or several, comma-separated) fit for a log line or an error: any
// password or token in it replaced.
func RedactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		parts[i] = redactNATS(p)
	}
	return strings.Join(parts, ",")
}

func redactNATS(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable URL)"
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	} else {
		u.User = url.User("xxxxx") // a bare token
	}
	return u.String()
}
