# startup.py --- the start-up benchmark's bcc side (python3-bpfcc).
#
# The same job as startup.scm: count this process's getpid calls on the
# tracepoint syscalls/sys_enter_getpid, call getpid once, wait until the
# map shows the count, print it and exit.  bcc compiles the C below with
# its embedded clang at every run.
import os
from bcc import BPF

b = BPF(text="""
BPF_ARRAY(counts, u64, 1);
TRACEPOINT_PROBE(syscalls, sys_enter_getpid) {
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET_PID)
        return 0;
    counts.atomic_increment(0);
    return 0;
}
""", cflags=["-DTARGET_PID=%d" % os.getpid()])
os.getpid()
counts = b["counts"]
while counts[0].value == 0:
    pass
print(counts[0].value)
