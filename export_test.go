package mosaic

import "context"

// AddService adds a service of the test's to the runtime, before Start.
func AddService(r *Runtime, name string, run func(context.Context) error) {
	r.services = append(r.services, service{name: name, run: run})
}
