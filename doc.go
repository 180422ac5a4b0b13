// Package mosaic puts Mosaic together in a process: a Runtime owns the publishing client, the
// worker pools, the process's record in the agent registry and the services every process runs
// (the outbox relay, the supervisor, the advisory watcher, the credential scheduler, the schedules
// of periodic tasks, the retention cleaner), behind one Start, Stop and StopAndCancel, as River's
// Client owns its producers and maintenance services. `mosaic dev` and `mosaic worker` are a
// Runtime with flags around it; a Go program embeds a worker pool of its own kinds the same way:
//
//	reg := agents.NewRegistry()
//	agents.AddWorker(reg, agents.WorkFunc[GreetArgs](greet))
//	rt, err := mosaic.New(mosaic.Config{DB: db, NC: nc, JS: js, Registry: reg,
//		Pools: []agents.PoolConfig{{Concurrency: 4}}})
//	if err != nil { … }
//	if err := rt.Start(ctx); err != nil { … }
//	rt.Client().Publish(ctx, agents.TaskSpec{WorkspaceID: ws, Kind: "greet", Args: GreetArgs{Name: "Ada"}})
//	<-ctx.Done()                // SIGTERM, or select on rt.Failed() too
//	err = rt.Stop(drainCtx)     // running tasks get until drainCtx ends
//
// db is a store.DB on a migrated database, nc and js a NATS connection whose server has the
// stream topology (events.ApplyTopology); examples/embed is the whole program.
//
// Start starts all or nothing. A service that stops on its own while the runtime runs closes
// Failed and is returned by Err and Stop: the runtime does not stop itself, the process decides.
//
// It is the module's root package, as River's client is its module's: import
// "github.com/mosaicstack/mosaic" reads mosaic.New. It sits above agents, events and store; only
// cmd/mosaic and embedding programs import it.
package mosaic
