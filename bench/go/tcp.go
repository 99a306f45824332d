package main

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

const (
	tcpClients   = 100
	echoBlock    = 64 << 10
	echoTotal    = 256 << 20
	rrMsg        = 32
	rrTotal      = 200000
	idleConns    = 2000
	serverBufLen = 32 << 10 // io.Copy's buffer size
)

// echoServer accepts on 127.0.0.1 and runs one goroutine per connection
// that echoes with a 32 KiB buffer (io.Copy without its splice fast path).
type echoServer struct {
	ln       net.Listener
	accepted int64
	wg       sync.WaitGroup
}

func startEchoServer() *echoServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("listen: %v", err)
	}
	s := &echoServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			atomic.AddInt64(&s.accepted, 1)
			go echoConn(c)
		}
	}()
	return s
}

func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, serverBufLen)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *echoServer) stop() {
	s.ln.Close()
	s.wg.Wait()
}

func (s *echoServer) dial(n int) []net.Conn {
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", s.ln.Addr().String())
		if err != nil {
			fatal("dial %d: %v", i, err)
		}
		conns[i] = c
	}
	return conns
}

// share splits total units over n clients.
func share(total, n, i int) int {
	v := total / n
	if i < total%n {
		v++
	}
	return v
}

// runClients runs fn on every connection concurrently and times the lot.
func runClients(conns []net.Conn, fn func(i int, c net.Conn) error) time.Duration {
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	start := make(chan struct{})
	wg.Add(len(conns))
	for i, c := range conns {
		go func(i int, c net.Conn) {
			defer wg.Done()
			<-start
			if err := fn(i, c); err != nil {
				errs <- err
			}
		}(i, c)
	}
	time.Sleep(10 * time.Millisecond)
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	close(errs)
	for err := range errs {
		fatal("tcp client: %v", err)
	}
	return el
}

func benchTCP() {
	blocks := scaled(echoTotal/echoBlock, tcpClients)
	reqs := scaled(rrTotal, tcpClients*10)
	for _, p := range []int{1, 2} {
		runtime.GOMAXPROCS(p)
		sfx := fmt.Sprintf("_%dw", p)
		s := startEchoServer()
		conns := s.dial(tcpClients)
		runtime.GC()

		// tcp_echo_mbps: write a 64 KiB block, read it back, repeat.
		el := runClients(conns, func(i int, c net.Conn) error {
			wbuf := make([]byte, echoBlock)
			rbuf := make([]byte, echoBlock)
			for j := range wbuf {
				wbuf[j] = byte(i + j)
			}
			for b := share(blocks, tcpClients, i); b > 0; b-- {
				if _, err := c.Write(wbuf); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, rbuf); err != nil {
					return err
				}
			}
			if rbuf[1] != wbuf[1] {
				return fmt.Errorf("echo mismatch")
			}
			return nil
		})
		mib := float64(blocks) * echoBlock / (1 << 20)
		report("tcp_echo_mbps"+sfx, mib/el.Seconds(), "MB/s")

		// tcp_rr_per_sec: 32-byte request, 32-byte response, in lockstep.
		el = runClients(conns, func(i int, c net.Conn) error {
			req := make([]byte, rrMsg)
			resp := make([]byte, rrMsg)
			for r := share(reqs, tcpClients, i); r > 0; r-- {
				req[0] = byte(r)
				if _, err := c.Write(req); err != nil {
					return err
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					return err
				}
				if resp[0] != req[0] {
					return fmt.Errorf("rr mismatch")
				}
			}
			return nil
		})
		report("tcp_rr_per_sec"+sfx, float64(reqs)/el.Seconds(), "req/s")

		for _, c := range conns {
			c.Close()
		}
		s.stop()
	}

	// tcp_idle_conn_bytes: RSS growth per established, idle connection
	// pair (client conn held in a slice, server goroutine parked in Read).
	runtime.GOMAXPROCS(2)
	{
		n := scaled(idleConns, 50)
		s := startEchoServer()
		settle()
		time.Sleep(10 * time.Millisecond)
		rss0 := rssBytes()
		conns := s.dial(n)
		for atomic.LoadInt64(&s.accepted) < int64(n) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // handlers reach Read
		rss1 := rssBytes()
		report("tcp_idle_conn_bytes", float64(rss1-rss0)/float64(n), "bytes")
		for _, c := range conns {
			c.Close()
		}
		s.stop()
	}
}
