package mosaictype

import (
	"time"
)

// ConsumerReport answers GET /v1/consumers (admin token): every consumer of every stream of the
// topology, what it holds, how fast it settles, and the dead letters of its messages.
type ConsumerReport struct {
	At time.Time `json:"at"`
	// SampleInterval is how often the server samples ack floors for the rates (a Go duration).
	SampleInterval string         `json:"sample_interval"`
	Streams        []StreamReport `json:"streams"`
	// DeadLetters counts the dead letters not yet replayed, by reason, over every workspace;
	// null when the database could not be read (see Warnings).
	DeadLetters map[string]int `json:"dead_letters"`
	// Warnings say what could not be read; the rest of the report stands.
	Warnings []string `json:"warnings,omitempty"`
}

// StreamReport is one stream and its consumers.
type StreamReport struct {
	Stream   string `json:"stream"`
	Messages uint64 `json:"messages"`
	// Error says why the stream could not be read (then it has no consumers here).
	Error     string          `json:"error,omitempty"`
	Consumers []ConsumerState `json:"consumers"`
	// Total sums the consumers; its DeadLetters also counts the unattributed ones.
	Total ConsumerTotals `json:"total"`
	// UnattributedDeadLetters are dead letters of this stream's subjects that no consumer's
	// filter matches now (their pool is gone, or its kinds changed), by reason.
	UnattributedDeadLetters map[string]int `json:"unattributed_dead_letters,omitempty"`
}

// ConsumerState is one consumer as JetStream reports it, with the pool and band it stands for,
// its rate and its dead letters.
type ConsumerState struct {
	Stream string `json:"stream"`
	Name   string `json:"name"`
	// Pool is the pool the consumer serves (agents.ParseConsumerName); "" for a consumer that
	// no pool named.
	Pool string `json:"pool"`
	// Band is "p1" … "p10" on TASKS, "" elsewhere; Priority its number (0 when no band).
	Band           string   `json:"band,omitempty"`
	Priority       int      `json:"priority,omitempty"`
	FilterSubjects []string `json:"filter_subjects"`
	// Pending: messages matching the filter not yet delivered (num_pending).
	Pending uint64 `json:"pending"`
	// AckPending: delivered, not yet acknowledged (running, or waiting for a retry delay).
	AckPending int `json:"ack_pending"`
	// Redelivered: unacknowledged messages delivered more than once.
	Redelivered int `json:"redelivered"`
	// Waiting: pull requests waiting on the server (an idle pool leaves one per band).
	Waiting int `json:"waiting"`
	// OldestUnackedAt is when the oldest unacknowledged message entered the stream, and
	// OldestUnackedSeconds its age by the server's clock; null when nothing is unacknowledged
	// (or the message could not be read). JetStream's consumer info has no such field: it is
	// the first message after the ack floor that matches the consumer's filter and has been
	// delivered, read from the stream. On work-queue streams that message is unacknowledged
	// (acknowledged ones are removed); on EVENTS (limits) it may have been acknowledged out of
	// order, so the age is an upper bound there.
	OldestUnackedAt      *time.Time `json:"oldest_unacked_at"`
	OldestUnackedSeconds *float64   `json:"oldest_unacked_seconds"`
	Paused               bool       `json:"paused"`
	PausedUntil          *time.Time `json:"paused_until,omitempty"`
	// RatePerSecond is messages settled per second over the last minute: the growth of the ack
	// floor's consumer sequence between the oldest and newest of the server's samples. null until
	// two samples exist.
	RatePerSecond *float64 `json:"rate_per_second"`
	// DeadLetters counts the dead letters (not yet replayed) whose message subject this
	// consumer's filter matches; null when the database could not be read.
	DeadLetters         *int           `json:"dead_letters"`
	DeadLettersByReason map[string]int `json:"dead_letters_by_reason,omitempty"`
}

// ConsumerTotals sums a stream's consumers. OldestUnackedSeconds is the largest; RatePerSecond
// sums the known rates (null when none is known).
type ConsumerTotals struct {
	Pending              uint64   `json:"pending"`
	AckPending           int      `json:"ack_pending"`
	Redelivered          int      `json:"redelivered"`
	Waiting              int      `json:"waiting"`
	OldestUnackedSeconds *float64 `json:"oldest_unacked_seconds"`
	RatePerSecond        *float64 `json:"rate_per_second"`
	DeadLetters          *int     `json:"dead_letters"`
}
