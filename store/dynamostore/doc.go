// Package dynamostore is a store.Store on Amazon DynamoDB (or any server
// that speaks its API, such as dynalite for tests), built on aws-sdk-go-v2.
//
// Build the client once at cold start and hand it to New:
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	s := dynamostore.New(dynamodb.NewFromConfig(cfg), os.Getenv("TABLE"), nil)
//	if err := s.CheckTable(ctx); err != nil { ... }
//
// # Table layout
//
// Everything lives in ONE table with string keys pk (partition) and sk
// (sort) and a numeric attribute ttl, the table's TTL attribute, holding
// the item's expiry in Unix epoch seconds:
//
//	item                pk                 sk            other attributes
//	connection          conn#<id>          conn          connectedAt (N, Unix ms), sourceIp (S),
//	                                                     userAgent (S), ttl (N), ver (N),
//	                                                     auth (M of S: the authorizer context,
//	                                                     absent without one),
//	                                                     state (B, absent until saved non-empty),
//	                                                     groups (SS: groups joined, for cleanup)
//	group membership    group#<name>       conn#<id>     ttl (N, the connection's)
//	barrier             barrier#<key>      barrier       size (N), n (N: arrivals held),
//	                                                     exp (N: when it stops waiting, Unix ms),
//	                                                     ttl (N: exp + store.ExpiredBarrierRetention),
//	                                                     a_<connectionId> (M: {p: payload (B),
//	                                                     t: arrival time (N, Unix ms)}), one per
//	                                                     arrival; o (L of S: connection IDs
//	                                                     in the order their writes applied)
//	session             session#<id>       session       sh (B: SHA-256 of the resume secret), conn (S),
//	                                                     auth (M), grp (M: group -> {e, o, p, ev}),
//	                                                     state (B), ver (N), ttl (N)
//	stream message      stream#<name>      m#<offset>    ep (S: epoch), d (B), at (N, Unix ms), aid (S: its Append's ID), ttl (N);
//	                                       (20 digits)   a session's own stream is stream#$session#<id>
//	presence            presence#<group>   s#<session>   conn (S), d (B), ev (BOOL), ttl (N)
//
// store.Continuity takes no transaction either: a resume is one UpdateItem
// conditioned on the secret's hash (ReturnValues ALL_OLD); a stream's next
// offset is taken by the message's own PutItem, conditioned on
// attribute_not_exists, after one Query for the newest message (Limit 1,
// newest first), so offsets are dense and a dead publisher leaves no gap;
// each presence leave is one conditional DeleteItem.
//
// Arrivals are top-level attributes rather than entries of one map so that
// the first arrival is the same single UpdateItem as every later one: an
// update of a nested path fails when its parent map does not exist yet. The
// same UpdateItem appends the connection ID to the list o
// (list_append(if_not_exists(o, []), [id])), so the list holds the arrivals
// in the order their writes were applied, and the last entry of a complete
// barrier names the arrival whose write completed it, even when read back
// later by a caller whose write timed out. Evict reads the item (one
// consistent GetItem) to find the arrival's place in o, then removes both
// in one UpdateItem conditioned on that place; evictions only happen when a
// participant is found gone. In
// an arrival's attribute name the characters '%', '[' and ']' of the
// connection ID are percent-encoded (API Gateway's IDs contain none).
//
// # Expiry
//
// DynamoDB deletes expired items lazily, up to days later, and DynamoDB-API
// test servers never do, so the store treats an item whose ttl is at or
// before the current time (Options.Now) as absent: in every read and in
// every condition. ttl has one-second resolution: an item's Expires is
// rounded up to the next whole second. A connection with a zero Expires has
// no ttl and never expires. The store never calls UpdateTimeToLive; the
// table's TTL setting only reclaims space.
//
// A barrier expires at exp (millisecond resolution), which every barrier
// condition checks instead of ttl; its ttl is later, so that the timeout
// that calls ExpireBarrier at exp still finds the item. ExpireBarrier is one
// DeleteItem conditioned on exp and on n < size, with ReturnValues ALL_OLD;
// an Arrive that finds the barrier expired deletes it the same way (on exp
// alone) and reports the arrivals of an incomplete one in Barrier.Expired.
//
// # Requests
//
// Every write that the contract makes conditional is one conditional write;
// no transactions are used. Barrier.Arrive is one UpdateItem with
// ReturnValues ALL_NEW, so the two arrivals that complete a pair cost two
// UpdateItem requests and no reads. Only a refused arrival (duplicate,
// full or expired barrier) costs more: on DynamoDB the refusal carries the
// item (ReturnValuesOnConditionCheckFailure ALL_OLD); servers that ignore
// that parameter (DynamoDB Local before 2.2.0; dynalite 4.0.0 unless
// package local/dynalite starts it) cost one consistent GetItem more. A
// refusal because the barrier is full returns the barrier with
// store.ErrBarrierFull from that same item, so an arrival at a released
// pair costs one request. RestartBarrier is one PutItem of the new
// generation conditioned on exp (the generation the refusal returned) and
// n >= size. Reads are strongly consistent.
//
// # Errors and retries
//
// The store sets its own retryer on each call, overriding the client's:
// throttling (ProvisionedThroughputExceededException, ThrottlingException,
// RequestLimitExceeded and the SDK's other throttle codes), 5xx responses
// and connection errors are retried up to Options.MaxAttempts times with
// exponential backoff and full jitter and without the SDK's retry token
// bucket (ratelimit.None), so a burst of throttled requests is never
// refused locally. A call still throttled after that fails with an error
// matching store.ErrThrottled. A canceled or expired context stops at once.
// Items over DynamoDB's 400 KB limit give store.ErrTooLarge.
//
// RequestCounter counts requests per operation through the SDK's middleware
// stack, for tests and benchmarks.
package dynamostore
