// Package mullet runs a mullet app wherever it finds itself: inside AWS
// Lambda it serves API Gateway events through aws-lambda-go; anywhere else
// it serves the same app locally behind an emulator of API Gateway's
// WebSocket API.
//
//	func main() { mullet.Main(app.New()) }
//
// The app itself is declared with package framework; see its documentation.
package mullet
