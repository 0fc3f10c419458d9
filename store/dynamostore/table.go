package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CheckTable makes sure the table exists with the store's key schema. Its
// errors say what to do: a missing table names the table, the endpoint and
// how to create it; an unreachable endpoint names the endpoint.
func (s *Store) CheckTable(ctx context.Context) error {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, s.callOpts...)
	switch {
	case err == nil:
	case isTableMissing(err):
		return fmt.Errorf("dynamostore: DynamoDB table %q does not exist at %s; create it with pk (S) / sk (S) keys and TTL attribute ttl, or pass -table", s.table, s.endpoint())
	case isUnreachable(err):
		return fmt.Errorf("dynamostore: cannot reach DynamoDB at %s: %w; start the server (locally: npx dynalite --port 4567) or fix -dynamodb-endpoint", s.endpoint(), err)
	default:
		return s.fail("CheckTable", err)
	}
	hash, rng := keyAttrs(out.Table)
	if hash != attrPK+" (S)" || rng != attrSK+" (S)" {
		return fmt.Errorf("dynamostore: DynamoDB table %q at %s has partition key %s and sort key %s; the store needs pk (S) and sk (S)", s.table, s.endpoint(), hash, rng)
	}
	return nil
}

// keyAttrs describes a table's partition and sort keys as "name (type)".
func keyAttrs(t *types.TableDescription) (hash, rng string) {
	hash, rng = "none", "none"
	if t == nil {
		return hash, rng
	}
	attrTypes := make(map[string]types.ScalarAttributeType)
	for _, d := range t.AttributeDefinitions {
		if d.AttributeName != nil {
			attrTypes[*d.AttributeName] = d.AttributeType
		}
	}
	for _, k := range t.KeySchema {
		if k.AttributeName == nil {
			continue
		}
		desc := fmt.Sprintf("%s (%s)", *k.AttributeName, attrTypes[*k.AttributeName])
		switch k.KeyType {
		case "HASH":
			hash = desc
		case "RANGE":
			rng = desc
		}
	}
	return hash, rng
}

// TableCreator is the client call CreateTable needs beyond API.
// *dynamodb.Client satisfies it.
type TableCreator interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

// CreateTable creates the store's table (pay per request, pk/sk string
// keys) if it does not exist and waits until it is ACTIVE. It is for
// development and tests; it does not enable TTL, which needs
// UpdateTimeToLive (infrastructure sets it in AWS). The client given to New
// must also be a TableCreator.
func (s *Store) CreateTable(ctx context.Context) error {
	c, ok := s.client.(TableCreator)
	if !ok {
		return fmt.Errorf("dynamostore: CreateTable: the client (%T) has no CreateTable method", s.client)
	}
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &s.table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: new(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: new(attrSK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: new(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: new(attrSK), KeyType: types.KeyTypeRange},
		},
	}, s.callOpts...)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		if isUnreachable(err) {
			return fmt.Errorf("dynamostore: CreateTable %q: cannot reach DynamoDB at %s: %w", s.table, s.endpoint(), err)
		}
		return s.fail("CreateTable "+s.table, err)
	}
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, s.callOpts...)
		if err != nil && !isTableMissing(err) {
			return s.fail("CreateTable "+s.table, err)
		}
		if err == nil && out.Table != nil && out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamostore: CreateTable %q: waiting for ACTIVE: %w", s.table, ctx.Err())
		case <-time.After(wait):
		}
	}
}
