package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/internal/strictjson"
)

// JobArgs are a task's typed arguments. Kind names the task on the wire (never the Go type name)
// and must be stable: dot-separated lower-case words ("images.resize").
type JobArgs interface {
	Kind() string
}

// ArgsValidator is implemented by args that check themselves. Validate runs at the HTTP, CLI and
// Go edges (the publisher is told at once) and again when a message arrives from raw NATS (an
// invalid one is dead-lettered).
type ArgsValidator interface {
	Validate() error
}

// Worker runs the tasks of one kind.
type Worker[T JobArgs] interface {
	Work(ctx context.Context, job *Job[T]) error
}

// WorkFunc adapts a function to a Worker.
type WorkFunc[T JobArgs] func(ctx context.Context, job *Job[T]) error

// Work implements Worker.
func (f WorkFunc[T]) Work(ctx context.Context, job *Job[T]) error { return f(ctx, job) }

// WorkerConfig tunes how the tasks of a kind run. Zero fields take the defaults.
type WorkerConfig struct {
	// ProgressTimeout: a handler that neither checkpoints nor reports progress for this long is
	// cancelled and its attempt retried. Default 5 minutes.
	ProgressTimeout time.Duration
	// MaxAttempts applies when the publisher does not say. Default 25.
	MaxAttempts int
	// RetryPolicy overrides the pool's backoff for this kind.
	RetryPolicy RetryPolicy
}

// DefaultProgressTimeout is WorkerConfig.ProgressTimeout's default.
const DefaultProgressTimeout = 5 * time.Minute

// Registry maps kinds to workers. It is a value passed to the pool and the client, never a global.
type Registry struct {
	kinds map[string]*registered
}

type registered struct {
	kind   string
	cfg    WorkerConfig
	decode func(raw json.RawMessage) (any, error)
	work   func(ctx context.Context, d jobDelivery, args any) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]*registered{}} }

// AddWorker registers w for the kind of T; it panics if the kind is invalid or taken (a
// programming error). Use AddWorkerSafely to get an error instead.
func AddWorker[T JobArgs](r *Registry, w Worker[T]) {
	if err := AddWorkerSafely(r, w, WorkerConfig{}); err != nil {
		panic(err)
	}
}

// AddWorkerConfig registers w with a configuration; it panics like AddWorker.
func AddWorkerConfig[T JobArgs](r *Registry, w Worker[T], cfg WorkerConfig) {
	if err := AddWorkerSafely(r, w, cfg); err != nil {
		panic(err)
	}
}

// AddWorkerSafely registers w with a configuration.
func AddWorkerSafely[T JobArgs](r *Registry, w Worker[T], cfg WorkerConfig) error {
	var zero T
	kind := zero.Kind()
	if err := events.ValidateKind(kind); err != nil {
		return fmt.Errorf("agents: worker %T: %w", w, err)
	}
	if _, taken := r.kinds[kind]; taken {
		return fmt.Errorf("agents: kind %q is registered twice", kind)
	}
	if cfg.ProgressTimeout <= 0 {
		cfg.ProgressTimeout = DefaultProgressTimeout
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = events.DefaultMaxAttempts
	}
	r.kinds[kind] = &registered{
		kind: kind,
		cfg:  cfg,
		decode: func(raw json.RawMessage) (any, error) {
			var args T
			if err := strictjson.Decode(raw, &args); err != nil {
				return nil, fmt.Errorf("%w for %s: %v", ErrInvalidArgs, kind, err)
			}
			if v, ok := any(args).(ArgsValidator); ok {
				if err := v.Validate(); err != nil {
					return nil, fmt.Errorf("%w for %s: %v", ErrInvalidArgs, kind, err)
				}
			}
			return args, nil
		},
		work: func(ctx context.Context, d jobDelivery, args any) error {
			job := &Job[T]{JobInfo: d.info(), Args: args.(T), d: d}
			return w.Work(ctx, job)
		},
	}
	return nil
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Has reports whether kind is registered.
func (r *Registry) Has(kind string) bool { _, ok := r.kinds[kind]; return ok }

// ValidateArgs checks args against the kind's worker: ErrUnknownKind or ErrInvalidArgs.
func (r *Registry) ValidateArgs(kind string, args json.RawMessage) error {
	reg, ok := r.kinds[kind]
	if !ok {
		return fmt.Errorf("%w %q (registered: %v)", ErrUnknownKind, kind, r.Kinds())
	}
	_, err := reg.decode(args)
	return err
}

func (r *Registry) lookup(kind string) *registered { return r.kinds[kind] }

// MaxAttempts is the default attempts of a kind (the registry's, or 25).
func (r *Registry) MaxAttempts(kind string) int {
	if reg, ok := r.kinds[kind]; ok {
		return reg.cfg.MaxAttempts
	}
	return events.DefaultMaxAttempts
}
