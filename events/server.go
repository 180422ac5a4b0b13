package events

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	// StoreDir holds JetStream's file store. Required.
	StoreDir string
	// Host to listen on. Default 127.0.0.1.
	Host string
	// Port to listen on. 0 or -1: a free port.
	Port int
	// SyncAlways makes JetStream fsync every write instead of every 2 minutes: slower (about
	// 2 600 writes/s here) and safe against power loss on a single server.
	SyncAlways bool
	// MaxMemory bounds JetStream's memory storage. Default 256 MiB.
	MaxMemory int64
	// Name of the server. Default "mosaic".
	Name string
	// Logger receives the server's notices, warnings and errors.
	Logger *zerolog.Logger
	// Auth authenticates every client (NewServerAuth). Required: the server never runs open.
	Auth *ServerAuth
}

// Server is an embedded nats-server with JetStream.
type Server struct {
	ns   *server.Server
	auth *ServerAuth
}

// ErrPortInUse is returned when the embedded server's port is taken.
var ErrPortInUse = errors.New("port in use")

// StartServer starts an embedded NATS server with JetStream and waits until it takes connections.
func StartServer(cfg ServerConfig) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("events: ServerConfig.StoreDir is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("events: ServerConfig.Auth is required (the embedded server authenticates every client)")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = -1
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = 256 << 20
	}
	if cfg.Name == "" {
		cfg.Name = "mosaic"
	}
	if cfg.Port > 0 {
		// nats-server treats a taken port as fatal; find out first and say so plainly.
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
		if err != nil {
			return nil, fmt.Errorf("NATS port %d on %s: %w", cfg.Port, cfg.Host, ErrPortInUse)
		}
		l.Close()
	}
	opts := &server.Options{
		ServerName:         cfg.Name,
		Host:               cfg.Host,
		Port:               cfg.Port,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cfg.MaxMemory,
		SyncAlways:         cfg.SyncAlways,
		NoSigs:             true,
		MaxPayload:         MaxMessageSize,
		// Every client authenticates: Mosaic's processes and workspaces' publishers (ServerAuth).
		CustomClientAuthentication: cfg.Auth,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if err := cfg.Auth.attach(ns); err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	if cfg.Logger != nil {
		ns.SetLoggerV2(&natsLogger{log: cfg.Logger.With().Str("component", "nats-server").Logger()}, false, false, false)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS did not start within 15s on %s:%d", cfg.Host, cfg.Port)
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		return nil, errors.New("embedded NATS started without JetStream (see its log)")
	}
	return &Server{ns: ns, auth: cfg.Auth}, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// SystemConn is how Mosaic's own processes connect to the server: its URL and the system user.
func (s *Server) SystemConn(name string) ConnConfig {
	user, password := s.auth.System()
	return ConnConfig{URL: s.ClientURL(), User: user, Password: password, Name: name}
}

// Auth is the server's authentication.
func (s *Server) Auth() *ServerAuth { return s.auth }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.ns.Addr().(*net.TCPAddr).Port }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// NATS returns the underlying server (for tests and advanced wiring).
func (s *Server) NATS() *server.Server { return s.ns }

// NATSLogger adapts a zerolog logger to nats-server's: notices at debug, traces at trace.
func NATSLogger(log zerolog.Logger) server.Logger { return &natsLogger{log: log} }

type natsLogger struct{ log zerolog.Logger }

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *natsLogger) Warnf(format string, v ...any) {
	if strings.HasPrefix(format, "Plaintext passwords") {
		// Only the federation hub has password users: its own in-process connections, with random
		// passwords held in memory.
		l.log.Debug().Msgf(format, v...)
		return
	}
	l.log.Warn().Msgf(format, v...)
}
func (l *natsLogger) Fatalf(format string, v ...any) { l.log.Error().Msgf(format, v...) }
func (l *natsLogger) Errorf(format string, v ...any) { l.log.Error().Msgf(format, v...) }
func (l *natsLogger) Debugf(format string, v ...any) { l.log.Trace().Msgf(format, v...) }
func (l *natsLogger) Tracef(format string, v ...any) { l.log.Trace().Msgf(format, v...) }
