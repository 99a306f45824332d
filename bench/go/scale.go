package main

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// scale: the twin of bench/bench_scale.c. One P; goroutines spawned in
// batches until 1k, 10k, 100k and 1M are alive at once, each blocked
// receiving from one channel after touching 1 KiB of its stack. Per batch:
// ns per spawn up to the park, and the RSS the batch added per goroutine.
// Then one close wakes them all.
func benchScale() {
	runtime.GOMAXPROCS(1)
	levels := []int{1000, 10000, 100000, 1000000}
	top := scaled(1000000, 1000)
	release := make(chan int)
	var parked, exited int64
	task := func() {
		var buf [1024]byte
		for i := 0; i < len(buf); i += 64 {
			buf[i] = byte(i)
		}
		atomic.AddInt64(&parked, 1)
		if _, ok := <-release; !ok {
			atomic.AddInt64(&exited, 1)
		}
		sink += uint64(buf[64])
	}
	waitFor := func(count *int64, want int) {
		for atomic.LoadInt64(count) < int64(want) {
			runtime.Gosched()
		}
	}
	settle()
	live := 0
	for _, want := range levels {
		if want > top {
			break
		}
		rss0 := rssBytes()
		t0 := time.Now()
		for i := live; i < want; i++ {
			go task()
		}
		waitFor(&parked, want)
		batch := want - live
		report(fmt.Sprintf("spawn_ns_at_%d", want), nsPerOp(time.Since(t0), batch), "ns/op")
		report(fmt.Sprintf("rss_per_task_at_%d", want), float64(rssBytes()-rss0)/float64(batch), "bytes")
		live = want
	}
	t0 := time.Now()
	close(release)
	waitFor(&exited, live)
	report("close_wake_all_ns_per_task", nsPerOp(time.Since(t0), live), "ns/op")
}
