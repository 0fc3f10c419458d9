// Package manifest defines the plain-data description of a mullet app: its
// name, route selection expression, routes with their JSON Schemas, state and
// barrier settings.
//
// A Manifest is what the three consumers of one declaration share. The
// framework produces it from an App, the local emulator reads it to behave
// like the API Gateway that infra/ will create from it, and infra/ turns it
// into CDK constructs without importing user code. It is stable,
// deterministic JSON.
package manifest
