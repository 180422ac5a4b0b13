package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// NoopArgs is River's no-op job.
type NoopArgs struct{}

// Kind implements river.JobArgs.
func (NoopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[NoopArgs]
	done *atomic.Int64
}

func (w noopWorker) Work(context.Context, *river.Job[NoopArgs]) error { w.done.Add(1); return nil }

// RiverCheckpointArgs is River's job that writes one checkpoint under RLS, as Mosaic does.
type RiverCheckpointArgs struct {
	Workspace uuid.UUID `json:"workspace"`
}

// Kind implements river.JobArgs.
func (RiverCheckpointArgs) Kind() string { return "checkpoint" }

type checkpointWorker struct {
	done *atomic.Int64
	river.WorkerDefaults[RiverCheckpointArgs]
	pool *pgxpool.Pool
}

// Work writes the checkpoint the way Mosaic's door does: runtime role and workspace setting,
// transaction-local, then an upsert into a FORCE RLS table.
func (w checkpointWorker) Work(ctx context.Context, job *river.Job[RiverCheckpointArgs]) error {
	defer w.done.Add(1)
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('role', 'mosaic_app', true), set_config('mosaic.workspace_id', $1, true)`,
			job.Args.Workspace.String()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO bench_checkpoints (workspace_id, job_id, state, seq) VALUES ($1, $2, $3, 1)
			ON CONFLICT (workspace_id, job_id) DO UPDATE SET state = EXCLUDED.state, seq = bench_checkpoints.seq + 1`,
			job.Args.Workspace, job.ID, `{"done":1}`)
		return err
	})
}

var riverReady bool

func prepareRiver(ctx context.Context, e *env, pool *pgxpool.Pool) error {
	if riverReady {
		return nil
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `
		CREATE TABLE IF NOT EXISTS bench_checkpoints (
			workspace_id uuid NOT NULL, job_id bigint NOT NULL, state jsonb NOT NULL, seq int NOT NULL,
			PRIMARY KEY (workspace_id, job_id));
		ALTER TABLE bench_checkpoints ENABLE ROW LEVEL SECURITY;
		ALTER TABLE bench_checkpoints FORCE ROW LEVEL SECURITY;
		DROP POLICY IF EXISTS ws ON bench_checkpoints;
		CREATE POLICY ws ON bench_checkpoints
			USING (workspace_id = NULLIF(current_setting('mosaic.workspace_id', true), '')::uuid)
			WITH CHECK (workspace_id = NULLIF(current_setting('mosaic.workspace_id', true), '')::uuid);
		GRANT USAGE ON SCHEMA public TO mosaic_app;
		GRANT SELECT, INSERT, UPDATE ON bench_checkpoints TO mosaic_app;`)
	riverReady = err == nil
	return err
}

// riverThroughput inserts cfg.tasks jobs, then works them with cfg.concurrency workers (fetch
// cool-down 1 ms: River's default 100 ms caps it near 1 000 jobs/s): jobs/s from the client's
// start to the last completion.
func riverThroughput(ctx context.Context, e *env, cfg config, checkpoint bool) (float64, error) {
	pcfg, err := pgxpool.ParseConfig(e.riverURL)
	if err != nil {
		return 0, err
	}
	pcfg.MaxConns = int32(cfg.concurrency + 8)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	if err := prepareRiver(ctx, e, pool); err != nil {
		return 0, err
	}
	if _, err := pool.Exec(ctx, `TRUNCATE river_job; TRUNCATE bench_checkpoints`); err != nil {
		return 0, err
	}
	e.vacuum(ctx, e.riverURL)
	workers := river.NewWorkers()
	var done atomic.Int64
	river.AddWorker(workers, noopWorker{done: &done})
	river.AddWorker(workers, checkpointWorker{pool: pool, done: &done})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.concurrency}},
		Workers:           workers,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return 0, err
	}
	ws := uuid.New()
	params := make([]river.InsertManyParams, 0, 10000)
	for i := 0; i < cfg.tasks; i++ {
		var args river.JobArgs = NoopArgs{}
		if checkpoint {
			args = RiverCheckpointArgs{Workspace: ws}
		}
		params = append(params, river.InsertManyParams{Args: args})
		if len(params) == cap(params) || i == cfg.tasks-1 {
			if _, err := client.InsertManyFast(ctx, params); err != nil {
				return 0, err
			}
			params = params[:0]
		}
	}
	cpu := markCPU(e)
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		return 0, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	}()
	err = waitDone(start, cfg.tasks, &done, func() (int, error) {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&n)
		return n, err
	})
	if err != nil {
		return 0, fmt.Errorf("River: %w", err)
	}
	took := time.Since(start).Seconds()
	cpu.report(e, cfg.tasks, "job")
	return float64(cfg.tasks) / took, nil
}
