package handlers

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Fifty concurrent readers of one key make at most two reads: the one running when they came, which none of
// them may use, and the one they all share after it.
func TestReadCoalescerSharesOneReadAmongWaiters(t *testing.T) {
	t.Parallel()
	var c readCoalescer
	var runs atomic.Int32
	release := make(chan struct{})
	read := func(context.Context) (int32, error) {
		n := runs.Add(1)
		<-release
		return n, nil
	}
	first := make(chan int32)
	go func() {
		v, _ := coalesced(context.Background(), &c, "k", read)
		first <- v
	}()
	require.Eventually(t, func() bool { return runs.Load() == 1 }, 5*time.Second, time.Millisecond)

	var wg sync.WaitGroup
	got := make([]int32, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = coalesced(context.Background(), &c, "k", read)
		}()
	}
	time.Sleep(20 * time.Millisecond) // let them all queue behind the running read
	close(release)
	wg.Wait()
	require.Equal(t, int32(1), <-first)
	for i, v := range got {
		require.Equal(t, int32(2), v, "caller %d got a read that started before it arrived, or its own", i)
	}
	require.Equal(t, int32(2), runs.Load())
}

// A caller that arrives while a read runs never gets that read's answer: after a write, it sees the write.
func TestReadCoalescerNeverAnswersWithAReadStartedBeforeTheCall(t *testing.T) {
	t.Parallel()
	var c readCoalescer
	var db atomic.Int32 // the "database"
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	read := func(context.Context) (int32, error) {
		v := db.Load()
		started <- struct{}{}
		<-release
		return v, nil
	}
	go func() { _, _ = coalesced(context.Background(), &c, "k", read) }()
	<-started   // a read of the old state is running
	db.Store(1) // a write commits
	got := make(chan int32)
	go func() {
		v, _ := coalesced(context.Background(), &c, "k", read)
		got <- v
	}()
	time.Sleep(10 * time.Millisecond)
	close(release)
	require.Equal(t, int32(1), <-got, "answered from the read that began before the write")
}

func TestReadCoalescerKeysPanicsAndLeavingCallers(t *testing.T) {
	t.Parallel()
	var c readCoalescer
	a, err := coalesced(context.Background(), &c, "a", func(context.Context) (string, error) { return "A", nil })
	require.NoError(t, err)
	b, err := coalesced(context.Background(), &c, "b", func(context.Context) (string, error) { return "B", nil })
	require.NoError(t, err)
	require.Equal(t, []string{"A", "B"}, []string{a, b})

	_, err = coalesced(context.Background(), &c, "p", func(context.Context) (string, error) { panic("boom") })
	require.ErrorContains(t, err, "boom")

	// A caller that gives up gets its own context's error; the read still finishes for the others.
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := coalesced(ctx, &c, "slow", func(context.Context) (string, error) { <-release; return "S", nil })
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	other := make(chan string)
	go func() {
		v, _ := coalesced(context.Background(), &c, "slow", func(context.Context) (string, error) { return "S2", nil })
		other <- v
	}()
	close(release)
	require.Equal(t, "S2", <-other, "the next caller's read starts after the abandoned one ends")
	require.Eventually(t, func() bool { // nothing is kept once the reads are over
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.byKey) == 0
	}, 5*time.Second, time.Millisecond)
}
