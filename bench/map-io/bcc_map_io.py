#!/usr/bin/env python3
"""bcc_map_io.py --- the bcc (Python) side of the map I/O benchmark.

Usage: bcc_map_io.py ENTRIES OPS

bcc creates the same map as the other sides (hash, u32 -> u64, ENTRIES
entries) from a one-line program text, and this script times bcc's
Python dict API on it:

  bcc-single-update  table[c_uint(k)] = c_ulonglong(3k+1) for k < OPS
                     (into an empty map)
  bcc-single-lookup  table[c_uint(k)] for k < OPS, summing the values
  bcc-items          table.items() over the whole map (ENTRIES entries,
                     filled first, untimed, with one batch update),
                     summing the values

Each result is one line "NAME OPS_PER_SECOND" on stdout (entries per
second for bcc-items).  bcc needs kernel headers to build the program
text: bench/map-io/run points BCC_KERNEL_SOURCE at them.  Needs root.
"""
import ctypes as ct
import sys
import time

from bcc import BPF


def report(name, ops, t0):
    print("%s %.0f" % (name, ops / (time.monotonic() - t0)), flush=True)


def check(what, got, want):
    if got != want:
        sys.exit("bcc_map_io.py: %s: got %d, expected %d" % (what, got, want))


def main():
    entries, ops = int(sys.argv[1]), int(sys.argv[2])
    ops = min(ops, entries)
    b = BPF(text="BPF_HASH(bench, u32, u64, %d);" % entries)
    table = b["bench"]

    t0 = time.monotonic()
    for k in range(ops):
        table[ct.c_uint(k)] = ct.c_ulonglong(3 * k + 1)
    report("bcc-single-update", ops, t0)

    t0 = time.monotonic()
    total = 0
    for k in range(ops):
        total += table[ct.c_uint(k)].value
    report("bcc-single-lookup", ops, t0)
    check("single lookup sum", total, 3 * ops * (ops - 1) // 2 + ops)

    # Fill the whole map (untimed) for the whole-map iteration.
    keys = (ct.c_uint * entries)(*range(entries))
    values = (ct.c_ulonglong * entries)(*range(1, 3 * entries, 3))
    table.items_update_batch(keys, values)
    del keys, values

    t0 = time.monotonic()
    total = 0
    for _, v in table.items():
        total += v.value
    report("bcc-items", entries, t0)
    check("items() sum", total, 3 * entries * (entries - 1) // 2 + entries)


if __name__ == "__main__":
    main()
