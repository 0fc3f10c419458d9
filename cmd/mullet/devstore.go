package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/mulletgo/mullet/framework/runtimeenv"
	"github.com/mulletgo/mullet/local"
	"github.com/mulletgo/mullet/local/devstore"
	"github.com/mulletgo/mullet/local/dynalite"
	"github.com/mulletgo/mullet/store"
	"github.com/mulletgo/mullet/store/memstore"
)

// storeConfig is what the flags of mullet dev say about the store.
type storeConfig struct {
	kind     string // "memory" or "dynamodb"
	endpoint string // "": start dynalite; endpointAWS: real DynamoDB; else a URL
	table    string // set for dynamodb
}

// storeBackend is the store of a mullet dev session, ready for use: the
// variables that point the app at it, and what to stop on exit.
type storeBackend struct {
	// describe is the banner's store line.
	describe string
	// instance is the store part of a Lambda instance's configuration.
	instance runtimeenv.Config
	// instanceEnv is added to every instance's environment (after
	// lambdaruntime's placeholders, which it overrides).
	instanceEnv []string
	// region is AWS_REGION of the instances; "" keeps lambdaruntime's.
	region string
	// processEnv configures the app's own process (-runtime inprocess).
	processEnv []string
	// inspect is what the dashboard reads of the store; nil when the
	// store cannot be inspected from mullet dev.
	inspect store.Inspector
	closers []func()
}

func (b *storeBackend) close() {
	for i := len(b.closers) - 1; i >= 0; i-- {
		b.closers[i]()
	}
}

// noIMDS keeps the AWS SDK in the app away from the EC2 instance metadata
// service, which a laptop does not have: local servers take placeholder
// credentials, so there is nothing to look up, and no warning to print.
const noIMDS = "AWS_EC2_METADATA_DISABLED=true"

// openStore makes the store c describes ready. inProcess: the app's own
// process holds a memory store (-runtime inprocess), so mullet dev serves
// none.
func openStore(ctx context.Context, c storeConfig, dir string, inProcess bool) (*storeBackend, error) {
	b := &storeBackend{}
	if c.kind == "memory" {
		b.processEnv = []string{runtimeenv.Store + "=memory", noIMDS}
		if inProcess {
			b.describe = "in memory, in the app's process (lost on every rebuild)"
			return b, nil
		}
		mem := memstore.New(nil)
		srv, err := devstore.Listen(mem)
		if err != nil {
			return nil, err
		}
		b.inspect = mem
		b.closers = append(b.closers, func() { srv.Close() })
		b.instance.DevStoreURL = srv.URL
		b.instanceEnv = []string{noIMDS}
		b.describe = "in memory, in mullet dev (kept across rebuilds, gone when mullet dev exits)"
		return b, nil
	}

	b.instance.Table = c.table
	endpoint := c.endpoint
	switch endpoint {
	case "":
		wd, _ := os.Getwd()
		srv, err := dynalite.Start(ctx, &dynalite.Options{Dirs: []string{dir, wd}})
		if errors.Is(err, dynalite.ErrUnavailable) {
			return nil, fmt.Errorf("-store dynamodb without -dynamodb-endpoint runs dynalite, a DynamoDB-API server on node, but %v; or pass -dynamodb-endpoint URL of a DynamoDB-API server you run", err)
		}
		if err != nil {
			return nil, fmt.Errorf("start dynalite: %w", err)
		}
		b.closers = append(b.closers, func() { srv.Close() })
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := srv.CreateTable(tctx, c.table); err != nil {
			b.close()
			return nil, fmt.Errorf("create table %s in dynalite: %w", c.table, err)
		}
		endpoint = srv.Endpoint
		b.describe = fmt.Sprintf("DynamoDB table %s in dynalite at %s (started by mullet dev, stopped on exit)", c.table, endpoint)
	case endpointAWS:
		// Real DynamoDB: the AWS configuration chain, as the AWS CLI
		// finds it. The instances get the credentials it resolves now,
		// as Lambda gives a function its role's.
		if _, err := local.DynamoDBStore(ctx, c.table, ""); err != nil {
			return nil, err
		}
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("no AWS credentials for DynamoDB: %v", firstLine(err.Error()))
		}
		b.region = cfg.Region
		b.instanceEnv = []string{"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + creds.SecretAccessKey, "AWS_SESSION_TOKEN=" + creds.SessionToken}
		b.processEnv = []string{runtimeenv.Store + "=dynamodb", runtimeenv.Table + "=" + c.table}
		b.describe = fmt.Sprintf("DynamoDB table %s in AWS (%s)", c.table, cfg.Region)
		return b, nil
	default:
		// Checked before the first build, so that a missing table or an
		// unreachable endpoint is a clear startup error.
		if _, err := local.DynamoDBStore(ctx, c.table, endpoint); err != nil {
			return nil, err
		}
		b.describe = fmt.Sprintf("DynamoDB table %s at %s", c.table, endpoint)
	}
	// The dashboard scans a local DynamoDB-API server's table (never real
	// DynamoDB's, where a scan is billed and the table may be large).
	if st, err := local.DynamoDBStore(ctx, c.table, endpoint); err == nil {
		b.inspect, _ = st.(store.Inspector)
	}
	b.instance.DynamoDBEndpoint = endpoint
	b.instanceEnv = []string{noIMDS}
	b.processEnv = []string{runtimeenv.Store + "=dynamodb", runtimeenv.Table + "=" + c.table, runtimeenv.DynamoDBEndpoint + "=" + endpoint, noIMDS}
	return b, nil
}

// pendingStore is a store being made ready in the background.
type pendingStore struct {
	done chan struct{}
	b    *storeBackend
	err  error
}

func startStore(ctx context.Context, c storeConfig, dir string, inProcess bool) *pendingStore {
	p := &pendingStore{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.b, p.err = openStore(ctx, c, dir, inProcess)
	}()
	return p
}

// wait returns the store once it is ready.
func (p *pendingStore) wait() (*storeBackend, error) {
	<-p.done
	return p.b, p.err
}

// close waits for the store and stops what it started.
func (p *pendingStore) close() {
	<-p.done
	if p.b != nil {
		p.b.close()
	}
}
