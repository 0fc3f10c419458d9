// Package local serves a mullet app on a laptop: the app's declaration
// behind the API Gateway emulator (package local/emulator), with an
// in-memory store by default, a callback client pointed at the emulator's
// own @connections endpoint, and the emulator's stand-in for EventBridge
// Scheduler. It is dev-time code: a Lambda build of an app (-tags
// lambda.norpc) never links it.
//
// Serve runs an app bound in this process; ServeManifest serves the API a
// manifest declares with the app running elsewhere, such as Lambda
// instances of package local/lambdaruntime; Run is what mullet.Main calls
// outside Lambda, configured by the environment (package
// framework/runtimeenv).
package local
