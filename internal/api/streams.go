package api

import (
	"context"
	"net/http"

	"github.com/edp-data/edp/internal/stream"
)

// Streams manages stream pipelines; the server's stream.Manager is one.
// Each call asks policy itself: admin on the target table to create,
// pause, resume or delete, read to list and see status.
type Streams interface {
	List(ctx context.Context) ([]stream.Info, error)
	Get(ctx context.Context, name string) (stream.Info, error)
	Create(ctx context.Context, spec stream.Spec) (stream.Spec, error)
	SetPaused(ctx context.Context, name string, paused bool) error
	Delete(ctx context.Context, name string) error
}

func (a *API) streams() (Streams, error) {
	if a.opts.Streams == nil {
		return nil, newError(errUnavailable, "stream pipelines are not managed by this server")
	}
	return a.opts.Streams, nil
}

func (a *API) listStreams(c *call) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	list, err := s.List(c.ctx())
	if err != nil {
		return err
	}
	if list == nil {
		list = []stream.Info{}
	}
	return c.json(http.StatusOK, map[string]any{"pipelines": list})
}

func (a *API) createStream(c *call) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	var spec stream.Spec
	if err := c.decode(&spec); err != nil {
		return err
	}
	c.detail("pipeline", spec.Name)
	c.detail("table", spec.TableName)
	created, err := s.Create(c.ctx(), spec)
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", "/api/v1/streams/"+created.Name)
	info, err := s.Get(c.ctx(), created.Name)
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, map[string]any{"pipeline": info})
}

func (a *API) getStream(c *call) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	name := c.r.PathValue("name")
	c.detail("pipeline", name)
	info, err := s.Get(c.ctx(), name)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"pipeline": info})
}

func (a *API) pauseStream(c *call) error  { return a.setStreamPaused(c, true) }
func (a *API) resumeStream(c *call) error { return a.setStreamPaused(c, false) }

func (a *API) setStreamPaused(c *call, paused bool) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	name := c.r.PathValue("name")
	c.detail("pipeline", name)
	if err := s.SetPaused(c.ctx(), name, paused); err != nil {
		return err
	}
	info, err := s.Get(c.ctx(), name)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"pipeline": info})
}

func (a *API) deleteStream(c *call) error {
	s, err := a.streams()
	if err != nil {
		return err
	}
	name := c.r.PathValue("name")
	c.detail("pipeline", name)
	if err := s.Delete(c.ctx(), name); err != nil {
		return err
	}
	return c.noContent()
}
