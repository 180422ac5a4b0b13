package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// rawJetStream is the ceiling: messages of cfg.size bytes, published to a file-backed work-queue
// stream, then pulled and acked by cfg.concurrency workers. Messages/s from the first pull to the
// last ack. With event, each worker also publishes an event per message, as a Mosaic task's
// success does (to a file-backed limits stream, with a Nats-Msg-Id, its acknowledgement awaited
// before the ack): what NATS alone costs per short task, without PostgreSQL or a pool.
func rawJetStream(ctx context.Context, e *env, cfg config, run int, event bool) (float64, error) {
	name := fmt.Sprintf("RAWBENCH%d", run)
	subject := fmt.Sprintf("rawbench.%d.msg", run)
	s, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage})
	if err != nil {
		return 0, err
	}
	defer e.js.DeleteStream(context.Background(), name)
	evSubject := fmt.Sprintf("rawevents.%d.task.succeeded", run)
	evPayload := make([]byte, 256) // about a task.succeeded event's JSON
	if event {
		evName := fmt.Sprintf("RAWEVENTS%d", run)
		if _, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: evName, Subjects: []string{evSubject},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage}); err != nil {
			return 0, err
		}
		defer e.js.DeleteStream(context.Background(), evName)
	}
	payload := make([]byte, cfg.size)
	for i := 0; i < cfg.tasks; i++ {
		if _, err := e.js.PublishAsync(subject, payload); err != nil {
			return 0, err
		}
		if i%4096 == 4095 {
			<-e.js.PublishAsyncComplete()
		}
	}
	<-e.js.PublishAsyncComplete()
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 100000, AckWait: time.Minute})
	if err != nil {
		return 0, err
	}
	var done, sent atomic.Int64
	target := int64(cfg.tasks)
	finished := make(chan struct{})
	var once sync.Once
	cpu := markCPU(e)
	start := time.Now()
	var wg sync.WaitGroup
	iters := make([]jetstream.MessagesContext, cfg.concurrency)
	for w := range iters {
		if iters[w], err = cons.Messages(jetstream.PullMaxMessages(64)); err != nil {
			return 0, err
		}
	}
	defer func() {
		for _, it := range iters {
			it.Stop() // wakes the workers waiting in Next
		}
		wg.Wait()
	}()
	for _, it := range iters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := it.Next()
				if err != nil {
					return
				}
				if event {
					ev := &nats.Msg{Subject: evSubject, Data: evPayload, Header: nats.Header{}}
					ev.Header.Set(nats.MsgIdHdr, strconv.FormatInt(sent.Add(1), 10))
					f, err := e.js.PublishMsgAsync(ev)
					if err != nil {
						return
					}
					select {
					case <-f.Ok():
					case <-f.Err():
						return
					}
				}
				_ = msg.Ack()
				if done.Add(1) >= target {
					once.Do(func() { close(finished) })
					return
				}
			}
		}()
	}
	select {
	case <-finished:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(2 * time.Minute):
		info, _ := s.Info(ctx)
		ci, _ := cons.Info(ctx)
		return 0, fmt.Errorf("only %d of %d messages after 2 minutes (stream %+v, consumer %+v)", done.Load(), target, info.State, ci)
	}
	took := time.Since(start).Seconds()
	cpu.report(e, cfg.tasks, "message")
	return float64(cfg.tasks) / took, nil
}
