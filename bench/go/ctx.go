package main

import (
	"context"
	"runtime"
	"sync"
	"time"
)

var sinkCtx context.Context

// ctx: cancellation fan-out and child-context churn, on two Ps.
func benchCtx() {
	runtime.GOMAXPROCS(2)

	// ctx_cancel_10k_ms: 10,000 goroutines parked in select on ctx.Done();
	// time from cancel() until the WaitGroup says all exited. Median of
	// 5 repetitions (1 at small scale).
	{
		const n = 10000
		reps := scaled(5, 1)
		if reps > 5 {
			reps = 5
		}
		never := make(chan struct{})
		var times []time.Duration
		for r := 0; r < reps; r++ {
			ctx, cancel := context.WithCancel(context.Background())
			var started, done sync.WaitGroup
			started.Add(n)
			done.Add(n)
			for i := 0; i < n; i++ {
				go func() {
					started.Done()
					select {
					case <-ctx.Done():
					case <-never:
					}
					done.Done()
				}()
			}
			started.Wait()
			time.Sleep(20 * time.Millisecond) // all reach the select
			t0 := time.Now()
			cancel()
			done.Wait()
			times = append(times, time.Since(t0))
		}
		report("ctx_cancel_10k_ms", ms(medianDur(times)), "ms")
	}

	// ctx_child_create_cancel: WithCancel(parent) + cancel, parent being a
	// cancellable context so the child registers with it.
	{
		n := scaled(1000000, 1000)
		parent, pcancel := context.WithCancel(context.Background())
		runtime.GC()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			c, cancel := context.WithCancel(parent)
			cancel()
			sinkCtx = c
		}
		el := time.Since(t0)
		pcancel()
		report("ctx_child_create_cancel", nsPerOp(el, n), "ns/op")
	}
}
