package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/google/uuid"

	"github.com/mosaicstack/mosaic/api/client"
	"github.com/mosaicstack/mosaic/mosaictype"
)

// A program that publishes a task over HTTP and waits for its result: it builds with the client
// and mosaictype alone.
func Example() {
	ctx := context.Background()
	c, err := client.New("http://127.0.0.1:8080", os.Getenv("MOSAIC_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}
	ws := uuid.MustParse(os.Getenv("MOSAIC_WORKSPACE")) // the API key's workspace
	res, err := c.Publish(ctx, ws, mosaictype.PublishRequest{Kind: "demo.echo", Args: json.RawMessage(`{"message":"hi"}`)})
	if err != nil {
		log.Fatal(err)
	}
	task, err := c.WaitTask(ctx, ws, res.ID)
	switch {
	case mosaictype.IsCode(err, mosaictype.CodeNotFound):
		log.Fatal("deleted before it ended")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Println(task.Status, string(task.Result))
}
