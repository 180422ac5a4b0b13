// Package periodic runs schedules: each publishes an ordinary task of its kind at the due times
// of a cron expression (in a time zone) or an interval, with an overlap policy (publish while the
// previous run's task is still going, or skip) and a policy for runs missed while nothing fired
// them (one task for them all, or none).
//
// Every worker process runs a Scheduler. A due run is fired in one transaction of its workspace
// that locks the schedule's row (SKIP LOCKED), publishes the task (its row and outbox message,
// agents.Client.PublishTx), records the run and moves the schedule on: a due time gives exactly
// one task, or one recorded skip, whatever the number of processes, restarts or NATS leader
// changes. A run's task carries the schedule in its metadata (MetadataSchedule, …).
package periodic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/internal/clip"
	"github.com/mosaicstack/mosaic/internal/tick"
	"github.com/mosaicstack/mosaic/store"
)

// Metadata keys of a run's task.
const (
	MetadataSchedule     = "schedule"      // the schedule's name
	MetadataScheduleID   = "schedule_id"   // its id
	MetadataScheduledFor = "scheduled_for" // the due time of the run (RFC 3339, UTC)
)

// Reasons a due run published no task (store.ScheduleRun.Skipped; a refused publish gives its
// error instead).
const (
	SkippedOverlap = "overlap" // the previous run's task had not ended (overlap "skip")
	SkippedMissed  = "missed"  // later than store.MissedAfter (missed "skip")
)

// TimingOf is the timing of a stored schedule.
func TimingOf(s store.Schedule) (Timing, error) {
	return ParseTiming(s.Cron, s.TimeZone, s.Every)
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// DB is the runtime pool. Required.
	DB *store.DB
	// Client publishes the runs' tasks. Required.
	Client *agents.Client
	// Interval between two looks for due schedules. Default 1s: a run starts within about that
	// much of its due time.
	Interval time.Duration
	// Logger receives a line per refused run and per failed look. Default: none.
	Logger *zerolog.Logger
}

// Validate names each field that is wrong.
func (c *SchedulerConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("SchedulerConfig.DB is required"))
	}
	if c.Client == nil {
		errs = append(errs, errors.New("SchedulerConfig.Client is required"))
	}
	if c.Interval < 0 {
		errs = append(errs, errors.New("SchedulerConfig.Interval is negative"))
	}
	return errors.Join(errs...)
}

func (c *SchedulerConfig) setDefaults() {
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
}

// Scheduler fires due schedules.
type Scheduler struct {
	cfg SchedulerConfig
}

// NewScheduler validates cfg and returns a scheduler; Run starts it.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Scheduler{cfg: cfg}, nil
}

// dueBatch bounds the schedules one look fires.
const dueBatch = 200

// Run fires due schedules every Interval until ctx ends, and returns nil then.
func (s *Scheduler) Run(ctx context.Context) error {
	tick.Every(ctx, s.cfg.Interval, func(ctx context.Context) error { _, err := s.Tick(ctx); return err }, func(err error) {
		s.cfg.Logger.Warn().Err(err).Msg("schedules: cannot fire due schedules; next look")
	})
	return nil
}

// Tick fires the schedules due now and returns how many this process fired.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	wss, err := s.cfg.DB.WorkspaceIDs(ctx)
	if err != nil {
		return 0, err
	}
	now := time.Now()
	due, err := s.cfg.DB.DueSchedules(ctx, wss, now, dueBatch)
	if err != nil {
		return 0, err
	}
	fired := 0
	var errs []error
	for _, key := range due {
		ok, err := s.cfg.DB.FireSchedule(ctx, key, time.Now(), func(tx pgx.Tx, sch store.Schedule) (store.Firing, error) {
			return s.decide(ctx, tx, sch, time.Now())
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s of workspace %s: %w", key.ID, key.WorkspaceID, err))
			continue
		}
		if ok {
			fired++
		}
	}
	return fired, errors.Join(errs...)
}

// decide is a due schedule's firing: the latest due time that has passed runs (one task for
// every due time since the last firing), unless it is late and missed runs are skipped, or the
// previous task still runs and overlaps are skipped.
func (s *Scheduler) decide(ctx context.Context, tx pgx.Tx, sch store.Schedule, now time.Time) (store.Firing, error) {
	log := s.cfg.Logger.With().Str("workspace_id", sch.WorkspaceID.String()).Str("schedule", sch.Name).Logger()
	tm, err := TimingOf(sch)
	if err != nil {
		// Checked when the schedule was made; a time zone the binary no longer knows could do it.
		log.Warn().Err(err).Msg("schedules: the timing is no longer valid; paused for an hour")
		return store.Firing{Runs: []store.FiredRun{{DueAt: sch.NextRunAt, Skipped: "timing: " + err.Error()}},
			Next: now.Add(time.Hour)}, nil
	}
	latest, n := tm.Latest(sch.NextRunAt, now)
	f := store.Firing{Next: tm.Next(latest, latest)}
	if f.Next.IsZero() { // a cron expression with no due time left
		f.Next = now.Add(MaxEvery)
	}
	run := store.FiredRun{DueAt: latest}
	switch {
	case now.Sub(latest) > store.MissedAfter && sch.Missed == store.MissedSkip:
		run.Skipped = SkippedMissed
	case sch.Overlap == store.OverlapSkip && running(sch.LastTaskStatus):
		run.Skipped = SkippedOverlap
	default:
		p, err := s.cfg.Client.PublishTx(ctx, tx, agents.TaskSpec{
			WorkspaceID: sch.WorkspaceID, Kind: sch.Kind, Priority: sch.Priority, Args: sch.Args,
			Credentials: sch.Credentials, PublishedBy: sch.PublishedBy,
			Metadata: map[string]string{MetadataSchedule: sch.Name, MetadataScheduleID: sch.ID.String(),
				MetadataScheduledFor: latest.UTC().Format(time.RFC3339)},
		})
		switch {
		case errors.Is(err, agents.ErrInvalidSpec) || errors.Is(err, agents.ErrInvalidArgs) || errors.Is(err, agents.ErrUnknownKind):
			// The kind's args changed since the schedule was made: a run that records why.
			log.Warn().Err(err).Msg("schedules: the run's task was refused")
			run.Skipped = clip.Mark(err.Error(), 1000)
		case err != nil:
			return f, err
		default:
			run.TaskID = p.ID
		}
	}
	f.Runs = []store.FiredRun{run}
	if n > 1 {
		log.Info().Int64("due_times", n).Str("policy", sch.Missed).Msg("schedules: runs were missed")
	}
	return f, nil
}

// running says whether a task of this status has yet to end.
func running(status store.Status) bool {
	switch status {
	case store.StatusQueued, store.StatusScheduled, store.StatusRunning, store.StatusRetrying:
		return true
	}
	return false
}
