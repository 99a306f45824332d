package main

import (
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// switch: two goroutines on one P, each calling runtime.Gosched in a loop,
// so every Gosched hands the P to the other one. Reported per single switch.
func benchSwitch() {
	runtime.GOMAXPROCS(1)
	rounds := scaled(1000000, 1000)
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	body := func() {
		defer wg.Done()
		<-start
		for i := 0; i < rounds; i++ {
			runtime.Gosched()
		}
	}
	go body()
	go body()
	runtime.Gosched() // let both park on start
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	report("switch_yield_1w", nsPerOp(el, 2*rounds), "ns/op")
}

// yield: strict alternation via a turn flag; each side Goscheds until it
// is its turn. One round trip = A -> B -> A. Reported per round trip.
func benchYield() {
	runtime.GOMAXPROCS(1)
	rounds := scaled(1000000, 1000)
	var turn int32
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	side := func(me, other int32) {
		defer wg.Done()
		<-start
		for i := 0; i < rounds; i++ {
			for atomic.LoadInt32(&turn) != me {
				runtime.Gosched()
			}
			atomic.StoreInt32(&turn, other)
		}
	}
	go side(0, 1)
	go side(1, 0)
	runtime.Gosched()
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	report("yield_ping_1w", nsPerOp(el, rounds), "ns/op")
}

// spawn: spawn n goroutines that only call wg.Done, then wait. An untimed
// first pass warms the runtime's free lists of goroutines and stacks so that
// neither timed pass pays for first-touch page faults.
func benchSpawn() {
	n := scaled(1000000, 1000)
	for _, p := range []int{0, 1, 2} { // 0: untimed warm-up on one P
		runtime.GOMAXPROCS(max(p, 1))
		runtime.GC()
		var wg sync.WaitGroup
		wg.Add(n)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		el := time.Since(t0)
		if p == 0 {
			logf("spawn: warm-up (fresh goroutines) %.1f ns/op", nsPerOp(el, n))
		} else if p == 1 {
			report("spawn_exit_1w", nsPerOp(el, n), "ns/op")
		} else {
			report("spawn_exit_2w", nsPerOp(el, n), "ns/op")
		}
	}
}

// parked: n live goroutines, each blocked receiving on one shared channel.
// RSS and page-table growth per goroutine.
func benchParked() {
	runtime.GOMAXPROCS(2)
	n := scaled(1000000, 1000)
	settle()
	rss0, pte0 := rssBytes(), pteBytes()
	ts := time.Now()
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			done.Done()
		}()
	}
	started.Wait()
	time.Sleep(50 * time.Millisecond) // the last ones reach the receive
	rss1, pte1 := rssBytes(), pteBytes()
	logf("parked: spawning %d took %v", n, time.Since(ts))
	report("parked_rss_per_task", float64(rss1-rss0)/float64(n), "bytes")
	report("parked_pte_per_task", float64(pte1-pte0)/float64(n), "bytes")
	t0 := time.Now()
	close(release)
	done.Wait()
	logf("parked: releasing them took %v", time.Since(t0))
}

// hop: ping-pong over two unbuffered channels between two goroutines on
// two Ps; each round trip is timed, one-way = round trip / 2.
func benchHop() {
	runtime.GOMAXPROCS(2)
	n := scaled(20000, 200)
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < 1000; i++ { // warm-up
		ping <- i
		<-pong
	}
	samples := make([]int64, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		ping <- i
		<-pong
		samples[i] = time.Since(t0).Nanoseconds() / 2
	}
	close(ping)
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	report("hop_p50", float64(percentile(samples, 50)), "ns")
	report("hop_p99", float64(percentile(samples, 99)), "ns")
}

// percentile by nearest rank on a sorted slice.
func percentile(sorted []int64, p int) int64 {
	idx := (len(sorted)*p+99)/100 - 1
	if idx < 0 {
		idx = 0
	}
	if idx >= len(sorted) {
		idx = len(sorted) - 1
	}
	return sorted[idx]
}

// xorshiftJob is the fanout kernel; the C twin uses the same loop.
//
//go:noinline
func xorshiftJob(seed uint64, iters int) uint64 {
	x := seed | 1
	for i := 0; i < iters; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// calibrateJob returns the iteration count for which one xorshiftJob takes
// about one millisecond on this machine (best of 5 timings).
func calibrateJob() int {
	iters := 1 << 16
	for {
		t0 := time.Now()
		sink += xorshiftJob(uint64(iters), iters)
		if time.Since(t0) >= 20*time.Millisecond {
			break
		}
		iters *= 2
	}
	best := time.Duration(1 << 62)
	for r := 0; r < 5; r++ {
		t0 := time.Now()
		sink += xorshiftJob(uint64(r+1), iters)
		if el := time.Since(t0); el < best {
			best = el
		}
	}
	per := int(float64(iters) * float64(time.Millisecond) / float64(best))
	if per < 1 {
		per = 1
	}
	return per
}

// fanout: 1000 CPU-bound ~1 ms jobs, one goroutine each, on 1 and 2 Ps.
func benchFanout() {
	runtime.GOMAXPROCS(1)
	iters := calibrateJob()
	logf("fanout: %d xorshift iterations per job (~1 ms)", iters)
	jobs := scaled(1000, 20)
	res := make([]uint64, jobs)
	var el [3]time.Duration
	for _, p := range []int{1, 2} {
		runtime.GOMAXPROCS(p)
		runtime.GC()
		var wg sync.WaitGroup
		wg.Add(jobs)
		t0 := time.Now()
		for j := 0; j < jobs; j++ {
			go func(j int) {
				res[j] = xorshiftJob(uint64(j)+1, iters)
				wg.Done()
			}(j)
		}
		wg.Wait()
		el[p] = time.Since(t0)
		for _, v := range res {
			sink += v
		}
	}
	report("fanout_1w", ms(el[1]), "ms")
	report("fanout_2w", ms(el[2]), "ms")
	report("fanout_speedup", float64(el[1])/float64(el[2]), "x")
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}
