package main

// The Go twin of bench/bench_tls.c: same workloads, names and sizes, same
// key type and cipher (ECDSA P-256, TLS 1.3 TLS_AES_128_GCM_SHA256, X25519),
// GOMAXPROCS(2) as uvgo's two workers.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuUs is the process CPU time (user + system) in microseconds.
func cpuUs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec)*1e6 + float64(ru.Utime.Usec+ru.Stime.Usec)
}

const (
	hsClients = 16
	hsTotal   = 4000
	bulkTotal = 256 << 20
	bulkBlock = 64 << 10
	tlsIdle   = 1000
)

func tlsCert() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		fatal("key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		fatal("cert: %v", err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type tlsServer struct {
	ln       net.Listener
	accepted int64
	open     int64
	sink     bool
	wg       sync.WaitGroup
}

func startTLSServer(cert tls.Certificate, sink bool) *tlsServer {
	cfg := &tls.Config{
		Certificates:     []tls.Certificate{cert},
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		fatal("listen: %v", err)
	}
	s := &tlsServer{ln: ln, sink: sink}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			atomic.AddInt64(&s.accepted, 1)
			atomic.AddInt64(&s.open, 1)
			go s.serve(c)
		}
	}()
	return s
}

func (s *tlsServer) serve(c net.Conn) {
	defer atomic.AddInt64(&s.open, -1)
	defer c.Close()
	buf := make([]byte, bulkBlock)
	for {
		n, err := c.Read(buf)
		if n > 0 && !s.sink {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if s.sink {
				c.Write([]byte("k"))
			}
			return
		}
	}
}

func (s *tlsServer) stop() {
	s.ln.Close()
	s.wg.Wait()
	for atomic.LoadInt64(&s.open) > 0 {
		time.Sleep(time.Millisecond)
	}
}

func clientConfig(pool *x509.CertPool, cache bool) *tls.Config {
	cfg := &tls.Config{
		RootCAs:          pool,
		ServerName:       "localhost",
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	if cache {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return cfg
}

func hsOnce(addr string, cfg *tls.Config) bool {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		fatal("tls dial: %v", err)
	}
	b := []byte{'x'}
	if _, err := c.Write(b); err != nil {
		fatal("write: %v", err)
	}
	if _, err := io.ReadFull(c, b); err != nil {
		fatal("read: %v", err)
	}
	resumed := c.ConnectionState().DidResume
	c.Close()
	return resumed
}

func hsRun(addr string, cfg *tls.Config, total int) (float64, float64) {
	if cfg.ClientSessionCache != nil {
		hsOnce(addr, cfg)
	}
	per := total / hsClients
	var wg sync.WaitGroup
	var resumed int64
	start := make(chan struct{})
	wg.Add(hsClients)
	for i := 0; i < hsClients; i++ {
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < per; j++ {
				if hsOnce(addr, cfg) {
					atomic.AddInt64(&resumed, 1)
				}
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	t0 := time.Now()
	c0 := cpuUs()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	cpu := (cpuUs() - c0) / float64(per*hsClients)
	if cfg.ClientSessionCache != nil && resumed < int64(per*hsClients) {
		logf("warning: %d of %d handshakes resumed", resumed, per*hsClients)
	}
	return float64(per*hsClients) / el.Seconds(), cpu
}

func benchTLS() {
	runtime.GOMAXPROCS(2)
	cert, pool := tlsCert()

	s := startTLSServer(cert, false)
	addr := s.ln.Addr().String()
	total := scaled(hsTotal, hsClients*4)
	rate, cpu := hsRun(addr, clientConfig(pool, false), total)
	report("tls_handshakes_per_sec", rate, "hs/s")
	report("tls_handshake_cpu_us", cpu, "us")
	rate, cpu = hsRun(addr, clientConfig(pool, true), total)
	report("tls_resumed_per_sec", rate, "hs/s")
	report("tls_resumed_cpu_us", cpu, "us")
	s.stop()

	// tls_bulk_mbps: one connection, 64 KiB writes, the server discards.
	s = startTLSServer(cert, true)
	c, err := tls.Dial("tcp", s.ln.Addr().String(), clientConfig(pool, false))
	if err != nil {
		fatal("tls dial: %v", err)
	}
	buf := make([]byte, bulkBlock)
	for i := range buf {
		buf[i] = 'b'
	}
	blocks := scaled(bulkTotal/bulkBlock, 64)
	t0 := time.Now()
	c0 := cpuUs()
	for i := 0; i < blocks; i++ {
		if _, err := c.Write(buf); err != nil {
			fatal("write: %v", err)
		}
	}
	c.CloseWrite()
	k := make([]byte, 1)
	if _, err := io.ReadFull(c, k); err != nil {
		fatal("ack: %v", err)
	}
	el := time.Since(t0)
	report("tls_bulk_mbps", float64(blocks)*bulkBlock/(1<<20)/el.Seconds(), "MB/s")
	report("tls_bulk_cpu_ms_per_gib", (cpuUs()-c0)/1e3/(float64(blocks)*bulkBlock/(1<<30)), "ms")
	c.Close()
	s.stop()

	// tls_idle_conn_bytes: RSS growth per idle TLS pair (client conn held,
	// server goroutine parked in Read), after one round trip each.
	s = startTLSServer(cert, false)
	cfg := clientConfig(pool, false)
	warm, err := tls.Dial("tcp", s.ln.Addr().String(), cfg)
	if err != nil {
		fatal("tls dial: %v", err)
	}
	settle()
	time.Sleep(10 * time.Millisecond)
	rss0 := rssBytes()
	n := scaled(tlsIdle, 50)
	conns := make([]*tls.Conn, n)
	b := []byte{'x'}
	for i := range conns {
		c, err := tls.Dial("tcp", s.ln.Addr().String(), cfg)
		if err != nil {
			fatal("tls dial %d: %v", i, err)
		}
		if _, err := c.Write(b); err != nil {
			fatal("write: %v", err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			fatal("read: %v", err)
		}
		conns[i] = c
	}
	time.Sleep(50 * time.Millisecond)
	rss1 := rssBytes()
	report("tls_idle_conn_bytes", float64(rss1-rss0)/float64(n), "bytes")
	for _, c := range conns {
		c.Close()
	}
	warm.Close()
	s.stop()
}
