package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// rawJetStream is the ceiling: messages of cfg.size bytes, published to a file-backed work-queue
// stream, then pulled and acked by cfg.concurrency workers. Messages/s from the first pull to the
// last ack.
func rawJetStream(ctx context.Context, e *env, cfg config, run int) (float64, error) {
	name := fmt.Sprintf("RAWBENCH%d", run)
	subject := fmt.Sprintf("rawbench.%d.msg", run)
	s, err := e.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject},
		Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage})
	if err != nil {
		return 0, err
	}
	defer e.js.DeleteStream(context.Background(), name)
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
	var done atomic.Int64
	target := int64(cfg.tasks)
	finished := make(chan struct{})
	var once sync.Once
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
	return float64(cfg.tasks) / time.Since(start).Seconds(), nil
}
