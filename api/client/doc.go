// Package client is a Go client of Mosaic's HTTP API: publish and follow tasks, handle dead
// letters, credentials, schedules, knowledge entries and peers, and read what the operators read,
// from a program that talks to a Mosaic server over HTTP only.
//
// What it sends and returns are the API's own types, from package mosaictype; it imports nothing
// else of Mosaic, so a program that uses it builds without PostgreSQL's, NATS's or the worker
// runtime's packages (TestClientDependencies holds it to that). An answer that is not a success
// is returned as a *mosaictype.Error with the API's code (mosaictype.IsCode):
//
//	c, err := client.New("http://127.0.0.1:8080", os.Getenv("MOSAIC_API_KEY"))
//	…
//	res, err := c.Publish(ctx, ws, mosaictype.PublishRequest{Kind: "demo.echo", Args: args})
//	task, err := c.WaitTask(ctx, ws, res.ID)
//	if mosaictype.IsCode(err, mosaictype.CodeNotFound) { … }
//
// The API is described by api/openapi.yaml, served at /v1/openapi.json; api's tests check each
// method's types against the operations it calls (TestOpenAPIClientTypes).
package client
