// Command bench measures Mosaic side by side with raw JetStream and River on one PostgreSQL and
// one NATS server, on this machine, in one run, and prints a table: each figure is the median of
// -runs runs, with their range. It is a module of its own so that River never enters Mosaic's.
//
//	go run . [-tasks 100000] [-concurrency 64] [-runs 3] [-only jetstream,mosaic,river,latency,memory,knowledge,http,federation]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type config struct {
	pgstats      bool
	cleaner      bool
	workspaces   int
	tasks        int
	concurrency  int
	runs         int
	size         int
	rate         int
	latencyFor   time.Duration
	inflight     int
	executors    int
	commitBatch  int
	entries      int
	queries      int
	graphNodes   int
	httpRequests int
	httpClients  int
	httpFor      time.Duration
	fedAsks      int
	only         map[string]bool
}

// figure is one measured quantity over several runs.
type figure struct {
	name   string
	unit   string
	values []float64
	ratio  bool // print the ratio to raw JetStream
}

func (f figure) median() float64 {
	v := slices.Clone(f.values)
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func main() {
	var cfg config
	var only string
	flag.IntVar(&cfg.tasks, "tasks", 100000, "tasks (messages, jobs) per throughput run")
	flag.IntVar(&cfg.concurrency, "concurrency", 64, "concurrent handlers (consumers, River workers)")
	flag.IntVar(&cfg.runs, "runs", 3, "runs per figure (the median is printed, with the range)")
	flag.IntVar(&cfg.size, "size", 512, "message size of the raw JetStream run, bytes")
	flag.IntVar(&cfg.rate, "rate", 2000, "publish rate of the latency run, tasks/s")
	flag.DurationVar(&cfg.latencyFor, "latency-for", 10*time.Second, "duration of the latency run")
	flag.IntVar(&cfg.inflight, "inflight", 10000, "tasks in flight for the memory run")
	flag.IntVar(&cfg.executors, "commit-executors", 0, "Mosaic's concurrent group-commit transactions (0: the default)")
	flag.IntVar(&cfg.commitBatch, "commit-batch", 0, "Mosaic's writes per group-commit transaction (0: the default)")
	flag.IntVar(&cfg.entries, "entries", 10000, "knowledge entries of the search run")
	flag.IntVar(&cfg.queries, "queries", 200, "queries per search mode")
	flag.IntVar(&cfg.graphNodes, "graph-nodes", 1000, "entries of the graph run")
	flag.IntVar(&cfg.httpRequests, "http-requests", 5000, "publishes of the HTTP load run")
	flag.IntVar(&cfg.httpClients, "http-clients", 16, "concurrent HTTP clients of the load run")
	flag.DurationVar(&cfg.httpFor, "http-for", 30*time.Second, "the HTTP load run stops after this long whatever is left")
	flag.IntVar(&cfg.fedAsks, "federation-asks", 2000, "asks of the federation run, one at a time and then concurrently")
	flag.StringVar(&only, "only", "jetstream,mosaic,spread,river,latency,memory,knowledge,http,federation", "workloads to run")
	flag.IntVar(&cfg.workspaces, "workspaces", 1000, "workspaces of the spread runs (tasks round-robin over them)")
	flag.BoolVar(&cfg.pgstats, "pgstats", false, "after each Mosaic throughput run, the HTTP load run and the knowledge re-index, print where PostgreSQL's time went (statements, WAL, CPU per task, request or entry)")
	flag.BoolVar(&cfg.cleaner, "cleaner", false, "during each Mosaic throughput run, the retention cleaner deletes an earlier run's worth of succeeded tasks (seeded as finished 2 h ago)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of this process (pool, relay, embedded NATS) to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile of this process to this file at the end")
	flag.Parse()
	if *memprofile != "" {
		defer func() {
			f, err := os.Create(*memprofile)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	cfg.only = map[string]bool{}
	for _, w := range strings.Split(only, ",") {
		cfg.only[strings.TrimSpace(w)] = true
	}
	if err := run(cfg); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	e, err := setupEnv(ctx, cfg.concurrency)
	if err != nil {
		return err
	}
	defer e.close()
	say("PostgreSQL %s, NATS %s, %d runs of %d tasks, %d handlers", hostOf(e.ownerURL), e.ns.ClientURL(), cfg.runs, cfg.tasks, cfg.concurrency)

	var figures []figure
	repeat := func(name, unit string, ratio bool, fn func(i int) (float64, error)) error {
		f := figure{name: name, unit: unit, ratio: ratio}
		for i := 0; i < cfg.runs; i++ {
			v, err := fn(i)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			say("  %-48s run %d: %s", name, i+1, format(v, unit))
			f.values = append(f.values, v)
		}
		figures = append(figures, f)
		return nil
	}
	if cfg.only["jetstream"] {
		if err := repeat(fmt.Sprintf("raw JetStream pull + ack (%d B)", cfg.size), "msg/s", false,
			func(i int) (float64, error) { return rawJetStream(ctx, e, cfg, i, false) }); err != nil {
			return err
		}
		if err := repeat(fmt.Sprintf("raw JetStream pull + event + ack (%d B)", cfg.size), "msg/s", false,
			func(i int) (float64, error) { return rawJetStream(ctx, e, cfg, cfg.runs+i, true) }); err != nil {
			return err
		}
	}
	// "mosaic" and "spread" run both workloads; "mosaic.echo", "mosaic.checkpoint", "spread.echo" and
	// "spread.checkpoint" one of them.
	for _, workspaces := range []int{1, cfg.workspaces} {
		set := map[bool]string{true: "mosaic", false: "spread"}[workspaces == 1]
		for _, checkpoint := range []bool{false, true} {
			if !cfg.only[set] && !cfg.only[set+map[bool]string{true: ".checkpoint", false: ".echo"}[checkpoint]] {
				continue
			}
			name := "Mosaic demo.echo, no checkpoint"
			if checkpoint {
				name = "Mosaic, one checkpoint per task"
			}
			if workspaces > 1 {
				name += fmt.Sprintf(", %d workspaces", workspaces)
			}
			if cfg.cleaner {
				name += ", cleaner deleting"
			}
			if err := repeat(name, "tasks/s", true, func(i int) (float64, error) {
				return mosaicThroughput(ctx, e, cfg, checkpoint, workspaces)
			}); err != nil {
				return err
			}
		}
	}
	if cfg.only["river"] {
		for _, checkpoint := range []bool{false, true} {
			name := "River v0.51.2, no-op job"
			if checkpoint {
				name = "River v0.51.2, one RLS checkpoint per job"
			}
			if err := repeat(name, "jobs/s", true, func(i int) (float64, error) { return riverThroughput(ctx, e, cfg, checkpoint) }); err != nil {
				return err
			}
		}
	}
	if cfg.only["latency"] {
		// The asked rate, and a quarter of it: what one transaction per publish costs shows.
		for _, rate := range []int{cfg.rate, cfg.rate / 4} {
			p50 := figure{name: fmt.Sprintf("Mosaic publish→start p50 at %d tasks/s", rate), unit: "ms"}
			p99 := figure{name: fmt.Sprintf("Mosaic publish→start p99 at %d tasks/s", rate), unit: "ms"}
			for i := 0; i < cfg.runs; i++ {
				a, b, err := mosaicLatency(ctx, e, cfg, rate)
				if err != nil {
					return fmt.Errorf("latency: %w", err)
				}
				say("  %-48s run %d: p50 %s, p99 %s", fmt.Sprintf("latency at %d tasks/s", rate), i+1, format(a, "ms"), format(b, "ms"))
				p50.values, p99.values = append(p50.values, a), append(p99.values, b)
			}
			figures = append(figures, p50, p99)
		}
	}
	if cfg.only["memory"] {
		if err := repeat(fmt.Sprintf("worker RSS, %d tasks in flight", cfg.inflight), "MiB", false,
			func(i int) (float64, error) { return workerMemory(ctx, e, cfg) }); err != nil {
			return err
		}
	}
	if cfg.only["http"] {
		p50 := figure{name: fmt.Sprintf("HTTP publish p50, %d clients", cfg.httpClients), unit: "ms"}
		p99 := figure{name: fmt.Sprintf("HTTP publish p99, %d clients", cfg.httpClients), unit: "ms"}
		rate := figure{name: "HTTP publish rate", unit: "req/s"}
		for i := 0; i < cfg.runs; i++ {
			a, b, r, failed, err := httpPublishLoad(ctx, e, cfg)
			if err != nil {
				return fmt.Errorf("http: %w", err)
			}
			if failed > 0 {
				return fmt.Errorf("http: %d requests failed", failed)
			}
			say("  %-48s run %d: p50 %s, p99 %s, %s", "HTTP publish", i+1, format(a, "ms"), format(b, "ms"), format(r, "req/s"))
			p50.values, p99.values, rate.values = append(p50.values, a), append(p99.values, b), append(rate.values, r)
		}
		figures = append(figures, p50, p99, rate)
	}
	if cfg.only["knowledge"] {
		kf, err := knowledgeBench(ctx, e, cfg)
		if err != nil {
			return fmt.Errorf("knowledge: %w", err)
		}
		figures = append(figures, kf...)
	}
	if cfg.only["federation"] {
		ff, err := federationBench(ctx, e, cfg)
		if err != nil {
			return fmt.Errorf("federation: %w", err)
		}
		figures = append(figures, ff...)
	}
	printTable(figures, cfg, time.Since(started))
	return nil
}

func printTable(figures []figure, cfg config, took time.Duration) {
	var raw float64
	for _, f := range figures {
		if strings.HasPrefix(f.name, "raw JetStream pull + ack") { // the ceiling, not the run with an event
			raw = f.median()
		}
	}
	fmt.Printf("\nMosaic benchmark, %s, %d CPUs; %d runs each, median and range; %d tasks per throughput run, %d handlers (took %s)\n\n",
		time.Now().Format("2006-01-02"), numCPU(), cfg.runs, cfg.tasks, cfg.concurrency, took.Round(time.Second))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tmedian\trange\tvs raw JetStream\t")
	for _, f := range figures {
		lo, hi := slices.Min(f.values), slices.Max(f.values)
		ratio := ""
		if f.ratio && raw > 0 {
			ratio = fmt.Sprintf("%.2f×", f.median()/raw)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s – %s\t%s\t\n", f.name, format(f.median(), f.unit), format(lo, f.unit), format(hi, f.unit), ratio)
	}
	tw.Flush()
}

func format(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.2f ms", v)
	case "MiB":
		return fmt.Sprintf("%.0f MiB", v)
	}
	return thousands(v) + " " + unit
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
