# Reliability targets; the whole suite is ./scripts/test (see README.md).
# docs/reliability.md describes what each target checks.

# FUZZTIME is how long each fuzz target runs; FUZZMINIMIZETIME bounds the
# minimization of each new interesting input.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 10s

# Every fuzz target, as package:FuzzName. `go test ./...` runs each on its
# seed corpus (the f.Add seeds and testdata/fuzz/FuzzName/).
FUZZ_TARGETS := \
	./framework/selection:FuzzParse \
	./framework/selection:FuzzSelectBody \
	./schema:FuzzValidateJSON \
	./schema:FuzzParse \
	./schema:FuzzDecode \
	./schema:FuzzFastMatchesLibrary \
	./local/emulator:FuzzFrames \
	./framework:FuzzLambdaEvent \
	./manifest:FuzzDecode

.PHONY: test fuzz soak

test:
	./scripts/test

# Runs each fuzz target for FUZZTIME, one after the other (Go fuzzes one
# target per command). New failing inputs land in the package's
# testdata/fuzz/FuzzName/ and fail `go test` until fixed.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		go test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg; \
	done

# The full soak: 1,000,000 messages over 1,000 connections through the
# emulator, with RSS, heap and goroutine figures in the log.
soak:
	MULLET_SOAK=1 go test -count=1 -run='^TestSoak$$' -timeout=30m -v ./mullettest/
