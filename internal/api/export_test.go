package api

import "net/http"

// Test hooks for the black-box tests in package api_test.

// Classify maps err as every response does: status, code and message.
func Classify(err error) (int, string, string) {
	c := classify(err, "req-1")
	return c.status, c.body.Code, c.body.Message
}

// UserFault is userFault: whose fault an error of a user's statement is.
var UserFault = userFault

// Negotiate is the result format negotiation of the SQL routes.
func Negotiate(accept string) (string, error) {
	mt, _, err := negotiate(accept)
	return mt, err
}

// PanicHandler serves GET /panic through the same endpoint wrapper and
// middleware as every route, with a handler that panics.
func (a *API) PanicHandler() http.Handler {
	rt := &route{method: "GET", pattern: "/panic", op: "panic_test", handle: func(*call) error { panic("boom") }}
	mux := http.NewServeMux()
	mux.Handle("GET /panic", a.endpoint(rt))
	return requestID(a.recoverPanics(a.accessLog(mux)))
}
