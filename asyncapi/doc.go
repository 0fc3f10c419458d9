// Package asyncapi describes a mullet app's WebSocket contract for its
// clients, generated from its manifest: an AsyncAPI 3.0 document
// (Document) and TypeScript types of every frame (TypeScript).
//
// The document has one channel, the WebSocket endpoint, with the
// WebSockets binding (the $connect query parameters and headers: session
// parameters, authorizer identity sources, the API key header), the
// $connect authorization as security schemes (a Lambda authorizer, IAM,
// API keys), and operations from the application's point of view: for
// every route, a receive operation for the client's frames with a reply
// (the declared reply type and the error frame), a send operation for
// every declared group push, and the control frames of the continuity
// protocol (docs/protocol.md) when the app uses sessions or groups.
//
// Route schemas are API Gateway's draft-04 JSON Schemas; AsyncAPI 3.0's
// default schema format is a superset of JSON Schema draft-07, so payloads
// are converted: boolean exclusiveMinimum/exclusiveMaximum become numbers,
// "id" becomes "$id", "$schema" is dropped and local references are
// re-rooted where the schema lands in the document.
//
// The package is a development tool: `mullet asyncapi` and `mullet dev`
// use it, and no Lambda build links it.
package asyncapi
