#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fabric top -- a terminal view of a mounted fabric, refreshed every second (issue 17).

    fabric top [--interval SECS] [--once]          (tools/fabric: the mount from $FABRIC, else /fabric)
    python3 tools/fabric_top.py MOUNT [--interval SECS] [--once]

It shows each node's capacity and use as a bar, counts of objects, the running and queued tasks with
their node and age, and the last events of MOUNT/events.  `q` quits.  Colour only on a terminal that has
colours and when NO_COLOR is unset or empty (https://no-color.org); --once prints one frame as plain text
(at $COLUMNS x $LINES, else 80 x 24) and exits.

Where each figure comes from, every refresh (nothing here walks every object):
  this node      `json stat` on MOUNT/ctl: node, capacity, used, variables (every variable of this node:
                 mutable objects, shard pieces and dataset items too), mutable, replicas
  other nodes    MOUNT/nodes/NODE/stat (in a cluster): state, capacity, free
  shards         the names in MOUNT/shards/
  datasets       the names in MOUNT/datasets/, and the items and bytes on the first line of each .tree
  tasks          `json tasks`; a task's age from tasks/ID/status (queued=, started=), read once per task
                 and state
  events         MOUNT/events, opened once and kept open, read without blocking when poll says so
A figure an older daemon's answer lacks shows as "-".
"""
import collections
import curses
import datetime
import errno
import locale
import os
import re
import select
import shutil
import signal
import sys
import time
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fabric  # noqa: E402  (tools/fabric.py: the control file)

EVENTS_KEPT = 500        # parsed events remembered (more than any screen shows)
LINE_MAX = 1 << 16       # a partial event line longer than this is dropped
READ_MAX = 1 << 20       # event bytes read per wake-up, so the keyboard is never starved
REDRAW_GAP = 0.1         # seconds between redraws that new events ask for


class NotAFabric(Exception):
    """The directory is not a mounted fabric (the sentence says why)."""


# ---- text: escapes, widths ---------------------------------------------------------------------------

_OCTAL = re.compile(rb"\\([0-7]{3})")


def unescape(field):
    """A field of an events line (bytes) with /proc/mounts-style octal escapes (\\040 space, \\011 tab,
    \\012 newline, \\134 backslash, any \\ooo) undone, as text (bytes that are not UTF-8 kept as
    surrogates)."""
    return _OCTAL.sub(lambda m: bytes([int(m.group(1), 8) & 0xFF]), field).decode("utf-8", "surrogateescape")


_UTF8 = True  # set by main: whether the terminal's locale takes UTF-8 (else non-ASCII is escaped)


def printable(s):
    """s made safe to show on one terminal line: control characters, stray bytes (surrogates), a
    backslash and, outside a UTF-8 locale, anything not ASCII, as \\ooo escapes of their bytes."""
    out = []
    for ch in s:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8
            out.append("\\%03o" % (o - 0xDC00))
        elif ch == "\\" or o < 0x20 or o == 0x7F or (0x80 <= o < 0xA0) or (o > 0x7F and not _UTF8):
            out.extend("\\%03o" % b for b in ch.encode("utf-8", "surrogatepass"))
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.extend("\\%03o" % b for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out)


def _cells(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def width(s):
    """Terminal cells s takes (printable text)."""
    return sum(_cells(c) for c in s)


def clip(s, w):
    """s cut to at most w cells (printable text)."""
    if w <= 0:
        return ""
    if len(s) <= w and s.isascii():
        return s
    n, out = 0, []
    for ch in s:
        c = _cells(ch)
        if n + c > w:
            break
        out.append(ch)
        n += c
    return "".join(out)


def human(n):
    """Bytes as a short size: 512B, 4.0K, 256M, 1.5G."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if n < 1024 or unit == "P":
            if unit == "B":
                return "%dB" % n
            return ("%.1f%s" if n < 10 else "%.0f%s") % (n, unit)
        n /= 1024
    return "?"


def age(secs):
    """Seconds as a short age: 7s, 3m12s, 2h05m, 3d04h."""
    if secs is None:
        return "-"
    s = max(0, int(secs))
    if s < 60:
        return "%ds" % s
    if s < 3600:
        return "%dm%02ds" % (s // 60, s % 60)
    if s < 86400:
        return "%dh%02dm" % (s // 3600, s % 3600 // 60)
    return "%dd%02dh" % (s // 86400, s % 86400 // 3600)


def parse_time(text):
    """ISO-8601 UTC with milliseconds (2026-12-03T08:30:01.123Z) as a POSIX time, or None."""
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()
        except (ValueError, TypeError):
            pass
    return None


# ---- events ------------------------------------------------------------------------------------------

class Event:
    """One line of MOUNT/events: SEQ TIME EVENT PATH [KEY=VALUE...], tab-separated.  Unknown events and
    keys are kept as they come; a line that does not have the four fields is kept whole as .raw."""

    __slots__ = ("seq", "time", "event", "path", "keys", "raw")

    def __init__(self, seq=None, time=None, event=None, path=None, keys=None, raw=None):
        self.seq, self.time, self.event, self.path = seq, time, event, path
        self.keys = keys if keys is not None else {}
        self.raw = raw

    def __repr__(self):
        return "Event(%r, %r, %r, %r, %r, raw=%r)" % (self.seq, self.time, self.event, self.path, self.keys,
                                                      self.raw)


def parse_event(line):
    """An Event from one line of MOUNT/events (bytes or str, without or with its newline)."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    line = line.rstrip(b"\r\n")
    f = line.split(b"\t")
    if len(f) < 4 or not f[0].strip().isdigit():
        return Event(raw=unescape(line))
    keys = collections.OrderedDict()
    for kv in f[4:]:
        k, eq, v = kv.partition(b"=")
        if not k:
            continue
        keys[unescape(k)] = unescape(v) if eq else None
    return Event(int(f[0]), unescape(f[1]), unescape(f[2]), unescape(f[3]), keys)


def _keys_text(keys, skip=()):
    out = []
    for k, v in keys.items():
        if k in skip:
            continue
        if v is None:
            out.append(k)
        elif k == "size" and v.isdigit():
            out.append("size=" + human(int(v)))
        elif k == "xxh3" and len(v) > 8:
            out.append("xxh3=" + v[:8])
        else:
            out.append("%s=%s" % (k, v))
    return " ".join(out)


def describe(ev):
    """(when, kind, text) of an event for its line on the screen (printable, not yet clipped)."""
    if ev.raw is not None:
        return "", "?", printable(ev.raw)
    t = ev.time
    when = t[11:23] if parse_time(t) is not None and len(t) >= 23 else t
    k = ev.keys
    if ev.event == "lost":
        n = k.get("count")
        text = "%s older event(s) lost (this reader was too slow)" % (n if n is not None else "some")
        return printable(when), "lost", printable(text) + (" " + printable(_keys_text(k, ("count",))) if len(k) > 1 else "")
    if ev.event in ("renamed", "moved") and k.get("to") is not None:
        text = "%s -> %s" % (ev.path, k["to"])
        rest = _keys_text(k, ("to",))
    elif ev.event == "task":
        text = ev.path + (" " + k["state"] if k.get("state") is not None else "")
        rest = _keys_text(k, ("state",))
    elif ev.event == "node":
        text = ev.path + (" " + k["state"] if k.get("state") is not None else "")
        rest = _keys_text(k, ("state",))
    else:
        text, rest = ev.path, _keys_text(k)
    return printable(when), printable(ev.event), printable(text + ("  " + rest if rest else ""))


class EventStream:
    """MOUNT/events, opened once and kept open, read without blocking.  .fd is what to poll (None while
    there is nothing worth polling: no stream, or one that said readable and gave nothing, until the
    next tick); .events the last EVENTS_KEPT events; .state None (streaming), "absent" or a sentence."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self._open_fd = None
        self._partial = b""
        self.events = collections.deque(maxlen=EVENTS_KEPT)
        self.state = "absent"
        self.tick()

    def tick(self):
        """Once a refresh: open the stream when it is not open (it may appear), poll it again."""
        if self._open_fd is None:
            try:
                self._open_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                self.state = None
            except OSError as e:
                self.state = "absent" if e.errno == errno.ENOENT else "cannot open %s: %s" % (
                    os.path.basename(self.path), e.strerror)
        self.fd = self._open_fd

    def read(self, polled=False):
        """Take what the stream has now; True when it gave at least one new event.  polled: poll said it
        was readable (so nothing at all to read means poll cannot be trusted on it until the next tick)."""
        if self._open_fd is None:
            return False
        got, total = False, 0
        while total < READ_MAX:
            try:
                b = os.read(self._open_fd, 1 << 16)
            except BlockingIOError:
                break
            except InterruptedError:
                continue
            except OSError as e:
                self.close("reading events: %s" % e.strerror)
                return got
            if not b:
                break
            total += len(b)
            lines = (self._partial + b).split(b"\n")
            self._partial = lines.pop()
            if len(self._partial) > LINE_MAX:
                self._partial = b""
            for line in lines:
                if line:
                    self.events.append(parse_event(line))
                    got = True
        if polled and total == 0:
            self.fd = None  # readable but empty: do not spin on it; the next tick polls it again
        return got

    def close(self, why=None):
        if self._open_fd is not None:
            os.close(self._open_fd)
        self._open_fd = self.fd = None
        self.state = why or "absent"


# ---- what the fabric says ----------------------------------------------------------------------------

def _mount_entry(mount):
    """The /proc/self/mounts line of mount point `mount`, as (source, fstype), or None."""
    want = os.path.realpath(mount)
    found = None
    try:
        with open("/proc/self/mounts", "rb") as f:
            for line in f:
                p = line.split()
                if len(p) >= 3 and unescape(p[1]) == want:
                    found = (unescape(p[0]), unescape(p[2]))  # the last one mounted there wins
    except OSError:
        return None
    return found


def check_fabric(mount):
    """Raise NotAFabric unless mount is a live fabric mount (before anything is written to its ctl, so a
    directory that merely holds a file named ctl is never written to)."""
    if not os.path.isdir(mount):
        raise NotAFabric("no fabric mounted at %s (set FABRIC=DIR)" % mount)
    ent = _mount_entry(mount)
    if ent is None or ent[1] != "fuse.fabric":
        what = "not a mount point" if ent is None else "a %s mount" % ent[1]
        raise NotAFabric("%s is not a fabric mount (%s; set FABRIC=DIR)" % (mount, what))
    try:
        st = fabric.Fabric(mount).ctl("stat", as_json=True)
    except (OSError, ValueError) as e:
        raise NotAFabric("%s does not answer as a fabric: %s" % (mount, e))
    if not isinstance(st, dict) or "node" not in st or "capacity" not in st:
        raise NotAFabric("%s does not answer `json stat` as a fabric does" % mount)


def _kv_text(text):
    """KEY<TAB>VALUE lines as a dict of the first value of each key."""
    d = {}
    for line in text.splitlines():
        k, _, v = line.partition("\t")
        d.setdefault(k, v)
    return d


def _int(v):
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


_TREE_HEAD = re.compile(r"(\d+) items, (\d+) bytes")


class Snapshot:
    """One refresh's figures.  Each part that could not be read is None and says why in .errors."""

    def __init__(self):
        self.when = time.time()
        self.node = None
        self.nodes = []          # dicts: name, state, capacity, used (None when not known)
        self.variables = None
        self.mutable = None      # stat's mutable (None: "-")
        self.replicas = None     # stat's replicas
        self.shards = None
        self.datasets = None
        self.items = None
        self.tasks = None        # dicts: id, state, node, command, since (POSIX time or None)
        self.ended = None
        self.errors = []


class Source:
    """Reads a Snapshot from the mount; keeps what it learnt of each task's times across refreshes."""

    def __init__(self, mount):
        self.mount = mount
        self.fab = fabric.Fabric(mount)
        self._since = {}  # (id, state) -> its time (queued= or started=), read once

    def _listdir(self, sub):
        return sorted(os.listdir(os.path.join(self.mount, sub)))

    def _read(self, sub, limit=1 << 16):
        with open(os.path.join(self.mount, sub), "rb") as f:
            return f.read(limit).decode("utf-8", "surrogateescape")

    def snapshot(self):
        s = Snapshot()
        try:
            st = self.fab.ctl("stat", as_json=True)
            s.node = st.get("node")
            s.variables = st.get("variables")
            s.mutable = st.get("mutable")
            s.replicas = st.get("replicas")
            s.nodes.append({"name": s.node, "state": "up", "capacity": st.get("capacity"), "used": st.get("used")})
        except (OSError, ValueError) as e:
            s.errors.append("stat: %s" % e)
        try:
            peers = [n for n in self._listdir("nodes") if n != s.node]
        except OSError as e:
            peers = []
            s.errors.append("nodes/: %s" % e.strerror)
        for n in peers:
            try:
                d = _kv_text(self._read("nodes/%s/stat" % n))
                cap, free = _int(d.get("capacity")), _int(d.get("free"))
                used = _int(d.get("used"))
                if used is None and cap is not None and free is not None:
                    used = max(0, cap - free)
                s.nodes.append({"name": n, "state": d.get("state") or "?", "capacity": cap, "used": used})
            except OSError as e:
                s.nodes.append({"name": n, "state": "?", "capacity": None, "used": None, "why": e.strerror})
        try:
            s.shards = len(self._listdir("shards"))
        except OSError as e:
            s.errors.append("shards/: %s" % e.strerror)
        try:
            ds = self._listdir("datasets")
            s.datasets, items = len(ds), 0
            for d in ds:
                m = _TREE_HEAD.search(self._read("datasets/%s/.tree" % d, 512).partition("\n")[0])
                if m is None:
                    items = None
                    break
                items += int(m.group(1))
            s.items = items
        except OSError as e:
            s.errors.append("datasets/: %s" % e.strerror)
        try:
            tasks = self.fab.ctl("tasks", as_json=True)
            live = [t for t in tasks if t.get("state") in ("running", "queued")]
            s.ended = len(tasks) - len(live)
            live.sort(key=lambda t: (t.get("state") != "running", t.get("id", 0)))
            s.tasks = [{"id": t.get("id"), "state": t.get("state"), "node": t.get("node") or "-",
                        "command": t.get("command") or ""} for t in live]
            keep = {(t["id"], t["state"]) for t in s.tasks}
            self._since = {k: v for k, v in self._since.items() if k in keep}
        except (OSError, ValueError) as e:
            s.errors.append("tasks: %s" % e)
        return s

    def fill_ages(self, tasks, n):
        """The time since which each of the first n tasks is in its state (its status file, read once a
        task and state)."""
        for t in tasks[:n]:
            key = (t["id"], t["state"])
            if key not in self._since:
                since = None
                try:
                    words = self._read("tasks/%s/status" % t["id"], 4096).partition("\n")[0].split()
                    if words and words[0] == t["state"]:  # else it changed meanwhile: try at the next refresh
                        f = dict(w.partition("=")[::2] for w in words[1:])
                        since = parse_time(f.get("started" if t["state"] == "running" else "queued"))
                        self._since[key] = since
                except OSError:
                    pass
            t["since"] = self._since.get(key)


# ---- the frame ---------------------------------------------------------------------------------------

# A line is a list of (text, style) segments; styles: None, "head", "ok", "warn", "bad", "dim".

def _bar(used, cap, w):
    """[####......] of w cells in all, and the style of its filled part."""
    inner = max(1, w - 2)
    if not cap or used is None:
        return [("[" + " " * inner + "]", "dim")]
    frac = min(1.0, max(0.0, used / cap))
    full = int(round(frac * inner))
    style = "bad" if frac >= 0.9 else "warn" if frac >= 0.7 else "ok"
    return [("[", None), ("#" * full, style), ("." * (inner - full), "dim"), ("]", None)]


def _fit(segs, w):
    """segs clipped to w cells."""
    out, n = [], 0
    for text, style in segs:
        t = clip(text, w - n)
        if t:
            out.append((t, style))
            n += width(t)
        if n >= w:
            break
    return out


def _count(v):
    return "-" if v is None else str(v)


def _allot(space, needs):
    """Rows for each section: one at a time, round-robin, while it needs more and space lasts."""
    got = [0] * len(needs)
    while space > 0:
        gave = False
        for i, need in enumerate(needs):
            if space > 0 and got[i] < need:
                got[i] += 1
                space -= 1
                gave = True
        if not gave:
            break
    return got


def frame(mount, snap, events, src, cols, rows, interval):
    """The screen as a list of at most rows lines of at most cols cells each."""
    if cols < 30 or rows < 8:
        return [[(clip("fabric top: the terminal is too small (%dx%d)" % (cols, rows), cols), None)]]
    clock = time.strftime("%H:%M:%S UTC", time.gmtime(snap.when))
    left = "fabric top  %s  node %s" % (printable(mount), printable(snap.node or "?"))
    right = "%s%s  q quits" % (clock, "  every %gs" % interval if interval != 1.0 else "")
    pad = cols - width(left) - width(right)
    head = [[(left, "head"), (" " * pad, None), (right, None)] if pad >= 1 else [(left + "  " + clock, "head")]]

    here = " on %s" % printable(snap.node) if len(snap.nodes) > 1 and snap.node else ""  # stat's: this node's
    objects = [[("variables %s%s" % (_count(snap.variables), here), None),
                ("  mutable %s" % _count(snap.mutable), None),
                ("  shards %s" % _count(snap.shards), None),
                ("  datasets %s" % _count(snap.datasets), None),
                (" (%s items)" % _count(snap.items) if snap.datasets else "", None),
                ("  replicas %s" % _count(snap.replicas), None)]]

    # nodes: NAME STATE [bar] USED/CAP PCT
    namew = min(16, max([4] + [width(printable(n["name"] or "?")) for n in snap.nodes]))
    node_lines = []
    for n in snap.nodes:
        cap, used = n.get("capacity"), n.get("used")
        pct = "%3d%%" % round(100.0 * used / cap) if cap and used is not None else "   -"
        figures = "%6s/%-6s %s" % (human(used), human(cap), pct)
        barw = cols - namew - 1 - 5 - 1 - 1 - width(figures)
        state = n.get("state") or "?"
        line = [(clip(printable(n["name"] or "?"), namew).ljust(namew) + " ", None),
                (clip(printable(state), 4).ljust(5), "ok" if state == "up" else "bad")]
        line += _bar(used if state == "up" else None, cap if state == "up" else None, max(4, barw))
        line += [(" " + figures, None)]
        node_lines.append(line)

    # tasks
    tasks = snap.tasks or []
    nrun = sum(1 for t in tasks if t["state"] == "running")
    if snap.tasks is None:
        task_head = [("tasks: -", "head")]
    else:
        task_head = [("tasks: %d running, %d queued, %s ended" % (nrun, len(tasks) - nrun, _count(snap.ended)),
                      "head")]

    # events
    if events is None or events.state == "absent":
        ev_head = [("events: no event stream (%s has no events file)" % printable(mount), "head")]
        evs = []
    elif events.state is not None:
        ev_head = [("events: " + printable(events.state), "head")]
        evs = list(events.events)
    else:
        ev_head = [("events", "head")]
        evs = list(events.events)

    errors = ["! " + printable(e) for e in snap.errors]
    fixed = 1 + 1 + 1 + 1 + min(len(errors), 2)  # header, objects, tasks' head, events' head, errors
    need_tasks = len(tasks) + 1 if tasks else 0  # with its column header
    need_events = len(evs) if evs else (1 if ev_head and events is not None and events.state is None else 0)
    nn, nt, ne = _allot(rows - fixed, [len(node_lines), need_tasks, need_events])

    out = list(head)
    shown = node_lines[:nn]
    if nn < len(node_lines) and nn > 0:
        shown[-1] = [("... %d more node(s)" % (len(node_lines) - nn + 1), "dim")]
    out += shown
    out += objects
    out.append(task_head)
    if nt > 0:
        rows_t = nt - 1
        src.fill_ages(tasks, rows_t)
        idw = max([2] + [len(str(t["id"])) for t in tasks[:rows_t]])
        nodew = min(16, max([4] + [width(printable(t["node"])) for t in tasks[:rows_t]]))
        out.append([("  %s %-8s %s %6s COMMAND" % ("ID".rjust(idw), "STATE", "NODE".ljust(nodew), "AGE"), "dim")])
        for i, t in enumerate(tasks[:rows_t]):
            if i == rows_t - 1 and rows_t < len(tasks):
                out.append([("  ... %d more task(s)" % (len(tasks) - rows_t + 1), "dim")])
                break
            since = t.get("since")
            out.append([("  %s " % str(t["id"]).rjust(idw), None),
                        ("%-8s " % t["state"], "ok" if t["state"] == "running" else "warn"),
                        ("%s %6s " % (clip(printable(t["node"]), nodew).ljust(nodew),
                                       age(snap.when - since) if since else "-"), None),
                        (printable(t["command"]), None)])
    out.append(ev_head)
    if ne > 0:
        if not evs:
            out.append([("  (none since top started)", "dim")])
        for ev in evs[-ne:]:
            when, kind, text = describe(ev)
            style = ("bad" if kind in ("removed", "lost") or ev.keys.get("state") in ("down", "failed", "killed",
                                                                                       "lost", "timed-out")
                     else "ok" if kind in ("created", "sealed") else None)
            out.append([("  %s " % when if when else "  ", "dim"), ("%-8s" % kind, style), (" " + text, None)])
    for e in errors[:2]:
        out.append([(e, "bad")])
    return [_fit(line, cols) for line in out[:rows]]


def plain(lines):
    return "\n".join("".join(t for t, _ in line) for line in lines)


# ---- the terminal ------------------------------------------------------------------------------------

def _colours():
    """Attributes of the styles: colours when the terminal has them and NO_COLOR is unset or empty."""
    attrs = {None: curses.A_NORMAL, "head": curses.A_BOLD, "ok": curses.A_NORMAL, "warn": curses.A_NORMAL,
             "bad": curses.A_NORMAL, "dim": curses.A_NORMAL}
    if os.environ.get("NO_COLOR") or not curses.has_colors():
        return attrs
    try:
        curses.start_color()
        curses.use_default_colors()
        bg = -1
    except curses.error:
        bg = curses.COLOR_BLACK
    for i, (style, fg) in enumerate((("ok", curses.COLOR_GREEN), ("warn", curses.COLOR_YELLOW),
                                     ("bad", curses.COLOR_RED), ("head", curses.COLOR_CYAN)), 1):
        try:
            curses.init_pair(i, fg, bg)
            attrs[style] = curses.color_pair(i) | (curses.A_BOLD if style == "head" else 0)
        except curses.error:
            pass
    return attrs


def _draw(scr, lines, attrs):
    scr.erase()
    h, w = scr.getmaxyx()
    for y, line in enumerate(lines[:h]):
        x = 0
        for text, style in line:
            room = w - x - (1 if y == h - 1 else 0)  # the last cell of the last row cannot be written
            text = clip(text, room)
            if not text:
                break
            try:
                scr.addstr(y, x, text, attrs.get(style, curses.A_NORMAL))
            except curses.error:
                break
            x += width(text)
    scr.refresh()


def _loop(scr, mount, interval):
    attrs = _colours()
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    scr.nodelay(True)
    scr.keypad(True)
    src = Source(mount)
    events = EventStream(os.path.join(mount, "events"))
    keys = sys.stdin.fileno()
    snap, next_tick, drawn, dirty = None, 0.0, 0.0, False
    while True:
        now = time.monotonic()
        if now >= next_tick:
            snap = src.snapshot()
            events.tick()
            events.read()
            next_tick = now + interval
            dirty = True
        if dirty and (drawn == 0.0 or time.monotonic() - drawn >= REDRAW_GAP):
            h, w = scr.getmaxyx()
            _draw(scr, frame(mount, snap, events, src, w, h, interval), attrs)
            drawn, dirty = time.monotonic(), False
        wait = next_tick - time.monotonic()
        if dirty:
            wait = min(wait, drawn + REDRAW_GAP - time.monotonic())
        p = select.poll()
        p.register(keys, select.POLLIN)
        if events.fd is not None:
            p.register(events.fd, select.POLLIN)
        for fd, ev in p.poll(max(0, int(wait * 1000) + 1)):
            if fd == keys:
                while True:
                    ch = scr.getch()
                    if ch == -1:
                        break
                    if ch in (ord("q"), ord("Q")):
                        return
                    if ch == curses.KEY_RESIZE or ch == 12:  # ^L
                        dirty = True
            elif fd == events.fd:
                if ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) and not ev & select.POLLIN:
                    events.close("the event stream ended")
                    dirty = True
                elif events.read(polled=True):
                    dirty = True


def _wrapper(mount, interval):
    """curses.wrapper without its start_color(): that call alone makes ncurses paint every cell white on
    black (colour escapes) on a terminal that has colours, NO_COLOR or not; _colours starts colour only
    when it is wanted."""
    scr = curses.initscr()
    try:
        curses.noecho()
        curses.cbreak()
        _loop(scr, mount, interval)
    finally:
        try:
            scr.keypad(False)
            curses.echo()
            curses.nocbreak()
        finally:
            curses.endwin()


def _interval(text):
    try:
        v = float(text)
    except ValueError:
        v = -1
    if not 0.1 <= v <= 3600:
        raise ValueError("--interval takes seconds from 0.1 to 3600, not %r" % text)
    return v


def main(argv):
    global _UTF8
    usage = "usage: fabric top [--interval SECS] [--once]   (fabric_top.py MOUNT [--interval SECS] [--once])"
    args, interval, once, mount = list(argv), 1.0, False, None
    try:
        while args:
            a = args.pop(0)
            if a in ("-h", "--help"):
                print(usage)
                return 0
            if a == "--once":
                once = True
            elif a in ("--interval", "-n") and args:
                interval = _interval(args.pop(0))
            elif a.startswith("--interval="):
                interval = _interval(a.split("=", 1)[1])
            elif mount is None and not a.startswith("-"):
                mount = a
            else:
                raise ValueError("unknown argument %r" % a)
    except ValueError as e:
        sys.stderr.write("fabric top: %s\n%s\n" % (e, usage))
        return 2
    mount = os.path.abspath(mount or os.environ.get("FABRIC") or "/fabric")
    try:
        check_fabric(mount)
    except NotAFabric as e:
        sys.stderr.write("fabric top: %s\n" % e)
        return 1
    locale.setlocale(locale.LC_ALL, "")
    _UTF8 = locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"
    if once:
        cols, rows = shutil.get_terminal_size((80, 24))
        src = Source(mount)
        print(plain(frame(mount, src.snapshot(), EventStream(os.path.join(mount, "events")), src, cols, rows,
                          interval)))
        return 0
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write("fabric top: needs a terminal (for one frame as text: fabric top --once)\n")
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        _wrapper(mount, interval)
    except KeyboardInterrupt:
        pass
    except curses.error as e:
        sys.stderr.write("fabric top: this terminal (TERM=%s) cannot be drawn on: %s (fabric top --once prints "
                         "one frame as text)\n" % (os.environ.get("TERM", ""), e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
