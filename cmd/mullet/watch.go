package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// watcher turns a tree's snapshots into debounced changes: it polls every
// poll and reports a change once the snapshot has stayed the same for quiet
// after it last changed, so that a burst of saves (an editor writing
// several files, a git checkout) makes one rebuild, not one per file.
type watcher struct {
	snapshot    func() (string, error)
	poll, quiet time.Duration
	// sleep waits for d or until ctx is done; nil means a real timer.
	// Tests give a fake clock.
	sleep func(ctx context.Context, d time.Duration) error
}

// change is what a watcher reports: the files that differ from the last
// reported snapshot, or the error that stopped it.
type change struct {
	files []string
	err   error
}

// watch reports changes on out until ctx is done or snapshot fails. A
// change found while the previous one is still unread is merged into it, so
// a slow build is followed by one rebuild, not a queue of them.
func (w *watcher) watch(ctx context.Context, last string, out chan change) {
	for {
		cur, err := w.next(ctx, last)
		if err != nil {
			if ctx.Err() == nil {
				select {
				case out <- change{err: err}:
				case <-ctx.Done():
				}
			}
			return
		}
		files := changedFiles(last, cur)
		last = cur
		select {
		case out <- change{files: files}:
		case prev := <-out:
			out <- change{files: mergeFiles(prev.files, files)}
		case <-ctx.Done():
			return
		}
	}
}

// next blocks until the snapshot differs from last and has then stayed the
// same for w.quiet; it returns that snapshot.
func (w *watcher) next(ctx context.Context, last string) (string, error) {
	sleep := w.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for {
		if err := sleep(ctx, w.poll); err != nil {
			return "", err
		}
		cur, err := w.snapshot()
		if err != nil {
			return "", err
		}
		if cur != last {
			last = cur
			break
		}
	}
	for quiet := time.Duration(0); quiet < w.quiet; {
		step := min(w.poll, w.quiet-quiet)
		if err := sleep(ctx, step); err != nil {
			return "", err
		}
		cur, err := w.snapshot()
		if err != nil {
			return "", err
		}
		if cur != last {
			last, quiet = cur, 0
			continue
		}
		quiet += step
	}
	return last, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// changedFiles lists the paths whose line differs between two snapshots
// (added, removed or modified files), sorted.
func changedFiles(old, cur string) []string {
	lines := func(s string) map[string]string {
		m := make(map[string]string)
		for _, l := range strings.Split(s, "\n") {
			if l == "" {
				continue
			}
			path, rest := splitSnapshotLine(l)
			m[path] = rest
		}
		return m
	}
	a, b := lines(old), lines(cur)
	var files []string
	for p, v := range b {
		if w, ok := a[p]; !ok || w != v {
			files = append(files, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	return files
}

// splitSnapshotLine splits "PATH SIZE MTIME" at the last two spaces, since
// PATH may hold spaces.
func splitSnapshotLine(l string) (path, rest string) {
	i := strings.LastIndexByte(l, ' ')
	if i < 0 {
		return l, ""
	}
	j := strings.LastIndexByte(l[:i], ' ')
	if j < 0 {
		return l, ""
	}
	return l[:j], l[j+1:]
}

func mergeFiles(a, b []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, f := range append(append([]string(nil), a...), b...) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// describeChange names the changed files relative to dir, at most three.
func describeChange(dir string, files []string) string {
	if len(files) == 0 {
		return "a file"
	}
	names := make([]string, 0, 3)
	for _, f := range files[:min(3, len(files))] {
		if rel, err := filepath.Rel(dir, f); err == nil {
			f = rel
		}
		names = append(names, f)
	}
	s := strings.Join(names, ", ")
	if len(files) > 3 {
		s += fmt.Sprintf(" and %d more", len(files)-3)
	}
	return s
}
