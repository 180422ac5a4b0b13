package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgProfile is what PostgreSQL did during one workload: the statements (pg_stat_statements), the
// WAL written (pg_stat_wal) and the CPU its processes used (/proc), so that a figure comes with
// where its time went. It needs the bench's own cluster (pg_stat_statements preloaded); with
// MOSAIC_DATABASE_URL it reports nothing.
type pgProfile struct {
	e        *env
	cpuStart float64
	walStart int64
}

const profileTop = 8

// startProfile resets the statement and WAL statistics of the Mosaic database.
func startProfile(ctx context.Context, e *env) *pgProfile {
	if e.pg == nil || !e.statements {
		return nil
	}
	p := &pgProfile{e: e}
	conn, err := pgx.Connect(ctx, e.pg.SuperuserURL("mosaic_bench"))
	if err != nil {
		return nil
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return nil
	}
	if err := conn.QueryRow(ctx, "SELECT wal_bytes::bigint FROM pg_stat_wal").Scan(&p.walStart); err != nil {
		return nil
	}
	p.cpuStart = treeCPU(e.pg.Pid())
	return p
}

// report prints, per task, the statements that took most of PostgreSQL's time, the WAL bytes and
// PostgreSQL's CPU.
func (p *pgProfile) report(ctx context.Context, tasks int, wall float64) {
	if p == nil || tasks == 0 {
		return
	}
	cpu := treeCPU(p.e.pg.Pid()) - p.cpuStart
	conn, err := pgx.Connect(ctx, p.e.pg.SuperuserURL("mosaic_bench"))
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	var wal int64
	_ = conn.QueryRow(ctx, "SELECT wal_bytes::bigint FROM pg_stat_wal").Scan(&wal)
	rows, err := conn.Query(ctx, `SELECT calls, total_exec_time + total_plan_time, total_plan_time, shared_blks_hit + shared_blks_read, rows, wal_bytes::bigint,
			regexp_replace(left(query, 400), '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'mosaic_bench')
		ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`, profileTop)
	if err != nil {
		return
	}
	defer rows.Close()
	n := float64(tasks)
	say("    PostgreSQL per task: %.0f µs CPU (%.0f%% of one core over the run), %.0f B of WAL", cpu/n*1e6, cpu/wall*100, float64(wal-p.walStart)/n)
	say("    %8s %9s %9s %9s %8s %9s  statement", "calls/t", "mean µs", "plan µs", "blks/call", "rows/t", "WAL B/t")
	for rows.Next() {
		var calls, rws, walb int64
		var total, planning, blks float64
		var q string
		if err := rows.Scan(&calls, &total, &planning, &blks, &rws, &walb, &q); err != nil {
			return
		}
		c := float64(max(calls, 1))
		say("    %8.3f %9.1f %9.1f %9.1f %8.2f %9.0f  %s", float64(calls)/n, total*1000/c, planning*1000/c, blks/c, float64(rws)/n, float64(walb)/n, shorten(q, 70))
	}
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// treeCPU is the user+system CPU, in seconds, of a process and its children (the postmaster and
// its backends), from /proc.
func treeCPU(root int) float64 {
	if root == 0 {
		return 0
	}
	children := map[int][]int{}
	stats := map[int][]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+2:])
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
		stats[pid] = fields
	}
	const hz = 100.0 // USER_HZ on Linux
	var total float64
	var walk func(int)
	walk = func(pid int) {
		if f, ok := stats[pid]; ok && len(f) > 12 {
			ut, _ := strconv.ParseFloat(f[11], 64)
			st, _ := strconv.ParseFloat(f[12], 64)
			total += (ut + st) / hz
		}
		for _, c := range children[pid] {
			walk(c)
		}
	}
	walk(root)
	return total
}

var _ = fmt.Sprintf
