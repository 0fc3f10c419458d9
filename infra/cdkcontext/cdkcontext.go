// Package cdkcontext names the CDK context that mullet's CLI passes to a
// CDK app (cdk --context KEY=VALUE) and package infra reads. It imports
// nothing of the CDK, so that the CLI can use it without linking the CDK.
package cdkcontext

import "regexp"

// Stage is the context key that names the API Gateway stage: `mullet
// deploy -stage NAME` and `mullet synth -stage NAME` pass --context
// mullet:stage=NAME (so does `cdk deploy -c mullet:stage=NAME`).
const Stage = "mullet:stage"

// validStage: a stage named in the context becomes part of a
// CloudFormation stack name, which allows letters, digits and hyphens.
var validStage = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// ValidStage reports whether name can be the Stage context: 1 to 64
// letters, digits and hyphens, starting with a letter or digit.
func ValidStage(name string) bool { return validStage.MatchString(name) }
