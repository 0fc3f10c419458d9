// Command lambdamain stands in for an app's main package in infra's tests:
// it only has to build for linux/arm64.
package main

import "fmt"

func main() { fmt.Println("mullet infra test function") }
