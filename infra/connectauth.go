package infra

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/mulletgo/mullet/manifest"
)

// APIKey is one API key of an app that requires keys on $connect (the
// app's manifest declares it, with its usage plans): a tenant, in the
// rendezvous example.
type APIKey struct {
	// Name names the key (its ApiKeyName is "{app}-{Name}").
	Name string
	// Plan is the usage plan the key belongs to; the manifest declares it.
	Plan string
	// Value is the key itself (20 to 128 characters). Empty: API Gateway
	// generates one, readable with `aws apigateway get-api-key
	// --include-value`.
	Value string
}

func validateAPIKeys(m *manifest.Manifest, keys []APIKey) error {
	if len(keys) == 0 {
		return nil
	}
	if m.ConnectAuth == nil || m.ConnectAuth.APIKeys == nil {
		return fmt.Errorf("props.APIKeys is set but the app requires no API key on $connect (declare it, so that the manifest has connectAuth.apiKeys)")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if k.Name == "" || !alphanumericOrDash(k.Name) {
			return fmt.Errorf("props.APIKeys: key name %q: use letters, digits, '-' or '_'", k.Name)
		}
		if seen[k.Name] {
			return fmt.Errorf("props.APIKeys: key %q appears twice", k.Name)
		}
		seen[k.Name] = true
		if _, ok := m.ConnectAuth.APIKeys.Plan(k.Plan); !ok {
			return fmt.Errorf("props.APIKeys: key %q names usage plan %q, which the manifest does not declare", k.Name, k.Plan)
		}
		if k.Value != "" && (len(k.Value) < 20 || len(k.Value) > 128) {
			return fmt.Errorf("props.APIKeys: key %q: a value must have 20 to 128 characters (API Gateway's rule)", k.Name)
		}
	}
	return nil
}

func alphanumericOrDash(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// usagePlans adds the manifest's usage plans on this stage, and the keys
// of props, each in its plan.
func (c *webSocketApp) usagePlans(scope constructs.Construct, name string, k *manifest.APIKeys, keys []APIKey) {
	plans := map[string]awsapigatewayv2.UsagePlan{}
	for _, p := range k.Plans {
		props := &awsapigatewayv2.UsagePlanProps{
			UsagePlanName: jsii.String(name + "-" + p.Name),
			Description:   jsii.String("mullet app " + name + ": usage plan " + p.Name),
			ApiStages:     &[]*awsapigatewayv2.UsagePlanPerApiStage{{Api: c.api, Stage: c.stage}},
		}
		if t := p.Throttle; t != nil {
			props.Throttle = &awsapigatewayv2.ThrottleSettings{RateLimit: jsii.Number(t.RatePerSecond), BurstLimit: jsii.Number(float64(t.Burst))}
		}
		if q := p.Quota; q != nil {
			props.Quota = &awsapigatewayv2.QuotaSettings{Limit: jsii.Number(float64(q.Limit)), Period: awsapigatewayv2.Period(q.Period)}
		}
		plans[p.Name] = awsapigatewayv2.NewUsagePlan(scope, jsii.String("UsagePlan"+alphanumeric(p.Name)), props)
	}
	for _, key := range keys {
		props := &awsapigatewayv2.ApiKeyProps{
			ApiKeyName:  jsii.String(name + "-" + key.Name),
			Description: jsii.String("mullet app " + name + ": API key " + key.Name + " (plan " + key.Plan + ")"),
			Enabled:     jsii.Bool(true),
		}
		if key.Value != "" {
			props.Value = jsii.String(key.Value)
		}
		apiKey := awsapigatewayv2.NewApiKey(scope, jsii.String("ApiKey"+alphanumeric(key.Name)), props)
		plans[key.Plan].AddApiKey(apiKey, nil)
		c.apiKeys[key.Name] = apiKey
	}
}

func (c *webSocketApp) GrantConnect(grantee awsiam.IGrantable) awsiam.Grant {
	stack := awscdk.Stack_Of(c.Construct)
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee: grantee,
		Actions: jsii.Strings("execute-api:Invoke"),
		ResourceArns: &[]*string{stack.FormatArn(&awscdk.ArnComponents{
			Service:      jsii.String("execute-api"),
			Resource:     c.api.ApiId(),
			ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
			ResourceName: jsii.String(*c.stage.StageName() + "/" + manifest.RouteConnect),
		})},
	})
}

func (c *webSocketApp) APIKey(name string) awsapigatewayv2.ApiKey { return c.apiKeys[name] }
