package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/edp-data/edp/internal/api"
)

// spec fetches the served OpenAPI document and builds its model, failing
// on any build error.
func spec(t *testing.T, e *env) *v3.Document {
	t.Helper()
	r := e.get(e.admin, "/api/v1/openapi.json")
	if r.status != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json = %d %s", r.status, r.body)
	}
	doc, err := libopenapi.NewDocument(r.body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("OpenAPI model: %v", err)
	}
	if m.Model.Version != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", m.Model.Version)
	}
	return &m.Model
}

// TestOpenAPIMatchesRoutes checks the document against the route table,
// both ways: the same (method, path) pairs, operationId = the route's
// operation id (its audit action), 401 documented wherever credentials are
// needed, and every 4xx/5xx answered with ErrorBody.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	doc := spec(t, e)
	routes := map[string]api.Route{}
	for _, rt := range e.api.Routes() {
		routes[rt.Method+" "+rt.Pattern] = rt
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			rt, ok := routes[key]
			if !ok {
				t.Errorf("OpenAPI documents %s, which the route table lacks", key)
				continue
			}
			if op.OperationId != rt.Operation {
				t.Errorf("%s: operationId %q, want the route's %q", key, op.OperationId, rt.Operation)
			}
			if rt.Auth == (op.Security != nil && len(op.Security) == 0) {
				t.Errorf("%s: security override %v disagrees with route auth=%v", key, op.Security, rt.Auth)
			}
			codes := map[string]*v3.Response{}
			for code, resp := range op.Responses.Codes.FromOldest() {
				codes[code] = resp
			}
			if _, ok := codes["401"]; rt.Auth && !ok {
				t.Errorf("%s: needs credentials but does not document 401", key)
			}
			for code, resp := range codes {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response code %q", key, code)
					continue
				}
				if n < 400 {
					continue
				}
				mt := resp.Content.GetOrZero("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.GetReference() != "#/components/schemas/ErrorBody" {
					t.Errorf("%s: %s response does not use the ErrorBody schema", key, code)
				}
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", key)
		}
	}
	for _, code := range []string{api.CodeInvalidArgument, api.CodeUnauthenticated, api.CodePermissionDenied, api.CodeNotFound,
		api.CodeMethodNotAllowed, api.CodeNotAcceptable, api.CodeAlreadyExists, api.CodeConflict, api.CodePayloadTooLarge,
		api.CodeUnsupportedMediaType, api.CodeCancelled, api.CodeTimeout, api.CodeUnavailable, api.CodeInternal} {
		if !strings.Contains(doc.Info.Description, "`"+code+"`") {
			t.Errorf("the description's error table lacks %s", code)
		}
	}
	eb := doc.Components.Schemas.GetOrZero("ErrorBody").Schema()
	var enum []string
	for _, n := range eb.Properties.GetOrZero("code").Schema().Enum {
		enum = append(enum, n.Value)
	}
	sort.Strings(enum)
	if got := strings.Join(enum, ","); !strings.Contains(got, api.CodeNotAcceptable) || len(enum) != 14 {
		t.Errorf("ErrorBody code enum = %s, want the 14 codes", got)
	}
}

// TestResponsesMatchSchemas replays the admin's call of every route and
// checks each JSON body against the schema the document gives for its
// status: types, required properties, closed objects, enums.
func TestResponsesMatchSchemas(t *testing.T) {
	e := newEnv(t)
	fx := seed(e)
	doc := spec(t, e)
	validated := 0
	for _, s := range adminSteps(e, fx) {
		rt := routeOf(t, e, s.op)
		if rt.Auth {
			s.req.token = e.admin
		}
		r := e.do(s.req)
		if r.status != s.status {
			t.Fatalf("%s = %d %s, want %d", s.op, r.status, r.body, s.status)
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || s.op == "openapi" {
			continue
		}
		item := doc.Paths.PathItems.GetOrZero(rt.Pattern)
		if item == nil {
			t.Errorf("%s: path %s is not documented", s.op, rt.Pattern)
			continue
		}
		op := item.GetOperations().GetOrZero(strings.ToLower(rt.Method))
		if op == nil {
			t.Errorf("%s: %s %s is not documented", s.op, rt.Method, rt.Pattern)
			continue
		}
		validated++
		resp := op.Responses.Codes.GetOrZero(strconv.Itoa(r.status))
		if resp == nil {
			t.Errorf("%s: status %d is not documented", s.op, r.status)
			continue
		}
		mt := resp.Content.GetOrZero("application/json")
		if mt == nil {
			t.Errorf("%s: %d has no application/json content", s.op, r.status)
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", s.op, err)
		}
		if err := validate(mt.Schema.Schema(), v, "$"); err != nil {
			t.Errorf("%s: response does not match its schema: %v\n%s", s.op, err, r.body)
		}
	}
	if validated < 25 {
		t.Errorf("validated %d responses, want every JSON one (≥ 25)", validated)
	}
}

// validate is a small JSON Schema check, enough for the API's own
// documents: type, const, enum, required, properties with
// additionalProperties false, items, oneOf.
func validate(s *base.Schema, v any, at string) error {
	if s == nil {
		return nil
	}
	if len(s.OneOf) > 0 {
		for _, p := range s.OneOf {
			if validate(p.Schema(), v, at) == nil {
				return nil
			}
		}
		return fmt.Errorf("%s: %v matches no oneOf alternative", at, v)
	}
	if len(s.Type) > 0 {
		ok := false
		for _, ty := range s.Type {
			ok = ok || typeOK(ty, v)
		}
		if !ok {
			return fmt.Errorf("%s: %T %v is not %v", at, v, v, s.Type)
		}
	}
	if s.Const != nil && fmt.Sprint(v) != s.Const.Value {
		return fmt.Errorf("%s: %v, want const %s", at, v, s.Const.Value)
	}
	if len(s.Enum) > 0 {
		ok := false
		for _, n := range s.Enum {
			ok = ok || fmt.Sprint(v) == n.Value
		}
		if !ok {
			return fmt.Errorf("%s: %v is not in the enum", at, v)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range s.Required {
			if _, ok := x[k]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, k)
			}
		}
		for k, val := range x {
			var p *base.SchemaProxy
			if s.Properties != nil {
				p = s.Properties.GetOrZero(k)
			}
			if p == nil {
				if ap := s.AdditionalProperties; ap != nil {
					if ap.IsB() && !ap.B {
						return fmt.Errorf("%s: property %q is not in the schema", at, k)
					}
					if ap.IsA() {
						p = ap.A
					}
				}
			}
			if p == nil {
				continue
			}
			if err := validate(p.Schema(), val, at+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if s.Items != nil && s.Items.IsA() {
			for i, val := range x {
				if err := validate(s.Items.A.Schema(), val, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func typeOK(ty string, v any) bool {
	switch x := v.(type) {
	case nil:
		return ty == "null"
	case bool:
		return ty == "boolean"
	case string:
		return ty == "string"
	case json.Number:
		if ty == "number" {
			return true
		}
		_, err := x.Int64()
		return ty == "integer" && err == nil
	case []any:
		return ty == "array"
	case map[string]any:
		return ty == "object"
	}
	return false
}
