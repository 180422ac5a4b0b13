package agents

import "time"

// Check validates spec as Publish would (kind, args against the kind's registered type, timing,
// metadata), without publishing: for what publishes later, such as a schedule's runs.
func (c *Client) Check(spec TaskSpec) error {
	_, err := c.prepare(spec, time.Now())
	return err
}
