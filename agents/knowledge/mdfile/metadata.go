package mdfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// maxMetadataNodes bounds the values one file's metadata may expand to (anchors and aliases can
// repeat a value many times over).
const maxMetadataNodes = 10000

// metadataJSON turns front matter pairs into one JSON object, keys in the order given: strings,
// dates and anything YAML tags otherwise become JSON strings; integers and floats numbers (an
// integer or float JSON cannot hold, such as .inf, a string); booleans and null themselves.
func metadataJSON(pairs []pair) (json.RawMessage, error) {
	var b bytes.Buffer
	budget := maxMetadataNodes
	b.WriteByte('{')
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, p.key)
		b.WriteByte(':')
		if err := nodeJSON(&b, p.v, &budget); err != nil {
			return nil, fmt.Errorf("%s: %w", p.key, err)
		}
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes()), nil
}

func nodeJSON(b *bytes.Buffer, n *yaml.Node, budget *int) error {
	if *budget--; *budget < 0 {
		return fmt.Errorf("more than %d values (anchors and aliases included)", maxMetadataNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return errors.New("an alias to nothing")
		}
		return nodeJSON(b, n.Alias, budget)
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveAlias(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a key that is not a plain value", k.Line+1)
			}
			if seen[k.Value] {
				return fmt.Errorf("line %d: key %q given twice", k.Line+1, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k.Value)
			b.WriteByte(':')
			if err := nodeJSON(b, n.Content[i+1], budget); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, it := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := nodeJSON(b, it, budget); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
			return nil
		case "!!bool":
			var v bool
			if n.Decode(&v) == nil {
				b.WriteString(strconv.FormatBool(v))
				return nil
			}
		case "!!int":
			var v int64
			if n.Decode(&v) == nil {
				b.WriteString(strconv.FormatInt(v, 10))
				return nil
			}
		case "!!float":
			var v float64
			if n.Decode(&v) == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				return nil
			}
		}
		writeJSONString(b, n.Value)
	default:
		return fmt.Errorf("line %d: an unexpected YAML node", n.Line+1)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// metadataNodes turns a JSON object back into YAML key and value nodes, in its order; strings
// stay strings (quoted where YAML would read them otherwise).
func metadataNodes(m json.RawMessage) ([]*yaml.Node, error) {
	if len(bytes.TrimSpace(m)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(m))
	dec.UseNumber()
	n, err := jsonNode(dec)
	if err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("metadata is not a JSON object")
	}
	return n.Content, nil
}

func jsonNode(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if t == '{' {
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, strNode(k.(string)))
			}
			v, err := jsonNode(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return strNode(t), nil
	case json.Number:
		if _, err := t.Int64(); err == nil {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: t.String()}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: t.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func strNode(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
