// Command broken does not compile, for TestBuildErrors.
package main

func main() { undefinedFunction() }
