package main

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// sync: WaitGroup fan-out, the two worker-pool forms, mutex contention.
// All on two Ps.
func benchSync() {
	runtime.GOMAXPROCS(2)

	// wg_fanout_1m: the article's processAll form, wg.Add(1) before each
	// go, defer wg.Done() inside, each goroutine writes its result slot.
	{
		n := scaled(1000000, 1000)
		out := make([]int, n)
		runtime.GC()
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out[i] = i * 2
			}(i)
		}
		wg.Wait()
		el := time.Since(t0)
		checkDoubled(out)
		report("wg_fanout_1m", nsPerOp(el, n), "ns/op")
	}

	n := scaled(1000000, 1000)
	inputs := make([]int, n)
	for i := range inputs {
		inputs[i] = i
	}
	double := func(ctx context.Context, x int) (int, error) { return x * 2, nil }

	// pool_chan_8w: the article's pool.Run with 8 workers.
	{
		runtime.GC()
		t0 := time.Now()
		res := poolRun(context.Background(), 8, inputs, double)
		el := time.Since(t0)
		if len(res) != n {
			fatal("pool_chan_8w: %d results, want %d", len(res), n)
		}
		var sum, want int
		for _, r := range res {
			sum += r.Output
		}
		for _, x := range inputs {
			want += x * 2
		}
		if sum != want {
			fatal("pool_chan_8w: bad sum")
		}
		report("pool_chan_8w", nsPerOp(el, n), "ns/op")
	}

	// pool_lib_8w: errgroup.SetLimit(8)-style group, results by index.
	{
		out := make([]int, n)
		runtime.GC()
		t0 := time.Now()
		g, ctx := newGroup(context.Background(), 8)
		for i := range inputs {
			i := i
			g.Go(func() error {
				v, err := double(ctx, inputs[i])
				out[i] = v
				return err
			})
		}
		if err := g.Wait(); err != nil {
			fatal("pool_lib_8w: %v", err)
		}
		el := time.Since(t0)
		checkDoubled(out)
		report("pool_lib_8w", nsPerOp(el, n), "ns/op")
	}

	// mutex_contention_8: 8 goroutines, n/8 Lock/increment/Unlock each.
	{
		const g = 8
		per := n / g
		var mu sync.Mutex
		counter := 0
		var wg sync.WaitGroup
		wg.Add(g)
		start := make(chan struct{})
		for w := 0; w < g; w++ {
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < per; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(5 * time.Millisecond)
		t0 := time.Now()
		close(start)
		wg.Wait()
		el := time.Since(t0)
		if counter != g*per {
			fatal("mutex_contention_8: counter %d, want %d", counter, g*per)
		}
		report("mutex_contention_8", nsPerOp(el, g*per), "ns/op")
	}
}

func checkDoubled(out []int) {
	for i, v := range out {
		if v != i*2 {
			fatal("result %d is %d, want %d", i, v, i*2)
		}
	}
}

// --- The article's worker pool (pool/pool.go), verbatim but for the
// Go 1.22 `for range concurrency` loop.

type Job[T any] struct {
	Input T
}

type Result[T, R any] struct {
	Input  T
	Output R
	Err    error
}

func poolRun[T, R any](
	ctx context.Context,
	concurrency int,
	inputs []T,
	fn func(context.Context, T) (R, error),
) []Result[T, R] {
	jobs := make(chan Job[T], len(inputs))
	results := make(chan Result[T, R], len(inputs))

	var wg sync.WaitGroup
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				select {
				case <-ctx.Done():
					results <- Result[T, R]{Input: job.Input, Err: ctx.Err()}
				default:
					out, err := fn(ctx, job.Input)
					results <- Result[T, R]{Input: job.Input, Output: out, Err: err}
				}
			}
		}()
	}

	for _, input := range inputs {
		jobs <- Job[T]{Input: input}
	}
	close(jobs)

	go func() {
		wg.Wait()
		close(results)
	}()

	var out []Result[T, R]
	for r := range results {
		out = append(out, r)
	}
	return out
}

// --- A minimal golang.org/x/sync/errgroup with SetLimit: Go blocks on a
// semaphore while `limit` functions run; each runs in its own goroutine;
// the first error cancels the group's context.

type group struct {
	wg      sync.WaitGroup
	sem     chan struct{}
	errOnce sync.Once
	err     error
	cancel  context.CancelFunc
}

func newGroup(parent context.Context, limit int) (*group, context.Context) {
	ctx, cancel := context.WithCancel(parent)
	return &group{sem: make(chan struct{}, limit), cancel: cancel}, ctx
}

func (g *group) Go(f func() error) {
	g.sem <- struct{}{}
	g.wg.Add(1)
	go func() {
		defer func() {
			<-g.sem
			g.wg.Done()
		}()
		if err := f(); err != nil {
			g.errOnce.Do(func() {
				g.err = err
				g.cancel()
			})
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}
