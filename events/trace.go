package events

import "strings"

// MetadataTraceParent is the task metadata key that keeps a task's W3C trace context, so that
// retries, requeues and replays continue the trace the publisher started. On the wire the context
// travels in the message's traceparent header (HeaderTraceParent), as OpenTelemetry's NATS
// propagation carries it.
const MetadataTraceParent = "traceparent"

// ValidTraceParent reports whether s is a W3C traceparent of version 00:
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", ids not all zero.
func ValidTraceParent(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) != 4 || parts[0] != "00" || len(parts[1]) != 32 || len(parts[2]) != 16 || len(parts[3]) != 2 {
		return false
	}
	for _, p := range parts {
		for _, c := range p {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return strings.Trim(parts[1], "0") != "" && strings.Trim(parts[2], "0") != ""
}

// TraceID is the trace id of a valid traceparent ("" otherwise).
func TraceID(traceparent string) string {
	if !ValidTraceParent(traceparent) {
		return ""
	}
	return traceparent[3:35]
}
