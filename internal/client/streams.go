package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/edp-data/edp/internal/stream"
)

// ListStreams lists the stream pipelines the caller may read.
func (c *Client) ListStreams(ctx context.Context) ([]stream.Info, error) {
	var out struct {
		Pipelines []stream.Info `json:"pipelines"`
	}
	err := c.call(ctx, http.MethodGet, "/api/v1/streams", nil, nil, &out)
	return out.Pipelines, err
}

// GetStream returns a pipeline with its status in the server.
func (c *Client) GetStream(ctx context.Context, name string) (stream.Info, error) {
	var out struct {
		Pipeline stream.Info `json:"pipeline"`
	}
	err := c.call(ctx, http.MethodGet, "/api/v1/streams/"+url.PathEscape(name), nil, nil, &out)
	return out.Pipeline, err
}

// CreateStream creates a pipeline.
func (c *Client) CreateStream(ctx context.Context, spec stream.Spec) (stream.Spec, error) {
	var out struct {
		Pipeline stream.Info `json:"pipeline"`
	}
	err := c.call(ctx, http.MethodPost, "/api/v1/streams", nil, spec, &out)
	return out.Pipeline.Spec, err
}

// SetStreamPaused pauses or resumes a pipeline.
func (c *Client) SetStreamPaused(ctx context.Context, name string, paused bool) error {
	op := "/resume"
	if paused {
		op = "/pause"
	}
	return c.call(ctx, http.MethodPost, "/api/v1/streams/"+url.PathEscape(name)+op, nil, nil, nil)
}

// DeleteStream deletes a pipeline.
func (c *Client) DeleteStream(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodDelete, "/api/v1/streams/"+url.PathEscape(name), nil, nil, nil)
}
