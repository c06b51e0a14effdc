"""A raw joulestatd protocol client (docs/daemon.md), for test_daemon.py and
run as whichever user the test makes it. Prints one JSON document.

  daemon_client.py poll SOCKET SECONDS      one client reading as fast as it can
  daemon_client.py reconnect SOCKET SECONDS a new connection for every READ
  daemon_client.py map SOCKET SECONDS       the shared page (MAP), watched as fast
                                            as it can be (protocol 2: the page's
                                            layout)
  daemon_client.py hello SOCKET [MIN MAX]   the HELLO reply to versions MIN..MAX
                                            (1..1 unless said)

poll, reconnect and crowd speak protocol 1, as an older client would.
  daemon_client.py crowd SOCKET N SECONDS   N clients at 10 Hz each, beside a
                                            client that never reads its replies
                                            and one that sends garbage
"""
import json
import mmap
import socket
import struct
import sys
import time

MAGIC = 0x4453544A
HELLO, DOMAIN, READ, MAP, ERROR = 1, 2, 3, 4, 15
DSHM_MAGIC = 0x4D485344
SHM_HEAD = struct.Struct("<IIQqq")  # magic, ndomains, seq, updated_ns, resolution_ns
# Protocol 2's reading: status, gap epoch, instant, its error, counter, power,
# value count, then ten doubles (refresh, unseen totals, means' totals, telemetry).
SHM_READING = struct.Struct("<iIqqQdQ" + "d" * 10)
HDR = struct.Struct("<IHHII")
READING = struct.Struct("<iqqqd")


def request(kind, seq, body=b""):
    return HDR.pack(MAGIC, 1, kind, seq, len(body)) + body


def parse(buf):
    magic, _ver, kind, seq, blen = HDR.unpack_from(buf)
    assert magic == MAGIC and blen == len(buf) - HDR.size, buf
    return kind, seq, buf[HDR.size:]


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(path)
    return s


def hello(s, versions=(1, 1)):
    try:
        s.send(request(HELLO, 1, struct.pack("<HH", *versions)))
    except BrokenPipeError:
        pass  # refused at once: the reason waits in the queue
    kind, seq, body = parse(s.recv(4096))
    if kind == ERROR:
        code, = struct.unpack_from("<i", body)
        return {"error": code, "text": body[4:].split(b"\0")[0].decode()}
    ver, _pad, n, res = struct.unpack("<HHIQ", body)
    return {"version": ver, "ndomains": n, "resolution_ns": res}


def read(s, seq):
    s.send(request(READ, seq))
    kind, got, body = parse(s.recv(4096))
    assert kind == READ and got == seq, (kind, got)
    n, = struct.unpack_from("<I", body)
    return [READING.unpack_from(body, 4 + i * READING.size) for i in range(n)]


def poll(path, seconds):
    """Every distinct value of domain 0 and when it was first seen."""
    s = connect(path)
    h = hello(s)
    changes, last, seq, reads = [], None, 2, 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        r = read(s, seq)
        seq += 1
        reads += 1
        if r[0][3] != last:
            last = r[0][3]
            changes.append(time.monotonic_ns() - r[0][1])  # the value's own instant
    return {"hello": h, "reads": reads, "changes": changes,
            "elapsed_s": time.monotonic() - start}


def reconnect(path, seconds):
    """A client that closes and reconnects before each READ: when each
    distinct value was read (its own instant)."""
    changes, last, reads = [], None, 0
    start = time.monotonic()
    while time.monotonic() < start + seconds:
        s = connect(path)
        hello(s)
        r = read(s, 2)
        s.close()
        reads += 1
        if r[0][3] != last:
            last = r[0][3]
            changes.append(time.monotonic_ns() - r[0][1])
    return {"reads": reads, "changes": changes, "elapsed_s": time.monotonic() - start}


def watch_map(path, seconds):
    """Every distinct rewrite of the shared page: the daemon's own instant of
    each (exact, not this process's scheduling), and whether the page was
    writable to us."""
    s = connect(path)
    h = hello(s, (1, 2))
    s.send(request(MAP, 2))
    msg, fds, _flags, _addr = socket.recv_fds(s, 4096, 1)
    kind, _seq, body = parse(msg)
    if kind == ERROR:
        return {"hello": h, "error": struct.unpack_from("<i", body)[0]}
    n, _pad, size, _now = struct.unpack("<IIQq", body)
    page = mmap.mmap(fds[0], size, mmap.MAP_SHARED, mmap.PROT_READ)
    try:
        mmap.mmap(fds[0], size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        writable = True
    except OSError:
        writable = False
    updates, counters, last = [], [], None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        magic, nd, seq, updated, res = SHM_HEAD.unpack_from(page, 0)
        if seq & 1 or updated == last:
            continue
        rd = SHM_READING.unpack_from(page, SHM_HEAD.size)
        if SHM_HEAD.unpack_from(page, 0)[2] != seq:
            continue  # rewritten while read
        last = updated
        updates.append(updated)
        counters.append(rd[4])
    return {"hello": h, "ndomains": n, "magic": magic == DSHM_MAGIC, "resolution_ns": res,
            "updates": updates, "counters": counters, "writable": writable}


def crowd(path, n, seconds):
    """n clients, each reading every 0.1 s; each read's latency and whether its
    counters only ever rose."""
    # Misbehaving neighbours: one floods requests and never reads a reply,
    # one sends garbage (and must be told so and cut off).
    hog = connect(path)
    hello(hog)
    hog.setblocking(False)
    flooded = 0
    try:
        while flooded < 100000:
            hog.send(request(READ, 100 + flooded))
            flooded += 1
    except BlockingIOError:
        pass
    bad = connect(path)
    bad.send(b"\xff" * 20)
    kind, _seq, body = parse(bad.recv(4096))
    garbage_code = struct.unpack_from("<i", body)[0] if kind == ERROR else 0
    garbage_closed = bad.recv(4096) == b""

    clients = [connect(path) for _ in range(n)]
    hellos = [hello(c) for c in clients]
    last = [None] * n
    lat, monotonic_ok, reads, seq = [], True, 0, 2
    end = time.monotonic() + seconds
    tick = time.monotonic()
    while time.monotonic() < end:
        for i, c in enumerate(clients):
            t0 = time.perf_counter()
            r = read(c, seq)
            lat.append(time.perf_counter() - t0)
            vals = [x[3] for x in r]
            if last[i] is not None and any(v < w for v, w in zip(vals, last[i])):
                monotonic_ok = False
            last[i] = vals
            reads += 1
        seq += 1
        tick += 0.1
        time.sleep(max(0.0, tick - time.monotonic()))
    lat.sort()
    return {"hellos": hellos, "reads": reads, "monotonic": monotonic_ok,
            "p50_s": lat[len(lat) // 2], "max_s": lat[-1], "flooded": flooded,
            "garbage_code": garbage_code, "garbage_closed": garbage_closed,
            "errors": [h for h in hellos if "error" in h]}


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "poll":
        out = poll(path, float(sys.argv[3]))
    elif mode == "reconnect":
        out = reconnect(path, float(sys.argv[3]))
    elif mode == "map":
        out = watch_map(path, float(sys.argv[3]))
    elif mode == "hello":
        versions = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else (1, 1)
        out = hello(connect(path), versions)
    else:
        out = crowd(path, int(sys.argv[3]), float(sys.argv[4]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
