#!/usr/bin/env python3
"""bcc_consumer.py --- the bcc (Python) consumer of the ring buffer benchmark.

Usage: bcc_consumer.py GENERATOR N [poll|drain]

The same producer as the other consumers (one 16-byte event per
getpid(2) of the generator into a 16 MiB ring, drops counted), built by
bcc, consumed with a Python callback that reads each event's fields.
poll (the default): ring_buffer_poll while the generator runs (bcc's
adaptive wake-ups).  drain: nothing is consumed while the generator
runs; then only ring_buffer_consume emptying the full ring is timed,
like the other consumers' drain mode.  Prints one line:
"bcc[-drain] EVENTS DROPPED SECONDS GENERATOR-SECONDS".  bcc needs the
running kernel's headers to build the program.
"""
import ctypes
import select
import subprocess
import sys
import time

from bcc import BPF

PROGRAM = r"""
struct event {
    u64 ts;
    u32 cpu;
    u32 pid;
};
BPF_RINGBUF_OUTPUT(events, 4096);   /* pages: 16 MiB */
BPF_PERCPU_ARRAY(dropped, u64, 1);

TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    u64 id = bpf_get_current_pid_tgid();
    if ((id >> 32) != TARGET)
        return 0;
    struct event e = {};
    e.ts = bpf_ktime_get_ns();
    e.cpu = bpf_get_smp_processor_id();
    e.pid = id >> 32;
    if (events.ringbuf_output(&e, sizeof(e), 0) < 0) {
        int k = 0;
        u64 *d = dropped.lookup(&k);
        if (d)
            __sync_fetch_and_add(d, 1);
    }
    return 0;
}
"""


class Event(ctypes.Structure):
    _fields_ = [("ts", ctypes.c_uint64), ("cpu", ctypes.c_uint32),
                ("pid", ctypes.c_uint32)]


def main():
    generator, n = sys.argv[1], sys.argv[2]
    drain = len(sys.argv) > 3 and sys.argv[3] == "drain"
    gen = subprocess.Popen([generator, n], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    pid = int(gen.stdout.readline())
    b = BPF(text=PROGRAM.replace("TARGET", str(pid)))
    state = {"count": 0, "checksum": 0}

    def on_event(ctx, data, size):
        e = ctypes.cast(data, ctypes.POINTER(Event)).contents
        state["count"] += 1
        state["checksum"] += e.cpu + e.pid + (e.ts & 1)

    b["events"].open_ring_buffer(on_event)
    t0 = time.monotonic()
    gen.stdin.write(b"go\n")
    gen.stdin.flush()
    while not drain:
        b.ring_buffer_poll(100)
        ready, _, _ = select.select([gen.stdout], [], [], 0)
        if ready:
            break
    done = gen.stdout.readline().split()
    gen.wait()
    if drain:
        # The ring is full and nothing has been read: time the emptying.
        t0 = time.monotonic()
    b.ring_buffer_consume()
    t1 = time.monotonic()
    drops = sum(b["dropped"][ctypes.c_int(0)])
    print("%s %d %d %.6f %s" % ("bcc-drain" if drain else "bcc",
                                state["count"], drops, t1 - t0,
                                done[1].decode() if len(done) > 1 else "-"))
    print("checksum %d" % state["checksum"], file=sys.stderr)


if __name__ == "__main__":
    main()
