#!/usr/bin/env python3
"""Draw bench/http_server_bench.sh's tables as one PNG (two panels: the
server under wrk, and the fetch-all demo), for docs/benchmarks.md.

    python3 bench/http_server_chart.py TSV OUT.png

Needs matplotlib (Debian: apt-get install python3-matplotlib; it is a
development tool, not part of the test command). Run it with the Python
that has it, e.g. /usr/bin/python3."""
import sys

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("needs matplotlib (apt-get install python3-matplotlib; "
             "run with /usr/bin/python3)")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])
            if line.strip()]
    panels = [("server", "HTTP server: wrk -t2 -c100, 1 KiB keep-alive"),
              ("fetch", "fetch-all demo: 10,000 URLs, 100 at a time, one process")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (kind, title) in zip(axes, panels):
        names = [r[1] for r in rows if r[0] == kind]
        vals = [float(r[2]) for r in rows if r[0] == kind]
        colors = ["#2a7ab9" if n.startswith("uvgo") else
                  "#7fbf7f" if n.startswith("Go") else "#c98b2b" for n in names]
        bars = ax.barh(names, vals, color=colors)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("requests per second")
        for b, v in zip(bars, vals):
            ax.text(b.get_width(), b.get_y() + b.get_height() / 2,
                    " %.0f" % v, va="center", fontsize=8)
        ax.set_xlim(0, max(vals) * 1.18 if vals else 1)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print("wrote", sys.argv[2])


if __name__ == "__main__":
    main()
