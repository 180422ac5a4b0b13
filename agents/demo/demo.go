// Package demo holds the built-in kinds that make a fresh system do something: demo.echo returns
// its args; demo.steps runs N checkpointed steps and can fail on purpose, to show retries, dead
// letters, crashes and resumption; demo.credentials opens the credentials its task declared.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/crypto"
)

// Register adds demo.echo and demo.steps to a registry.
func Register(r *agents.Registry) {
	agents.AddWorker(r, agents.WorkFunc[EchoArgs](echo))
	agents.AddWorkerConfig(r, agents.WorkFunc[StepsArgs](steps), agents.WorkerConfig{ProgressTimeout: time.Minute})
	agents.AddWorker(r, agents.WorkFunc[CredentialsArgs](openCredentials))
}

// CredentialsArgs configure demo.credentials, which opens every credential its task declared
// (--credential NAME) and reports, for each, that it opened and its length — never the value.
// It takes no arguments.
type CredentialsArgs struct{}

// Kind implements agents.JobArgs.
func (CredentialsArgs) Kind() string { return "demo.credentials" }

// CredentialReport is demo.credentials' result for one credential.
type CredentialReport struct {
	Opened bool `json:"opened"`
	Length int  `json:"length"`
}

func openCredentials(ctx context.Context, job *agents.Job[CredentialsArgs]) error {
	if len(job.Credentials) == 0 {
		return agents.Permanent(errors.New("demo.credentials: the task declared no credential (publish with --credential NAME)"))
	}
	out := map[string]CredentialReport{}
	for _, name := range job.Credentials {
		s, err := job.Credential(ctx, name)
		if err != nil {
			if errors.Is(err, agents.ErrFenced) || crypto.IsRetryable(err) {
				return err
			}
			return agents.Permanent(err)
		}
		_ = s.Use(func(b []byte) error { out[name] = CredentialReport{Opened: true, Length: len(b)}; return nil })
		s.Wipe()
	}
	return job.SetResult(out)
}

// EchoArgs are any JSON object; demo.echo returns it as its result.
type EchoArgs struct{ raw json.RawMessage }

// Kind implements agents.JobArgs.
func (EchoArgs) Kind() string { return "demo.echo" }

// UnmarshalJSON keeps the object as it is. encoding/json hands an Unmarshaler one whole, valid
// value, so its first byte says whether it is an object (decoding it into a map to find out cost
// a twentieth of the no-op path's CPU).
func (a *EchoArgs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return errors.New("demo.echo takes a JSON object")
	}
	a.raw = append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON gives the object back.
func (a EchoArgs) MarshalJSON() ([]byte, error) {
	if a.raw == nil {
		return []byte(`{}`), nil
	}
	return a.raw, nil
}

func echo(_ context.Context, job *agents.Job[EchoArgs]) error {
	return job.SetResult(job.Args)
}

// StepsArgs configure demo.steps.
type StepsArgs struct {
	// Steps to run (0…100000), each taking StepMS milliseconds (0…60000), checkpointed after each.
	Steps  int `json:"steps"`
	StepMS int `json:"step_ms"`
	// FailAt: fail when about to run this step (1-based; 0: never), in FailMode: "retry" (an
	// ordinary error), "permanent" (straight to the dead letters) or "panic".
	FailAt   int    `json:"fail_at,omitempty"`
	FailMode string `json:"fail_mode,omitempty"`
	// FailAttempts: fail only on the first this-many attempts (0: on every attempt).
	FailAttempts int `json:"fail_attempts,omitempty"`
}

// Kind implements agents.JobArgs.
func (StepsArgs) Kind() string { return "demo.steps" }

// Validate implements agents.ArgsValidator.
func (a StepsArgs) Validate() error {
	var errs []error
	if a.Steps < 0 || a.Steps > 100000 {
		errs = append(errs, fmt.Errorf("steps must be 0…100000 (got %d)", a.Steps))
	}
	if a.StepMS < 0 || a.StepMS > 60000 {
		errs = append(errs, fmt.Errorf("step_ms must be 0…60000 (got %d)", a.StepMS))
	}
	if a.FailAt < 0 {
		errs = append(errs, fmt.Errorf("fail_at must not be negative (got %d)", a.FailAt))
	}
	switch a.FailMode {
	case "", "retry", "permanent", "panic":
	default:
		errs = append(errs, fmt.Errorf("fail_mode must be retry, permanent or panic (got %q)", a.FailMode))
	}
	if a.FailAttempts < 0 {
		errs = append(errs, fmt.Errorf("fail_attempts must not be negative (got %d)", a.FailAttempts))
	}
	return errors.Join(errs...)
}

// StepsResult is demo.steps's result: steps this attempt executed, and the step it resumed from
// (0 on a first run).
type StepsResult struct {
	Steps       int `json:"steps"`
	Executed    int `json:"executed"`
	ResumedFrom int `json:"resumed_from"`
}

type stepsState struct {
	Next int `json:"next"` // steps done so far
}

func steps(ctx context.Context, job *agents.Job[StepsArgs]) error {
	a := job.Args
	var st stepsState
	if _, err := job.Restore(&st); err != nil {
		return agents.Permanent(err)
	}
	res := StepsResult{Steps: a.Steps, ResumedFrom: st.Next}
	for st.Next < a.Steps {
		if ctx.Err() != nil {
			return context.Cause(ctx) // cancelled, or the pool stops: a next attempt resumes here
		}
		step := st.Next + 1
		if step == a.FailAt && (a.FailAttempts == 0 || job.Attempt <= a.FailAttempts) {
			err := fmt.Errorf("demo.steps: failing at step %d as asked (attempt %d)", step, job.Attempt)
			switch a.FailMode {
			case "permanent":
				return agents.Permanent(err)
			case "panic":
				panic(err.Error())
			default:
				return err
			}
		}
		if a.StepMS > 0 {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(time.Duration(a.StepMS) * time.Millisecond):
			}
		}
		st.Next = step
		res.Executed++
		job.Progress(float64(st.Next)/float64(a.Steps), fmt.Sprintf("step %d of %d", st.Next, a.Steps))
		if err := job.Checkpoint(ctx, st); err != nil {
			return err
		}
	}
	return job.SetResult(res)
}
