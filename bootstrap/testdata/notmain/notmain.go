// Package notmain is not a main package, for TestBuildErrors.
package notmain
