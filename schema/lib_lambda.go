//go:build lambda.norpc

package schema

// In a build for AWS Lambda (-tags lambda.norpc, as infra/ builds the
// bootstrap) the jsonschema library is left out: its package initialization
// compiles every draft's metaschema, 2.3 ms of each cold start. There API
// Gateway has already checked every frame against the route's model (the same
// JSON, checked against the metaschema when the model was deployed), and the
// fast validator, which covers every schema derived from a Go type, checks it
// again. What the library would add is lost in this build only: literal
// schemas are not checked against the metaschema, draft-04 formats are not
// checked, and keywords outside the fast validator's set are left to API
// Gateway.
type libSchema = struct{}

func compileLib(raw []byte) (libSchema, error) { return libSchema{}, nil }

func (s *Schema) libValidate(doc any) error { return nil }

func formatChecker(name string) func(any) bool { return nil }
