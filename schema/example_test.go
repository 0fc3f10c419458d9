package schema_test

import (
	"errors"
	"fmt"

	"github.com/mulletgo/mullet/schema"
)

type PairRequest struct {
	PairingName string `json:"pairing_name" schema:"minLength=1,maxLength=64,pattern=^[a-z][a-z0-9-]*$"`
	Role        string `json:"role,omitempty" schema:"enum=guest|host"`
}

func ExampleFor() {
	s, err := schema.For[PairRequest](&schema.Options{Title: "PairRequest"})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(s.JSON()))
	// Output:
	// {"$schema":"http://json-schema.org/draft-04/schema#","additionalProperties":false,"properties":{"pairing_name":{"maxLength":64,"minLength":1,"pattern":"^[a-z][a-z0-9-]*$","type":"string"},"role":{"enum":["guest","host"],"type":"string"}},"required":["pairing_name"],"title":"PairRequest","type":"object"}
}

func ExampleSchema_ValidateJSON() {
	s := schema.MustFor[PairRequest](nil)

	err := s.ValidateJSON([]byte(`{"pairing_name":"Kitchen Display"}`))
	fmt.Println(err)

	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		fmt.Printf("path=%s keyword=%s\n", ve.Path, ve.Keyword)
	}

	fmt.Println(s.ValidateJSON([]byte(`{"pairing_name":"kitchen","extra":true}`)))
	fmt.Println(s.ValidateJSON([]byte(`{"pairing_name":`)))
	fmt.Println(s.ValidateJSON([]byte(`{"pairing_name":"kitchen"}`)))
	// Output:
	// schema: /pairing_name: pattern: does not match pattern '^[a-z][a-z0-9-]*$'
	// path=/pairing_name keyword=pattern
	// schema: (root): additionalProperties: property "extra" is not allowed
	// schema: invalid JSON at offset 16: unexpected end of JSON input
	// <nil>
}

func ExampleParse() {
	s, err := schema.Parse([]byte(`{"type":"object","properties":{"n":{"type":"integer","maximum":10}}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.ValidateJSON([]byte(`{"n":1e400}`)))
	_, err = schema.Parse([]byte(`{"type":"strng"}`))
	fmt.Println(err)
	// Output:
	// schema: /n: maximum: must be <= 10 but found 1e400
	// schema: invalid schema: /type: value must be one of "array", "boolean", "integer", "null", "number", "object", "string"
}

func ExampleValidationError_violations() {
	s := schema.MustFor[PairRequest](nil)
	err := s.ValidateJSON([]byte(`{"pairing_name":"Kitchen Display","role":"owner","extra":true}`))
	var ve *schema.ValidationError
	if errors.As(err, &ve) {
		for _, v := range ve.Violations {
			fmt.Println(v)
		}
	}
	// Output:
	// (root): additionalProperties: property "extra" is not allowed
	// /pairing_name: pattern: does not match pattern '^[a-z][a-z0-9-]*$'
	// /role: enum: value must be one of "guest", "host"
}
