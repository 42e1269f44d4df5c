#!/usr/bin/env python3
"""RSS of a whole process tree (a process and all its descendants), from /proc.

  rss_tree.py now PID            prints the tree's current RSS in MB
  rss_tree.py watch PID OUT      samples every 50 ms until PID exits; keeps the peak in OUT (MB)

`/usr/bin/time` reports the largest single process of a tree; a worker and its parser children
are all resident at once, so the goals measure their sum.
"""
import os
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_mb(root):
    kids = children_map()
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += rss_kb(p)
        stack.extend(kids.get(p, []))
    return total / 1024


def main():
    mode, pid = sys.argv[1], int(sys.argv[2])
    if mode == "now":
        print(f"{tree_mb(pid):.0f}")
        return
    out = sys.argv[3]
    peak = 0.0
    while os.path.exists(f"/proc/{pid}"):
        peak = max(peak, tree_mb(pid))
        with open(out + ".tmp", "w") as f:
            f.write(f"{peak:.0f}\n")
        os.replace(out + ".tmp", out)
        time.sleep(0.05)


if __name__ == "__main__":
    main()
