#!/usr/bin/env python3
"""Run uvgo's C benchmarks beside their Go twins and tabulate the ratios.

    bench/compare.py --uvgo build/bench/uvgo-bench --go-dir bench/go \\
        [--runs 5] [--scale 1.0] [--only w1,w2] [--json FILE] [workloads...]

Both binaries take `WORKLOAD [--scale F]` and print lines
`BENCH <metric> <value> <unit>`. For every workload the two binaries are run
alternately, --runs times each; the table shows the median of each metric,
and the ratio uvgo/go. For throughput units (MB/s, req/s, x) higher is
better, for everything else lower is better.

Without workload names, every workload either binary lists (`--list`) is
run. A workload that a binary does not know (exit code 2, or `UNKNOWN` on
stdout) is reported as not implemented there. The exit status is 0 unless a
binary crashed (any other non-zero exit, a signal, or a timeout).

Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HIGHER_IS_BETTER = {"MB/s", "req/s", "hs/s", "x"}
UNKNOWN_EXIT = 2
BENCH_RE = re.compile(r"^BENCH\s+(\S+)\s+(\S+)\s+(\S+)\s*$")

# Used when neither binary can list its workloads.
DEFAULT_WORKLOADS = ["switch", "spawn", "parked", "yield", "hop", "fanout",
                     "chan", "ctx", "sync", "tcp"]


def better(unit):
    return ("higher is better" if unit in HIGHER_IS_BETTER
            else "lower is better")


def build_go(go_dir, out_dir):
    """go build the Go twin into out_dir; returns the binary's path."""
    env = dict(os.environ)
    env["GOFLAGS"] = "-mod=mod"
    env["GOPROXY"] = "off"
    env["GOTOOLCHAIN"] = "local"
    if not env.get("GOCACHE"):
        env["GOCACHE"] = os.path.join(out_dir, "gocache")
    if not env.get("GOPATH") and not env.get("HOME"):
        env["GOPATH"] = os.path.join(out_dir, "gopath")
    exe = os.path.join(out_dir, "go-bench")
    go = shutil.which("go") or "/usr/bin/go"
    proc = subprocess.run([go, "build", "-o", exe, "."], cwd=go_dir, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise SystemExit("compare.py: go build failed in %s" % go_dir)
    return exe


def list_workloads(binary):
    """`BINARY --list`, or None if it does not answer."""
    try:
        proc = subprocess.run([binary, "--list"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = [l.strip() for l in proc.stdout.splitlines() if l.strip()]
    return names or None


class Run:
    """The outcome of one binary on one workload: status is 'ok',
    'unknown' or 'crash'."""

    def __init__(self, status, metrics, detail=""):
        self.status = status
        self.metrics = metrics  # name -> (value, unit)
        self.detail = detail


def run_one(binary, workload, scale, timeout):
    cmd = [binary, workload, "--scale", repr(scale)]
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Run("crash", {}, "timed out after %ss" % timeout)
    except OSError as e:
        return Run("crash", {}, str(e))
    metrics = {}
    for line in proc.stdout.splitlines():
        m = BENCH_RE.match(line.strip())
        if m:
            try:
                metrics[m.group(1)] = (float(m.group(2)), m.group(3))
            except ValueError:
                pass
    says_unknown = any(l.strip().startswith("UNKNOWN")
                       for l in proc.stdout.splitlines())
    rc = proc.returncode
    if rc == 0:
        if says_unknown and not metrics:
            return Run("unknown", {})
        return Run("ok", metrics)
    # Exit code 2 means "unknown workload" -- unless it is a Go runtime
    # panic/fatal error (which also exits 2) or the run had already
    # printed results.
    err = proc.stderr
    runtime_failure = ("panic:" in err or "fatal error:" in err)
    if says_unknown or (rc == UNKNOWN_EXIT and not metrics
                        and not runtime_failure):
        return Run("unknown", {})
    tail = "\n".join(err.strip().splitlines()[-5:])
    if rc < 0:
        what = "killed by signal %d" % -rc
    else:
        what = "exit code %d" % rc
    return Run("crash", metrics, what + (": " + tail if tail else ""))


def fmt_val(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def print_table(rows):
    header = ("metric", "unit", "uvgo", "go", "uvgo/go", "better")
    cells = [header] + [tuple(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    right = {2, 3, 4}

    def line(c):
        return "  ".join(c[i].rjust(widths[i]) if i in right
                         else c[i].ljust(widths[i])
                         for i in range(len(c))).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(
        description="Compare uvgo's C benchmarks with their Go twins.")
    ap.add_argument("--uvgo", required=True,
                    help="the uvgo benchmark binary (uvgo-bench)")
    ap.add_argument("--go-dir",
                    default=os.path.join(os.path.dirname(
                        os.path.abspath(__file__)), "go"),
                    help="directory of the Go twin (default: bench/go)")
    ap.add_argument("--go-bin",
                    help="use this prebuilt Go twin instead of building")
    ap.add_argument("--runs", type=int, default=5,
                    help="runs per binary and workload (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="iteration-count multiplier (default 1.0)")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads to run")
    ap.add_argument("--json", metavar="FILE",
                    help="also write all samples and medians to FILE")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds allowed per single run (default 600)")
    ap.add_argument("workloads", nargs="*")
    args = ap.parse_args()

    if args.runs < 1:
        ap.error("--runs must be at least 1")
    uvgo = os.path.abspath(args.uvgo)
    if not os.access(uvgo, os.X_OK):
        ap.error("not an executable: %s" % args.uvgo)

    tmp = tempfile.mkdtemp(prefix="uvgo-compare-")
    try:
        if args.go_bin:
            gobin = os.path.abspath(args.go_bin)
        else:
            print("building the Go twin from %s ..." % args.go_dir,
                  file=sys.stderr)
            gobin = build_go(os.path.abspath(args.go_dir), tmp)
        return compare(args, uvgo, gobin)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare(args, uvgo, gobin):
    wanted = [w for w in args.only.split(",") if w] + list(args.workloads)
    if not wanted:
        # Every workload either binary knows, the Go twin's order first.
        wanted = ((list_workloads(gobin) or DEFAULT_WORKLOADS)
                  + (list_workloads(uvgo) or []))
    seen = set()
    wanted = [w for w in wanted if not (w in seen or seen.add(w))]

    sides = (("uvgo", uvgo), ("go", gobin))
    try:
        load = open("/proc/loadavg").read().split()[:3]
        print("# load average before: %s; scale %g, runs %d"
              % (" ".join(load), args.scale, args.runs))
    except OSError:
        pass

    crashed = False
    report = {"uvgo": uvgo, "go": gobin, "scale": args.scale,
              "runs": args.runs, "workloads": {}}
    all_rows = []
    for w in wanted:
        samples = {"uvgo": {}, "go": {}}
        units = {}
        order = []
        status = {"uvgo": "ok", "go": "ok"}
        notes = []
        t0 = time.time()
        for r in range(args.runs):
            for side, binary in sides:
                if status[side] != "ok":
                    continue  # unknown or crashed: do not retry
                res = run_one(binary, w, args.scale, args.timeout)
                for name, (val, unit) in res.metrics.items():
                    if name not in units:
                        units[name] = unit
                        order.append(name)
                    elif units[name] != unit:
                        notes.append("%s: unit %s on %s, %s elsewhere"
                                     % (name, unit, side, units[name]))
                    samples[side].setdefault(name, []).append(val)
                if res.status != "ok":
                    status[side] = res.status
                    if res.status == "crash":
                        crashed = True
                        notes.append("%s crashed on %s: %s"
                                     % (side, w, res.detail))
        elapsed = time.time() - t0

        print()
        print("== %s  (%.1f s)" % (w, elapsed))
        for side in ("uvgo", "go"):
            if status[side] == "unknown":
                print("   %s: not implemented in %s" % (w, side))
        for n in notes:
            print("   NOTE: " + n)

        wrep = {"status": dict(status), "notes": notes, "metrics": {}}
        rows = []
        for name in order:
            unit = units[name]
            med = {}
            for side in ("uvgo", "go"):
                vals = samples[side].get(name)
                med[side] = statistics.median(vals) if vals else None
            ratio = None
            if med["uvgo"] is not None and med["go"] not in (None, 0):
                ratio = med["uvgo"] / med["go"]
            rows.append((name, unit, fmt_val(med["uvgo"]), fmt_val(med["go"]),
                         "-" if ratio is None else "%.2f" % ratio,
                         better(unit)))
            wrep["metrics"][name] = {
                "unit": unit,
                "better": better(unit),
                "uvgo": samples["uvgo"].get(name, []),
                "go": samples["go"].get(name, []),
                "uvgo_median": med["uvgo"],
                "go_median": med["go"],
                "ratio": ratio,
            }
        if rows:
            print_table(rows)
        elif all(s == "unknown" for s in status.values()):
            print("   (no binary knows this workload)")
        all_rows.extend(rows)
        report["workloads"][w] = wrep
        sys.stdout.flush()

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, sort_keys=False)
            f.write("\n")
    if crashed:
        print("\ncompare.py: at least one benchmark binary crashed",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
