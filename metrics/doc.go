// Package metrics is Mosaic's Prometheus registry: the series a process exposes on /metrics, in
// the Prometheus text format, through github.com/prometheus/client_golang.
//
// Series (every name has the mosaic_ prefix and base units; counters end in _total):
//
//	mosaic_tasks{kind,status}                              gauge      tasks by kind and status, every workspace summed
//	mosaic_dead_letters{reason}                            gauge      dead letters not yet replayed, every workspace summed
//	mosaic_workspaces                                      gauge      workspaces
//	mosaic_handler_duration_seconds{pool,kind,outcome}     histogram  handler runs (outcome succeeded|failed)
//	mosaic_handler_runs_total{pool,kind,outcome}           counter    handler runs
//	mosaic_consumer_pending_messages{stream,consumer}      gauge      messages not yet delivered to a durable consumer
//	mosaic_consumer_ack_pending_messages{stream,consumer}  gauge      delivered, not yet acknowledged
//	mosaic_consumer_redelivered_messages{stream,consumer}  gauge      delivered more than once, not yet acknowledged
//	mosaic_consumer_waiting_pulls{stream,consumer}         gauge      pull requests waiting for messages
//	mosaic_stream_messages{stream}                         gauge      messages held by a stream
//	mosaic_transit_request_duration_seconds{op}            histogram  OpenBao Transit calls, retries included
//	mosaic_transit_errors_total{op,kind}                   counter    failed Transit calls (kind permission|client|server|unavailable)
//	mosaic_messages_naked_total{stream}                    counter    nak advisories of the work streams (retries, deferrals)
//	mosaic_federation_requests_total{direction,op,outcome} counter    federation requests served to peers or asked of them
//	mosaic_federation_request_duration_seconds{direction,op}  histogram  the same, by how long they took
//	mosaic_agents{state}                                   gauge      agents by state, from SetAgentCounter's function
//	mosaic_scrape_errors_total{source}                     counter    failed reads at scrape time (postgres, jetstream, agents)
//
// and the Go runtime (go_*) and process (process_*) collectors.
//
// Label values are bounded and never name a tenant or a task: workspaces count only in sums; a
// kind keeps its name only when Config.Kinds knows it (a kind made up by a raw message counts
// as "other") and among the MaxKinds most common; a reason keeps its name only when it looks
// like one of the engine's (lower-case letters and '_'). Everything else is "other".
//
// The PostgreSQL counts (tasks, dead letters, workspaces) are taken at scrape time by walking the
// workspaces and entering each through store.DB.InWorkspace — the tables are under FORCE
// row-level security — and kept for Config.CacheTTL (10 s), so a burst of scrapes costs one walk.
// They are the same in every process of a deployment: aggregate them with max, not sum. The
// JetStream gauges are read at scrape time within Config.JetStreamTimeout (2 s); what could not be
// read is left out of that scrape and counted in mosaic_scrape_errors_total.
package metrics
