package receiver

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// started is the error a test round returns: the arrival count when it
// started, so each caller can check that its round started after it came.
type started struct{ seq int64 }

func (s started) Error() string { return fmt.Sprintf("round started at %d", s.seq) }

// TestCoalescerHammer: many callers on a few keys. Every caller must be
// served by a round that started after it arrived, rounds of one key never
// overlap, and a burst costs far fewer rounds than calls.
func TestCoalescerHammer(t *testing.T) {
	var c Coalescer
	var arrivals, rounds atomic.Int64
	var active [3]atomic.Int32
	const callers = 400
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % 3
			ticket := arrivals.Add(1)
			err := c.Do(fmt.Sprint(k), func() error {
				if n := active[k].Add(1); n != 1 {
					errs <- fmt.Errorf("key %d: %d rounds at once", k, n)
				}
				defer active[k].Add(-1)
				rounds.Add(1)
				seq := arrivals.Load()
				time.Sleep(2 * time.Millisecond)
				return started{seq}
			})
			var s started
			if !errors.As(err, &s) {
				errs <- fmt.Errorf("caller got %v", err)
				return
			}
			if s.seq < ticket {
				errs <- fmt.Errorf("caller %d served by a round that started at %d, before it arrived", ticket, s.seq)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := rounds.Load(); n >= callers {
		t.Errorf("%d rounds for %d calls: nothing was coalesced", n, callers)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) != 0 {
		t.Errorf("%d keys left behind", len(c.keys))
	}
}

func TestCoalescerSequentialCallsEachRun(t *testing.T) {
	var c Coalescer
	n := 0
	for range 3 {
		if err := c.Do("k", func() error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Fatalf("%d rounds for 3 calls one after another", n)
	}
	boom := errors.New("boom")
	if err := c.Do("k", func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("the round's error is not returned: %v", err)
	}
}
