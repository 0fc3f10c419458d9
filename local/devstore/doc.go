// Package devstore shares one store.Store between processes over HTTP:
// how the Lambda instances that mullet dev runs reach the in-memory store
// that mullet dev itself holds, so that connections' state, groups and
// barriers outlive every instance and every rebuild of the app.
//
// Handler serves a store on a small JSON protocol (one POST per Store
// method under /v1/, errors as a code that maps back to the store's
// sentinels); Listen serves it on a loopback port behind a random path, and
// Client is the store.Store that calls it:
//
//	srv, err := devstore.Listen(memstore.New(nil))
//	...
//	st := devstore.New(srv.URL, nil) // in another process: the URL from MULLET_DEV_STORE_URL
//
// It is dev-time code, like the rest of package local: the AWS Lambda build
// of an app (-tags lambda.norpc) never links it. Every Client passes the
// conformance suite (mullettest/storetest) against a served memstore.
package devstore
