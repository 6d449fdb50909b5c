#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# election.py -- the etcd leader's death as a writer sees it (make bench, case "cluster"):
#
#     election.py WRITER_MOUNT READER_MOUNT CLUSTER_DIR FABRIC_TOOL
#
# A writer makes a 100-byte variable vars/el/eNNNNN on WRITER_MOUNT every 10 ms; a reader polls for each
# on READER_MOUNT (another node) and notes when it appears.  After 3 s the etcd leader is killed
# (`fabric cluster etcd DIR stop K`); the writer goes on for 10 s more; then every name must appear within
# 60 s, and the member is started again.  Prints one line, in nanoseconds:
#     BASE_MEDIAN  MAX_AFTER_KILL  MAX_CREATE_AFTER_KILL
# the median delay (close on the writer to visible on the reader) of the names made before the kill, the
# longest delay of a name made after it, and the longest create + write + close after it (a create does
# not wait for etcd: this shows it).  On any failure: one line on stderr, exit 1.
import os
import subprocess
import sys
import threading
import time

wm, rm, fc, fab = sys.argv[1:5]
PERIOD, BASE_S, AFTER_S, DRAIN_S = 0.010, 3.0, 10.0, 60.0


def die(msg):
    sys.stderr.write("election.py: " + msg + "\n")
    sys.exit(1)


def etcd(*args):
    r = subprocess.run([fab, "cluster", "etcd", fc] + list(args), capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        die("fabric cluster etcd %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


os.makedirs(os.path.join(wm, "vars", "el"), exist_ok=True)
t_end = time.monotonic() + 20
while not os.path.isdir(os.path.join(rm, "vars", "el")):
    if time.monotonic() > t_end:
        die("vars/el did not reach the other node in 20 s")
    time.sleep(0.01)

closed = []  # per name: when its close returned
seen = {}  # index -> when the reader saw it
create_ns = []  # per name: create + write + close
stop = threading.Event()
lock = threading.Lock()


def reader():
    nxt = 0
    while not stop.is_set() or nxt < len(closed):
        with lock:
            n = len(closed)
        for i in range(nxt, n):
            if i in seen:
                continue
            if os.path.exists(os.path.join(rm, "vars", "el", "e%05d" % i)):
                seen[i] = time.monotonic_ns()
        while nxt in seen:
            nxt += 1
        time.sleep(0.002)


rt = threading.Thread(target=reader, daemon=True)
rt.start()
t0 = time.monotonic()
kill_at = None
k = None
i = 0
while time.monotonic() - t0 < BASE_S + AFTER_S:
    if kill_at is None and time.monotonic() - t0 >= BASE_S:
        k = etcd("leader")
        if k not in ("1", "2", "3"):
            die("no etcd leader to kill (%r)" % k)
        etcd("stop", k)
        kill_at = len(closed)
    a = time.monotonic_ns()
    with open(os.path.join(wm, "vars", "el", "e%05d" % i), "wb") as f:
        f.write(b"x" * 100)
    b = time.monotonic_ns()
    with lock:
        closed.append(b)
    create_ns.append(b - a)
    i += 1
    time.sleep(PERIOD)
deadline = time.monotonic() + DRAIN_S
while len(seen) < len(closed) and time.monotonic() < deadline:
    time.sleep(0.05)
stop.set()
rt.join(5)
etcd("start", k)
if len(seen) < len(closed):
    die("%d of %d names never reached the other node" % (len(closed) - len(seen), len(closed)))
if not kill_at:
    die("the leader was not killed")
base = sorted(seen[j] - closed[j] for j in range(kill_at))
after = [seen[j] - closed[j] for j in range(kill_at, len(closed))]
print(base[len(base) // 2], max(after), max(create_ns[kill_at:]))
