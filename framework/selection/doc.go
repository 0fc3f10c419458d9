// Package selection evaluates API Gateway WebSocket route selection
// expressions such as "$request.body.action" or the template form
// "${request.body.service}/${request.body.action}".
//
// An Expression is parsed once and evaluated against each frame. It follows
// API Gateway's rules: a frame that is not a JSON object, or that lacks a
// referenced field, cannot be evaluated, and the caller routes it to
// "$default".
package selection
