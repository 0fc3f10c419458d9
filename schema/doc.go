// Package schema provides JSON Schema in the dialect of AWS API Gateway models
// (draft-04), so that the cloud and the laptop check the same thing: the JSON
// returned by [Schema.JSON] becomes an API Gateway model, and the same schema
// validates websocket frames in the local emulator and in the framework.
//
// A [Schema] comes from a literal document ([Parse], [MustParse]) or is derived
// from a Go type ([For], [MustFor], [Reflect]). A literal document is checked
// against the draft-04 metaschema. Validation covers every draft-04 keyword
// (type, enum, format, properties, required, additionalProperties,
// patternProperties, dependencies, items as a schema or an array,
// additionalItems, minItems, maxItems, uniqueItems, minLength, maxLength,
// pattern, minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf,
// minProperties, maxProperties, allOf, anyOf, oneOf, not, and $ref to any
// JSON pointer inside the document) and compares numbers exactly whatever
// their size (1e400 or 123456789012345678901234567890 work, and a huge
// exponent cannot make it do big-number arithmetic). Schemas that use only
// the common subset (the first line of keywords above, without
// patternProperties and dependencies, plus the string, array and number
// bounds) validate without allocating. The format keyword checks date-time,
// email, hostname, ipv4, ipv6 and uri (the formats draft-04 defines), and
// date, time, ip-address, uri-reference, regex and uuid; other formats are
// ignored, as draft-04 says. Failures and their messages are those of the
// reference implementation, github.com/santhosh-tekuri/jsonschema/v5 in
// draft-04 mode, which the tests use as an oracle.
//
// # One validator in every build
//
// The package has no build tags: the AWS Lambda build (-tags lambda.norpc, as
// infra/ builds the bootstrap) validates exactly as the local emulator and
// tests do, and links no JSON Schema library (whose package initialization
// alone compiles every draft's metaschema, 2.3 ms of each cold start). The
// draft-04 metaschema is compiled on first use, by the first literal schema.
//
// # Errors
//
// A document that does not satisfy a schema yields a *[ValidationError] naming the
// JSON pointer of the failing value, the failed keyword and a message; when
// several constraints fail it describes the deepest one, and its Violations
// list every failure, each with its JSON pointer. Collecting them costs only
// documents that fail: a valid document is checked by a pass that stops at the
// first failure and allocates nothing. Malformed JSON passed to
// [Schema.ValidateJSON] yields a *[SyntaxError]. [Parse] returns
// *[InvalidSchemaError] and [For] and [Reflect] return *[DeriveError]. Use
// errors.As to inspect them.
//
// # Deriving schemas from Go types
//
// Types map to schemas as follows; pointers stand for the type they point to.
//
//   - string: {"type":"string"}; bool: {"type":"boolean"}
//   - int, int8 ... int64: {"type":"integer"}; uint ... uint64, uintptr:
//     {"type":"integer","minimum":0}; float32, float64: {"type":"number"}
//   - []byte: {"type":"string"} (encoding/json writes base64)
//   - other slices and arrays: {"type":"array","items":...}
//   - maps with string or integer keys: {"type":"object","additionalProperties":...}
//   - structs: {"type":"object","properties":...,"required":[...]}, plus
//     "additionalProperties":false unless Options.AllowAdditionalProperties
//   - time.Time: {"type":"string","format":"date-time"}; json.Number: {"type":"number"}
//   - json.RawMessage, interfaces and other types implementing json.Marshaler: {}
//   - other types implementing encoding.TextMarshaler: {"type":"string"}
//   - fields with the json ",string" option: {"type":"string"}
//
// Channels, functions, complex numbers and recursive types are rejected.
//
// Struct fields are found as encoding/json finds them: the json tag names the
// property ("-" skips the field), unexported fields are skipped, and embedded
// structs are flattened with encoding/json's rules for conflicting names. The
// "required" list follows field order. A field is required unless it has the
// omitempty or omitzero option, is a pointer, is promoted through an embedded
// pointer, or its schema tag says "optional"; the schema tag "required" makes any
// field required. Note that encoding/json writes nil slices, maps and pointers
// without omitempty as null, which the derived schema does not admit.
//
// The schema struct tag adds keywords to a field's schema. Items are separated by
// commas:
//
//	Name  string   `json:"name" schema:"minLength=1,maxLength=64,pattern=^[a-z][a-z0-9-]*$"`
//	Kind  string   `json:"kind" schema:"enum=user|admin,description=Role, as shown in the UI"`
//	Count uint     `json:"count,omitempty" schema:"maximum=10,exclusiveMaximum"`
//	Tags  []string `json:"tags" schema:"maxItems=5,uniqueItems,maxLength=32"`
//
// The items are:
//
//   - minLength=N, maxLength=N, pattern=RE, format=NAME: strings
//   - minimum=X, maximum=X, exclusiveMinimum, exclusiveMaximum: integers and
//     numbers (exclusive* take an optional =true or =false and need the matching
//     bound; draft-04 booleans)
//   - enum=a|b|c: strings, integers, numbers ("1|2|3") and booleans; values
//     cannot contain "|" or ","
//   - minItems=N, maxItems=N, uniqueItems: arrays
//   - description=TEXT: any field
//   - optional, required: see above
//
// pattern= and description= take the rest of the tag verbatim, commas included,
// so each must be the last item, and a tag can hold only one of them. On an array
// field, string and number items apply to the array's elements. An unknown
// keyword, a repeated keyword, a bad value or a keyword that does not apply to the
// field's type is a *DeriveError naming the field and the keyword.
//
// Derived schemas are deterministic: the same type and options always give the
// same canonical JSON.
package schema
