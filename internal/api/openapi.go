package api

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the API's OpenAPI 3.1 description. A test checks that its
// paths and operations are exactly the route table's.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON converts the embedded YAML to the JSON served at
// /api/v1/openapi.json, appending the error mapping (generated from
// errorRules, so the document cannot disagree with the code) to the
// description.
func openAPIJSON() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	info, ok := doc["info"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("openapi.yaml: no info object")
	}
	desc, _ := info["description"].(string)
	info["description"] = desc + "\n\n## Errors\n\n" + errorTable()
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return b, nil
}
