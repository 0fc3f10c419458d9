package main

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// fakeTree is a tree whose snapshot changes at given times of a fake clock.
type fakeTree struct {
	now   time.Duration
	edits []edit // in time order
	// stop, if set, is called once the clock passes an hour: nothing
	// more will change.
	stop func()
}

type edit struct {
	at   time.Duration
	snap string
}

func (f *fakeTree) snapshot() (string, error) {
	s := "a.go 1 0\n"
	for _, e := range f.edits {
		if e.at <= f.now {
			s = e.snap
		}
	}
	return s, nil
}

func (f *fakeTree) sleep(ctx context.Context, d time.Duration) error {
	if f.now > time.Hour {
		if f.stop != nil {
			f.stop()
		}
		return context.Canceled
	}
	f.now += d
	return nil
}

func TestWatcherDebounce(t *testing.T) {
	const poll, quiet = 100 * time.Millisecond, 300 * time.Millisecond
	tests := []struct {
		name  string
		edits []edit
		// the fake time at which next returns, and its snapshot
		at   time.Duration
		snap string
	}{
		{
			name:  "one save",
			edits: []edit{{150 * time.Millisecond, "a.go 2 1\n"}},
			// seen at the 200ms poll, then quiet for 300ms
			at: 500 * time.Millisecond, snap: "a.go 2 1\n",
		},
		{
			name: "a burst of saves is one change",
			edits: []edit{
				{150 * time.Millisecond, "a.go 2 1\n"},
				{250 * time.Millisecond, "a.go 2 1\nb.go 1 1\n"},
				{420 * time.Millisecond, "a.go 3 2\nb.go 1 1\n"},
			},
			// the last save is seen at 500ms; quiet until 800ms
			at: 800 * time.Millisecond, snap: "a.go 3 2\nb.go 1 1\n",
		},
		{
			name: "saves closer than the quiet period keep postponing",
			edits: []edit{
				{50 * time.Millisecond, "v1"}, {250 * time.Millisecond, "v2"}, {450 * time.Millisecond, "v3"},
				{650 * time.Millisecond, "v4"}, {850 * time.Millisecond, "v5"},
			},
			at: 1200 * time.Millisecond, snap: "v5",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree := &fakeTree{edits: tt.edits}
			w := &watcher{snapshot: tree.snapshot, poll: poll, quiet: quiet, sleep: tree.sleep}
			first, _ := tree.snapshot()
			got, err := w.next(context.Background(), first)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.snap || tree.now != tt.at {
				t.Fatalf("next returned %q at %v, want %q at %v", got, tree.now, tt.snap, tt.at)
			}
		})
	}
	t.Run("no change", func(t *testing.T) {
		tree := &fakeTree{}
		w := &watcher{snapshot: tree.snapshot, poll: poll, quiet: quiet, sleep: tree.sleep}
		first, _ := tree.snapshot()
		if got, err := w.next(context.Background(), first); err == nil {
			t.Fatalf("next returned %q with nothing changed", got)
		}
	})
}

// TestWatcherMergesPendingChanges: changes found while the previous one is
// unread (a build is running) are merged into one.
func TestWatcherMergesPendingChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tree := &fakeTree{edits: []edit{
		{100 * time.Millisecond, "a.go 2 1\n"},
		{2 * time.Second, "a.go 2 1\nb.go 1 1\n"},
	}, stop: cancel}
	w := &watcher{snapshot: tree.snapshot, poll: 100 * time.Millisecond, quiet: 200 * time.Millisecond, sleep: tree.sleep}
	first, _ := tree.snapshot()
	out := make(chan change, 1)
	done := make(chan struct{})
	go func() { w.watch(ctx, first, out); close(done) }()
	<-done // the fake clock ran past both edits; nobody read
	ch := <-out
	if want := []string{"a.go", "b.go"}; !reflect.DeepEqual(ch.files, want) || ch.err != nil {
		t.Fatalf("got %+v, want one change of %q", ch, want)
	}
}

func TestChangedFiles(t *testing.T) {
	old := "dir/a.go 10 1\ndir/my file.go 5 1\ndir/c.go 1 1\n"
	cur := "dir/a.go 10 1\ndir/my file.go 6 2\ndir/d.go 1 1\n"
	if got, want := changedFiles(old, cur), []string{"dir/c.go", "dir/d.go", "dir/my file.go"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("changedFiles = %q, want %q", got, want)
	}
	if got := describeChange("dir", []string{"dir/a.go", "dir/b.go", "dir/c.go", "dir/d.go"}); got != "a.go, b.go, c.go and 1 more" {
		t.Fatalf("describeChange = %q", got)
	}
}
