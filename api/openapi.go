package api

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the API's description, OpenAPI 3.1, as the repository keeps it (YAML, for its
// readers and editors). The tests hold the server to it: every route, parameter and response.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPI returns the API's OpenAPI 3.1 description (api/openapi.yaml) as JSON, as GET
// /v1/openapi.json serves it: its keys in the order the file has them.
func OpenAPI() ([]byte, error) { return openAPIJSON() }

var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	var b bytes.Buffer
	if err := yamlToJSON(&b, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	return b.Bytes(), nil
})

// serveOpenAPI answers GET /v1/openapi.json, without authentication: the description holds no
// data, and a client is written from it before it has a key.
func serveOpenAPI(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(doc)
	}
}

// yamlToJSON writes a YAML node as JSON, keeping the order of mapping keys (encoding it through
// a map would sort them). Scalars take the type the YAML parser resolved for them, except
// timestamps, which stay the text they were written as.
func yamlToJSON(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("line %d: want one document", n.Line)
		}
		return yamlToJSON(b, n.Content[0])
	case yaml.AliasNode:
		return yamlToJSON(b, n.Alias)
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: a mapping key must be a plain scalar", k.Line)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			if err := jsonScalar(b, k.Value); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := yamlToJSON(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := yamlToJSON(b, c); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		if n.ShortTag() == "!!timestamp" {
			return jsonScalar(b, n.Value)
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		return jsonScalar(b, v)
	default:
		return fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	return nil
}

// jsonScalar writes v as JSON, leaving <, > and & as they are (descriptions hold them).
func jsonScalar(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // the encoder's newline
	return nil
}
