package stream

// WithHook returns deps whose pipelines call fn at each named point.
func WithHook(d Deps, fn func(point string) error) Deps {
	d.hook = fn
	return d
}

// OffsetsProperty exposes the snapshot-summary key for tests.
var OffsetsProperty = offsetsProperty

// IngesterWithHook makes an ingester whose commits call fn at each point.
func IngesterWithHook(d Deps, fn func(point string) error) *Ingester {
	d.hook = fn
	return NewIngester(d)
}
