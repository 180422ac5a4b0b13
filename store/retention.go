package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/mosaicstack/mosaic/internal/tick"
)

// Retention is how long finished work is kept before the cleaner deletes it, per class. Zero
// keeps that class for good.
type Retention struct {
	// Succeeded tasks, counted from when they finished, with their audit trail.
	Succeeded time.Duration `json:"succeeded"`
	// Cancelled tasks.
	Cancelled time.Duration `json:"cancelled"`
	// Dead tasks; one whose dead letter waits (neither replayed nor discarded) stays regardless.
	Dead time.Duration `json:"dead"`
	// DeadLetters that were replayed or discarded, counted from then. Waiting dead letters are
	// never deleted.
	DeadLetters time.Duration `json:"dead_letters"`
}

// DefaultRetention is what a workspace keeps unless the process or the workspace says otherwise:
// a day of succeeded and cancelled tasks, a week of dead tasks and of dealt-with dead letters
// (River's cleaner keeps completed jobs 24 h and discarded ones 7 days).
var DefaultRetention = Retention{Succeeded: 24 * time.Hour, Cancelled: 24 * time.Hour, Dead: 7 * 24 * time.Hour,
	DeadLetters: 7 * 24 * time.Hour}

// MaxRetention bounds every retention setting: ten years.
const MaxRetention = 10 * 365 * 24 * time.Hour

// MinRetention is the shortest retention but 0 (keep): a task's message can come back after its
// end (an acknowledgement lost, then one AckWait per redelivery), and the claim of a message whose
// task row is gone writes the row anew and runs it again; an hour leaves such a message a hundred
// and more redeliveries to be acknowledged as a duplicate first.
const MinRetention = time.Hour

// Validate checks that every class is between 0 (keep) and MaxRetention, in whole seconds.
func (r Retention) Validate() error {
	var errs []error
	for _, c := range r.classes() {
		if err := validRetention(c.name, c.keep); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func validRetention(name string, d time.Duration) error {
	if d != 0 && (d < MinRetention || d > MaxRetention || d%time.Second != 0) {
		return fmt.Errorf("retention of %s: %s is not 0 (keep) or whole seconds from %s to %s", name, d, MinRetention, MaxRetention)
	}
	return nil
}

// Retention classes: the label values of the cleaner's counts.
const (
	RetainSucceeded   = "succeeded"
	RetainCancelled   = "cancelled"
	RetainDead        = "dead"
	RetainDeadLetters = "dead_letters"
)

type retentionClass struct {
	name string
	keep time.Duration
}

// classes lists r's task classes (named as the task status they delete) and then dead letters.
func (r Retention) classes() []retentionClass {
	return []retentionClass{{RetainSucceeded, r.Succeeded}, {RetainCancelled, r.Cancelled}, {RetainDead, r.Dead},
		{RetainDeadLetters, r.DeadLetters}}
}

// RetentionOverrides are a workspace's own retention settings: nil takes the process's default.
type RetentionOverrides struct {
	Succeeded   *time.Duration `json:"succeeded,omitempty"`
	Cancelled   *time.Duration `json:"cancelled,omitempty"`
	Dead        *time.Duration `json:"dead,omitempty"`
	DeadLetters *time.Duration `json:"dead_letters,omitempty"`
}

func (o *RetentionOverrides) fields() []**time.Duration {
	return []**time.Duration{&o.Succeeded, &o.Cancelled, &o.Dead, &o.DeadLetters}
}

// Over is the retention that holds for a workspace with these overrides and the process's
// defaults def.
func (o RetentionOverrides) Over(def Retention) Retention {
	pick := func(p *time.Duration, d time.Duration) time.Duration {
		if p != nil {
			return *p
		}
		return d
	}
	return Retention{Succeeded: pick(o.Succeeded, def.Succeeded), Cancelled: pick(o.Cancelled, def.Cancelled),
		Dead: pick(o.Dead, def.Dead), DeadLetters: pick(o.DeadLetters, def.DeadLetters)}
}

// Validate checks every override that is set.
func (o RetentionOverrides) Validate() error {
	return o.Over(Retention{}).Validate()
}

// WorkspaceRetention reads a workspace's own retention settings (all nil when it has none).
func (db *DB) WorkspaceRetention(ctx context.Context, ws uuid.UUID) (RetentionOverrides, error) {
	var o RetentionOverrides
	err := db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		var err error
		o, err = readRetention(ctx, tx, ws)
		return err
	})
	return o, err
}

func readRetention(ctx context.Context, tx pgx.Tx, ws uuid.UUID) (RetentionOverrides, error) {
	var secs [4]*int64
	err := tx.QueryRow(ctx, selectRetentionSQL, ws).Scan(&secs[0], &secs[1], &secs[2], &secs[3])
	var o RetentionOverrides
	if errors.Is(err, pgx.ErrNoRows) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	for i, f := range o.fields() {
		if secs[i] != nil {
			d := time.Duration(*secs[i]) * time.Second
			*f = &d
		}
	}
	return o, nil
}

// SetWorkspaceRetention replaces a workspace's retention settings; all nil returns it to the
// process's defaults.
func (db *DB) SetWorkspaceRetention(ctx context.Context, ws uuid.UUID, o RetentionOverrides) error {
	if err := o.Validate(); err != nil {
		return err
	}
	args := []any{ws}
	set := false
	for _, f := range o.fields() {
		var secs *int64
		if *f != nil {
			s := int64(**f / time.Second)
			secs, set = &s, true
		}
		args = append(args, secs)
	}
	return db.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		if !set {
			_, err := tx.Exec(ctx, deleteRetentionSQL, ws)
			return err
		}
		_, err := tx.Exec(ctx, upsertRetentionSQL, args...)
		return err
	})
}

// CleanerConfig configures a Cleaner.
type CleanerConfig struct {
	// DB is the runtime pool. Required.
	DB *DB
	// Defaults is the retention of a workspace without settings of its own. Nil: DefaultRetention.
	Defaults *Retention
	// Interval between passes over every workspace. Default 1m.
	Interval time.Duration
	// BatchSize bounds the rows one statement deletes (one short transaction). Default 500.
	BatchSize int
	// Pause between two batches, so that the cleaner never holds PostgreSQL for long. Default 10ms.
	Pause time.Duration
	// OnDeleted, when set, sees each batch: the class and the rows it deleted (tasks and their
	// audit rows for a task class).
	OnDeleted func(class string, rows, trail int)
	// OnPass, when set, sees each pass that ran to its end (not one another process held).
	OnPass func(took time.Duration)
	// Logger receives a line per failed batch. Default: none.
	Logger *zerolog.Logger
}

func (c *CleanerConfig) setDefaults() {
	if c.Defaults == nil {
		def := DefaultRetention
		c.Defaults = &def
	}
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.Pause == 0 {
		c.Pause = 10 * time.Millisecond
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
}

// Validate names each field that is wrong.
func (c *CleanerConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("CleanerConfig.DB is required"))
	}
	if c.Defaults != nil {
		if err := c.Defaults.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("CleanerConfig.Defaults: %w", err))
		}
	}
	if c.Interval < 0 {
		errs = append(errs, errors.New("CleanerConfig.Interval is negative"))
	}
	if c.BatchSize < 0 || c.BatchSize > 10_000 {
		errs = append(errs, fmt.Errorf("CleanerConfig.BatchSize: %d; want 1…10000", c.BatchSize))
	}
	if c.Pause < 0 {
		errs = append(errs, errors.New("CleanerConfig.Pause is negative"))
	}
	return errors.Join(errs...)
}

// Cleaner deletes finished tasks, their audit trail and dealt-with dead letters once their
// workspace's retention has passed (and the agents' per-minute figures after an hour), in small batches (one short transaction each, rows another
// transaction holds skipped), through each workspace's own door. Of several processes, one
// cleans at a time (a PostgreSQL advisory lock); the others find it held and wait for their
// next pass.
type Cleaner struct {
	cfg CleanerConfig
}

// NewCleaner validates cfg and returns a cleaner; Run starts it.
func NewCleaner(cfg CleanerConfig) (*Cleaner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Cleaner{cfg: cfg}, nil
}

// cleanerLock is the advisory lock key a cleaning pass holds ("mosaicCL").
const cleanerLock int64 = 0x6d6f73616963434c

// Run cleans at once and then every Interval until ctx ends, and returns nil then.
func (c *Cleaner) Run(ctx context.Context) error {
	tick.Every(ctx, c.cfg.Interval, c.Pass, func(err error) {
		c.cfg.Logger.Warn().Err(err).Msg("retention: the cleaning pass stopped; it runs again at the next interval")
	})
	return nil
}

// Pass runs one pass over every workspace, unless another process's pass holds the lock (then it
// returns nil at once).
func (c *Cleaner) Pass(ctx context.Context) error {
	conn, err := c.cfg.DB.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, cleanerLock).Scan(&mine); err != nil {
		return err
	}
	if !mine {
		return nil
	}
	defer func() {
		// A connection whose unlock failed is closed, which releases the lock with the session.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, cleanerLock); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	start := time.Now()
	// The agents' per-minute figures (not tenant data) are kept an hour whatever the retention.
	if err := c.cfg.DB.ForgetOldMinutes(ctx); err != nil {
		return err
	}
	wss, err := c.cfg.DB.WorkspaceIDs(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		if err := c.cleanWorkspace(ctx, ws); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.cfg.Logger.Warn().Err(err).Str("workspace_id", ws.String()).Msg("retention: cannot clean the workspace; next pass")
		}
	}
	if c.cfg.OnPass != nil {
		c.cfg.OnPass(time.Since(start))
	}
	return nil
}

// cleanWorkspace deletes what ws's retention no longer keeps, class by class, a batch at a time.
func (c *Cleaner) cleanWorkspace(ctx context.Context, ws uuid.UUID) error {
	o, err := c.cfg.DB.WorkspaceRetention(ctx, ws)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, class := range o.Over(*c.cfg.Defaults).classes() {
		if class.keep == 0 {
			continue
		}
		cutoff := now.Add(-class.keep)
		for {
			rows, trail, err := c.deleteBatch(ctx, ws, class.name, cutoff)
			if err != nil {
				return fmt.Errorf("%s: %w", class.name, err)
			}
			if rows > 0 && c.cfg.OnDeleted != nil {
				c.cfg.OnDeleted(class.name, rows, trail)
			}
			if rows < c.cfg.BatchSize {
				break
			}
			if err := sleepCtx(ctx, c.cfg.Pause); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cleaner) deleteBatch(ctx context.Context, ws uuid.UUID, class string, cutoff time.Time) (rows, trail int, err error) {
	err = c.cfg.DB.InWorkspace(ctx, ws, func(tx pgx.Tx) error {
		if class == RetainDeadLetters {
			tag, err := tx.Exec(ctx, deleteResolvedDeadLettersSQL, ws, cutoff, c.cfg.BatchSize)
			rows = int(tag.RowsAffected())
			return err
		}
		return tx.QueryRow(ctx, deleteFinishedTasksSQL, ws, class, cutoff, c.cfg.BatchSize).Scan(&rows, &trail)
	})
	return rows, trail, err
}

// sleepCtx waits d, or until ctx ends (its error then).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
