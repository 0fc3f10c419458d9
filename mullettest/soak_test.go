package mullettest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mulletgo/mullet/mullettest"
	"github.com/mulletgo/mullet/store/memstore"
)

// memSample is the process's memory at one point of a soak.
type memSample struct {
	rss       uint64 // VmRSS after forced GCs that return free memory to the OS
	rawRSS    uint64 // VmRSS before that GC
	heapInuse uint64 // runtime.MemStats.HeapInuse after the GC
}

func (m memSample) String() string {
	return fmt.Sprintf("RSS %.1f MiB (%.1f MiB before GC), HeapInuse %.1f MiB", mib(m.rss), mib(m.rawRSS), mib(m.heapInuse))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// sampleMemory reads VmRSS from /proc/self/status before and after
// garbage collection that returns freed memory to the OS, and HeapInuse
// after it.
func sampleMemory(t *testing.T) memSample {
	t.Helper()
	var s memSample
	s.rawRSS = vmRSS(t)
	// Two collections: objects in sync.Pools survive the first (as the
	// pools' victim cache), so one GC alone still counts them.
	runtime.GC()
	debug.FreeOSMemory() // a second GC, then returns free memory to the OS
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.heapInuse = ms.HeapInuse
	s.rss = vmRSS(t)
	return s
}

func vmRSS(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// soakReport is what a soak measured.
type soakReport struct {
	conns, messages                   int
	elapsed                           time.Duration
	goroutinesBefore, goroutinesAfter int       // with the server up, before any connection and after all closed
	goroutinesEmpty                   int       // before the server started
	start, end                        memSample // before any connection, after all closed
	quarters                          [4]memSample
}

// soak runs messages round trips over conns connections through the
// emulator, in four quarters; after each, with every connection idle, it
// samples memory. Each message is an "incr": a frame selected, validated,
// authorized by the connection's record, a state update with a version
// check, and a route response.
func soak(t *testing.T, conns, messages int, limit time.Duration) soakReport {
	perConn := messages / conns
	if perConn%4 != 0 {
		t.Fatalf("messages per connection (%d) must be a multiple of 4", perConn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	r := soakReport{conns: conns, messages: perConn * conns}

	runtime.GC()
	r.goroutinesEmpty = runtime.NumGoroutine()
	srv := mullettest.NewServer(t, newMatrixApp(&authLog{}), &mullettest.Options{Store: memstore.New(nil)})
	time.Sleep(50 * time.Millisecond)
	r.goroutinesBefore = runtime.NumGoroutine()
	r.start = sampleMemory(t)

	clients := make([]*websocket.Conn, conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // concurrent handshakes
	errs := make(chan error, conns)
	for i := range clients {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := dialTokenErr(srv, matrixToken, "user=soak"+strconv.Itoa(i))
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c.Conn
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("dial: %v", err)
	}
	start := time.Now()
	var failed sync.Once
	for q := range 4 {
		for i, c := range clients {
			wg.Go(func() {
				for k := range perConn / 4 {
					want := q*(perConn/4) + k + 1
					if err := c.Write(ctx, websocket.MessageText, []byte(`{"action":"incr"}`)); err != nil {
						failed.Do(func() { t.Errorf("client %d, message %d: write: %v", i, want, err) })
						cancel()
						return
					}
					_, data, err := c.Read(ctx)
					var s mState
					if err == nil {
						err = json.Unmarshal(data, &s)
					}
					if err != nil || s.Count != want {
						failed.Do(func() { t.Errorf("client %d, message %d: reply %q, %v", i, want, data, err) })
						cancel()
						return
					}
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		r.quarters[q] = sampleMemory(t)
		t.Logf("quarter %d: %d messages in %v; %v; %d goroutines", q+1, (q+1)*perConn/4*conns, time.Since(start).Round(time.Millisecond), r.quarters[q], runtime.NumGoroutine())
	}
	r.elapsed = time.Since(start)
	for _, c := range clients {
		wg.Go(func() { _ = c.Close(websocket.StatusNormalClosure, "") })
	}
	wg.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.goroutinesAfter = runtime.NumGoroutine()
		if r.goroutinesAfter <= r.goroutinesBefore || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.goroutinesAfter > r.goroutinesBefore {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after every connection closed, %d before any opened\n%s", r.goroutinesAfter, r.goroutinesBefore, buf[:runtime.Stack(buf, true)])
	}
	r.end = sampleMemory(t)
	return r
}

// checkGrowth fails if memory grew more than 10% from the first quarter to
// the last. Under the race detector, whose shadow memory grows with every
// address ever touched and is never returned, only HeapInuse is checked.
func checkGrowth(t *testing.T, r soakReport) {
	t.Helper()
	first, last := r.quarters[0], r.quarters[3]
	if float64(last.rss) > 1.10*float64(first.rss) {
		if raceDetector {
			t.Logf("RSS grew from %.1f to %.1f MiB: not checked under -race", mib(first.rss), mib(last.rss))
		} else {
			t.Errorf("RSS grew from %.1f MiB after the first quarter to %.1f MiB after the last (more than 10%%)", mib(first.rss), mib(last.rss))
		}
	}
	if float64(last.heapInuse) > 1.10*float64(first.heapInuse) {
		t.Errorf("HeapInuse grew from %.1f MiB after the first quarter to %.1f MiB after the last (more than 10%%)", mib(first.heapInuse), mib(last.heapInuse))
	}
	t.Logf("soak: %d messages over %d connections in %v (%.0f round trips/s, race detector %v)", r.messages, r.conns, r.elapsed.Round(time.Millisecond), float64(r.messages)/r.elapsed.Seconds(), raceDetector)
	t.Logf("soak: memory at start %v; after the first quarter %v; after the last %v (RSS %+.1f%%, HeapInuse %+.1f%%); after all closed %v",
		r.start, first, last, 100*(float64(last.rss)/float64(first.rss)-1), 100*(float64(last.heapInuse)/float64(first.heapInuse)-1), r.end)
	t.Logf("soak: goroutines %d before the server, %d with it before any connection, %d after all connections closed", r.goroutinesEmpty, r.goroutinesBefore, r.goroutinesAfter)
}

// TestSoak pushes messages through the emulator and checks that memory
// stays flat and every goroutine goes away with its connection. In CI it
// runs 20,000 messages over 200 connections. MULLET_SOAK=1 runs the full
// 1,000,000 messages over 1,000 connections (a few minutes without -race):
//
//	MULLET_SOAK=1 go test -run TestSoak -timeout 30m -v ./mullettest/
func TestSoak(t *testing.T) {
	conns, messages, limit := 200, 20_000, 3*time.Minute
	if os.Getenv("MULLET_SOAK") != "" {
		conns, messages, limit = 1_000, 1_000_000, 25*time.Minute
	} else if testing.Short() {
		conns, messages = 50, 2_000
	}
	r := soak(t, conns, messages, limit)
	checkGrowth(t, r)
}
