package framework

import (
	"slices"
	"testing"

	"github.com/mulletgo/mullet/store"
)

func TestReplayPages(t *testing.T) {
	read := func(n int) store.StreamRead { return store.StreamRead{Messages: make([]store.StreamMessage, n)} }
	for _, tt := range []struct {
		sizes  []int
		budget int
		want   []int
		more   bool
	}{
		{[]int{0, 0}, 128, []int{0, 0}, false},
		{[]int{10, 5}, 128, []int{10, 5}, false},
		{[]int{1000, 0, 3}, 128, []int{125, 0, 3}, true},
		{[]int{1000, 1000}, 128, []int{64, 64}, true},
		{[]int{1000, 1000, 1000}, 128, []int{43, 43, 42}, true},
		{[]int{128}, 128, []int{128}, false},
		{[]int{129}, 128, []int{128}, true},
	} {
		var reads []store.StreamRead
		for _, n := range tt.sizes {
			reads = append(reads, read(n))
		}
		got, more := replayPages(reads, tt.budget)
		if !slices.Equal(got, tt.want) || more != tt.more {
			t.Errorf("replayPages(%v, %d) = %v, %v; want %v, %v", tt.sizes, tt.budget, got, more, tt.want, tt.more)
		}
	}
}
