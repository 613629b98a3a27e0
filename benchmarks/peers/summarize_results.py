#!/usr/bin/env python
"""Turn the JSON lines written by run_peers.sh (or the single scripts) into a Markdown table.

    python benchmarks/peers/summarize_results.py peers_results.jsonl [more.jsonl ...]

Needs only the standard library.  Lines with an "error" key are listed after the table.
"""
import json
import sys


def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float):
        if x != x:
            return "nan"
        return f"{x:.{nd}f}" if abs(x) >= 10 ** -nd or x == 0 else f"{x:.3g}"
    return str(x)


def sig(x):
    return "-" if x is None else f"{x:.4g}"


def main(paths):
    rows, errors = [], []
    for path in paths:
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                d = json.loads(line)
                (errors if "error" in d else rows).append(d)
    head = ("| peer | workload | backend | N | p | steps | run s (wall) | run s (CPU) | setup s | compile s "
            "| loop CPU s incl. compile | peak RSS MB | load | threads | signal mean | signal std |")
    print(head)
    print("|" + "|".join([" --- "] * (head.count("|") - 1)) + "|")
    for d in rows:
        s = d.get("summary", {})
        print("| " + " | ".join([
            d.get("peer", "?"), d.get("workload", "?"), str(d.get("backend", "")).split("(")[0],
            fmt(d.get("n_nodes")), fmt(d.get("p", "")), fmt(d.get("n_steps")),
            fmt(d.get("seconds")), fmt(d.get("cpu_seconds")), fmt(d.get("setup_seconds")),
            fmt(d.get("compile_seconds")), fmt(d.get("solve_cpu_seconds")), fmt(d.get("peak_rss_mb"), 0), fmt(d.get("loadavg_1min_end"), 1), fmt(d.get("threads")),
            sig(s.get("mean")), sig(s.get("std")),
        ]) + " |")
    for e in errors:
        print(f"\n* failed: `{e.get('script')} {e.get('args')}`: {e.get('error')}")


if __name__ == "__main__":
    main(sys.argv[1:])
