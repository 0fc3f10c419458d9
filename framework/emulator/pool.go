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
