package emulator

import (
	"sync"
	"time"
)

// workerIdle is how long an idle invocation worker waits for more work
// before it exits.
const workerIdle = time.Second

// pool runs invocations on reusable goroutines. API Gateway invokes the
// integration concurrently, so every invocation gets a goroutine at once;
// reusing goroutines keeps the deep stacks an SDK call grows (a new
// goroutine would copy its stack several times per invocation). Idle
// workers exit after workerIdle, so an idle emulator holds none.
type pool struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func newPool() *pool { return &pool{jobs: make(chan func())} }

// run starts fn on an idle worker, or on a new one if none is idle.
func (p *pool) run(fn func()) {
	select {
	case p.jobs <- fn:
	default:
		p.wg.Add(1)
		go p.worker(fn)
	}
}

func (p *pool) worker(fn func()) {
	defer p.wg.Done()
	// The garbage collector halves the stack of a goroutine that uses less
	// than a quarter of it, and a worker waiting for work uses little: the
	// next SDK call then grew it back, copying it, after every GC cycle
	// (1.4% of the emulator's CPU in the push benchmark). Waiting on top
	// of a reserved frame keeps the stack an SDK call needs.
	var reserve [stackReserve]byte
	p.loop(fn)
	keep(&reserve)
}

// stackReserve is the part of a worker's stack kept in use while it waits.
const stackReserve = 8 << 10

// keep makes the reserve a live stack variable.
//
//go:noinline
func keep(*[stackReserve]byte) {}

func (p *pool) loop(fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(workerIdle)
		select {
		case fn = <-p.jobs:
		case <-idle.C:
			return
		}
	}
}
