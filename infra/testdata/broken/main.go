// Command broken does not compile: infra's tests check that NewWebSocketApp
// reports the build error.
package main

func main() { undefinedFunction() }
