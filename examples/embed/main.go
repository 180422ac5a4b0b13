// Command embed is a Go program that runs Mosaic workers of its own: a pool for its kind,
// embed.greet, in a mosaic.Runtime (which also runs the outbox relay, the supervisor and the other
// services every Mosaic process runs). It publishes one task of its kind, prints its id, and runs
// until SIGINT or SIGTERM, then drains.
//
// Against `mosaic dev` (whose own pool takes every kind of TASKS: start it with --workers 0, or
// with --kinds, for this pool to take embed.greet beside it):
//
//	export MOSAIC_DATABASE_URL=$(jq -r .database_url .mosaic/dev.json)
//	eval "$(bin/mosaic nats credentials --system --output json | jq -r '"export MOSAIC_NATS_URL=\(.url) MOSAIC_NATS_USER=\(.user) MOSAIC_NATS_PASSWORD=\(.password)"')"
//	MOSAIC_WORKSPACE=$WS go run ./examples/embed
//	bin/mosaic tasks get <the id it printed>     # succeeded, result {"greeting":"Hello, Mosaic"}
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mosaicstack/mosaic"
	"github.com/mosaicstack/mosaic/agents"
	"github.com/mosaicstack/mosaic/events"
	"github.com/mosaicstack/mosaic/store"
)

// GreetArgs are an embed.greet task's arguments.
type GreetArgs struct {
	Name string `json:"name"`
}

// Kind names the task on the wire.
func (GreetArgs) Kind() string { return "embed.greet" }

// greet is embed.greet's handler: its result is the greeting.
func greet(ctx context.Context, job *agents.Job[GreetArgs]) error {
	return job.SetResult(map[string]string{"greeting": "Hello, " + job.Args.Name})
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, nc, js, ws := connect(ctx)

	reg := agents.NewRegistry()
	agents.AddWorker(reg, agents.WorkFunc[GreetArgs](greet))
	rt, err := mosaic.New(mosaic.Config{DB: db, NC: nc, JS: js, Registry: reg,
		Pools: []agents.PoolConfig{{Name: "embed", Kinds: []string{GreetArgs{}.Kind()}, Concurrency: 4}}})
	check(err)
	check(rt.Start(ctx))
	task, err := rt.Client().Publish(ctx, agents.TaskSpec{WorkspaceID: ws, Kind: GreetArgs{}.Kind(), Args: GreetArgs{Name: "Mosaic"}})
	check(err)
	fmt.Println("published", task.ID)
	<-ctx.Done()
	check(rt.Stop(context.Background())) // running tasks finish first
}

// connect opens PostgreSQL and NATS from the MOSAIC_* variables and reads the workspace to
// publish in.
func connect(ctx context.Context) (*store.DB, *nats.Conn, jetstream.JetStream, uuid.UUID) {
	ws, err := uuid.Parse(os.Getenv("MOSAIC_WORKSPACE"))
	check(err)
	db, err := store.Open(ctx, store.Config{URL: os.Getenv("MOSAIC_DATABASE_URL")})
	check(err)
	nc, js, err := events.Connect(ctx, events.ConnConfig{URL: os.Getenv("MOSAIC_NATS_URL"), User: os.Getenv("MOSAIC_NATS_USER"),
		Password: os.Getenv("MOSAIC_NATS_PASSWORD"), Name: "embed"})
	check(err)
	return db, nc, js, ws
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}
