package main

import (
	"runtime"
	"time"
)

// chan: channel and select costs. All on one P except chan_buffered_2w.
func benchChan() {
	runtime.GOMAXPROCS(1)

	// chan_pingpong: unbuffered round trip between two goroutines.
	{
		n := scaled(1000000, 1000)
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		runtime.GC()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			ping <- i
			sink += uint64(<-pong)
		}
		el := time.Since(t0)
		close(ping)
		report("chan_pingpong", nsPerOp(el, n), "ns/op")
	}

	// chan_buffered: cap-1024 producer/consumer, per item.
	report("chan_buffered", bufferedRun(scaled(10000000, 10000)), "ns/op")

	// select_ready: send into a cap-1 channel, then select with that
	// (ready) case and a never-ready one.
	{
		n := scaled(10000000, 10000)
		ch := make(chan int, 1)
		never := make(chan int)
		runtime.GC()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			ch <- i
			select {
			case v := <-ch:
				sink += uint64(v)
			case <-never:
			}
		}
		el := time.Since(t0)
		report("select_ready", nsPerOp(el, n), "ns/op")
	}

	// select_park: the select parks until the partner goroutine sends;
	// one op = one round trip.
	{
		n := scaled(1000000, 1000)
		a, b := make(chan int), make(chan int)
		never := make(chan int)
		go func() {
			for v := range a {
				b <- v
			}
		}()
		runtime.GC()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			a <- i
			select {
			case v := <-b:
				sink += uint64(v)
			case <-never:
			}
		}
		el := time.Since(t0)
		close(a)
		report("select_park", nsPerOp(el, n), "ns/op")
	}

	// chan_buffered_2w: the same producer/consumer on two Ps.
	runtime.GOMAXPROCS(2)
	report("chan_buffered_2w", bufferedRun(scaled(10000000, 10000)), "ns/op")
	runtime.GOMAXPROCS(1)

	// select_after: a fresh time.After(1 s) in every select beside an
	// always-ready case. Run last: its 1e6 pending timers outlive the loop.
	{
		n := scaled(1000000, 1000)
		ch := make(chan int, 1)
		settle()
		rss0 := rssBytes()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			ch <- i
			select {
			case v := <-ch:
				sink += uint64(v)
			case <-time.After(1000 * time.Millisecond):
			}
		}
		el := time.Since(t0)
		rss1 := rssBytes()
		report("select_after", nsPerOp(el, n), "ns/op")
		report("select_after_rss_mb", float64(rss1-rss0)/(1<<20), "MB")
	}
}

// bufferedRun moves n ints through a cap-1024 channel from a producer
// goroutine to the caller; ns per item.
func bufferedRun(n int) float64 {
	ch := make(chan int, 1024)
	runtime.GC()
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	var sum uint64
	for v := range ch {
		sum += uint64(v)
	}
	el := time.Since(t0)
	sink += sum
	return nsPerOp(el, n)
}
