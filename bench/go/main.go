// Command go-bench is the Go twin of uvgo's bench/ driver.
//
//	go-bench WORKLOAD [--scale F]
//	go-bench --list
//
// Each workload prints one or more lines `BENCH <metric> <value> <unit>` on
// stdout (diagnostics go to stderr). The metric names match the uvgo C
// benchmarks so that bench/compare.py can set them side by side. An unknown
// workload prints `UNKNOWN <name>` and exits with code 2.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

type workload struct {
	name string
	fn   func()
}

// Canonical order, also the order of `--list`.
var workloads = []workload{
	{"switch", benchSwitch},
	{"spawn", benchSpawn},
	{"parked", benchParked},
	{"yield", benchYield},
	{"hop", benchHop},
	{"fanout", benchFanout},
	{"chan", benchChan},
	{"ctx", benchCtx},
	{"sync", benchSync},
	{"tcp", benchTCP},
	{"tls", benchTLS},
	{"scale", benchScale},
}

var scale = 1.0

// scaled returns n times --scale, never below min.
func scaled(n, min int) int {
	v := int(float64(n) * scale)
	if v < min {
		return min
	}
	return v
}

func report(metric string, value float64, unit string) {
	fmt.Printf("BENCH %s %.3f %s\n", metric, value, unit)
}

func logf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// fatal reports a failure and exits with code 1 (not 2, which
// compare.py reads as "unknown workload").
func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-bench: "+format+"\n", args...)
	os.Exit(1)
}

func nsPerOp(d time.Duration, ops int) float64 {
	return float64(d.Nanoseconds()) / float64(ops)
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// statusKB reads a "Field:   N kB" line of /proc/self/status.
func statusKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			fs := strings.Fields(line[len(field)+1:])
			if len(fs) > 0 {
				v, err := strconv.ParseInt(fs[0], 10, 64)
				if err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func rssBytes() int64 { return statusKB("VmRSS") * 1024 }
func pteBytes() int64 { return statusKB("VmPTE") * 1024 }

// settle runs a full GC and returns freed memory to the OS so that an
// RSS baseline is taken from a quiet heap.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
}

func medianDur(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// sink keeps results alive so loops are not optimized away.
var sink uint64

func usage() {
	fmt.Fprintf(os.Stderr, "usage: %s WORKLOAD [--scale F] | --list\n", os.Args[0])
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	args := os.Args[2:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		var val string
		switch {
		case a == "--scale" && i+1 < len(args):
			val = args[i+1]
			i++
		case strings.HasPrefix(a, "--scale="):
			val = strings.TrimPrefix(a, "--scale=")
		default:
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err == nil && f > 0 {
			scale = f
		}
	}
	if name == "--list" || name == "-l" {
		for _, w := range workloads {
			fmt.Println(w.name)
		}
		return
	}
	for _, w := range workloads {
		if w.name == name {
			w.fn()
			return
		}
	}
	fmt.Printf("UNKNOWN %s\n", name)
	os.Exit(2)
}
