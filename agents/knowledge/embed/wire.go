package embed

import (
	"encoding/json"
	"fmt"
)

// The two wire formats, exactly as the servers speak them.
//
// Ollama:
//
//	POST /api/embed {"model": "m", "input": ["a", "b"]}
//	200 {"model": "m", "embeddings": [[…], […]], …}
//	4xx/5xx {"error": "…"}
//
// OpenAI-compatible:
//
//	POST /v1/embeddings {"model": "m", "input": ["a", "b"], "dimensions": 384, "encoding_format": "float"}
//	200 {"object": "list", "data": [{"object": "embedding", "index": 1, "embedding": […]}, …], "model": "m", "usage": {…}}
//	4xx/5xx {"error": {"message": "…", "type": "…", "code": …}}
//
// OpenAI's "data" is ordered by "index", which need not follow the input order.

type ollamaRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type ollamaResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
}

type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	Dimensions     int      `json:"dimensions"`
	EncodingFormat string   `json:"encoding_format"`
}

type openAIResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

func (e *httpEmbedder) encodeRequest(input []string) ([]byte, error) {
	if e.api == APIOpenAI {
		return json.Marshal(openAIRequest{Model: e.model, Input: input, Dimensions: e.dims, EncodingFormat: "float"})
	}
	return json.Marshal(ollamaRequest{Model: e.model, Input: input})
}

// decodeResponse returns the n vectors of a 2xx body in input order. Decoding straight into
// float32 makes a number beyond float32's range an error, and JSON has no NaN or Infinity (a
// server writing them sends invalid JSON), so every vector returned is finite.
func (e *httpEmbedder) decodeResponse(body []byte, n int) ([][]float32, error) {
	if e.api == APIOllama {
		var r ollamaResponse
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
		if len(r.Embeddings) != n {
			return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrBadResponse, len(r.Embeddings), n)
		}
		return r.Embeddings, nil
	}
	var r openAIResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrBadResponse, len(r.Data), n)
	}
	out := make([][]float32, n)
	for i, d := range r.Data {
		switch {
		case d.Index == nil:
			return nil, fmt.Errorf("%w: data[%d] has no index", ErrBadResponse, i)
		case *d.Index < 0 || *d.Index >= n:
			return nil, fmt.Errorf("%w: data[%d] has index %d, outside 0…%d", ErrBadResponse, i, *d.Index, n-1)
		case out[*d.Index] != nil:
			return nil, fmt.Errorf("%w: index %d appears twice", ErrBadResponse, *d.Index)
		case d.Embedding == nil:
			return nil, fmt.Errorf("%w: data[%d] has no embedding", ErrBadResponse, i)
		}
		out[*d.Index] = d.Embedding
	}
	return out, nil
}

// errorMessage finds the server's message in an error body, if it is one of the JSON shapes the
// servers use.
func errorMessage(body []byte) (string, bool) {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", false
	}
	if len(env.Error) > 0 {
		var s string
		if json.Unmarshal(env.Error, &s) == nil && s != "" {
			return s, true // Ollama
		}
		var o struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(env.Error, &o) == nil && o.Message != "" {
			return o.Message, true // OpenAI
		}
	}
	if env.Message != "" {
		return env.Message, true
	}
	return "", false
}
