;;; Every example script of examples/ (the bpftrace one-liners, the
;;; libbpf-tools ports, the XDP firewall and the TC rate counter) runs
;;; as a subprocess with a short --duration, exits 0, and prints what it
;;; promises: the text its probes produce from the activity the script
;;; generates itself.
(use-modules (harness) (srfi srfi-1) (srfi srfi-64) (ice-9 popen)
             (ice-9 rdelim) (ice-9 regex) (ice-9 format))

(harness-begin "examples-run" 'kernel)

(define (shell-quote s)
  (string-append "'" (regexp-substitute/global #f "'" s 'pre "'\\''" 'post) "'"))

(define (run-example file . args)
  ;; (EXIT-STATUS . OUTPUT) of `guile -s examples/FILE ARGS...', stderr
  ;; included.
  (let* ((cmd (format #f "guile --no-auto-compile -s ~a~{ ~a~} 2>&1"
                      (shell-quote (string-append (srcdir) "/examples/" file))
                      (map shell-quote args)))
         (port (open-pipe* OPEN_READ "sh" "-c" cmd))
         (out (read-string port))
         (status (close-pipe port)))
    (cons (status:exit-val status) out)))

(define (lines-of text) (string-split text #\newline))

(define (has? out rx)
  ;; Some line of OUT matches the regular expression RX.
  (let ((r (make-regexp rx regexp/newline)))
    (and (regexp-exec r out) #t)))

(define-syntax-rule (with-example (out file arg ...) check ...)
  ;; Run FILE once; test its exit status, then each CHECK with OUT bound
  ;; to what it printed.  The output is shown when the run failed.
  (let* ((r (run-example file arg ...))
         (out (cdr r)))
    (unless (and (eqv? (car r) 0) (not (string-contains out "Backtrace")))
      (format #t "# ~a ~a exited ~a:~%~{#   ~a~%~}" file (list arg ...) (car r)
              (take (lines-of out) (min 40 (length (lines-of out))))))
    (test-equal (format #f "~a ~a exits 0" file (string-join (list arg ...) " "))
                0 (car r))
    check ...))

(define-syntax-rule (test-prints name out rx)
  (test-assert name (has? out rx)))

;;; ---- bpftrace one-liners --------------------------------------------

(with-example (out "hello.scm" "--duration" "1")
  (test-prints "hello: printk text through bpf-trace-pipe" out
               "bpf_trace_printk: Hello, World! \\(getpid from pid [0-9]+\\)")
  (test-prints "hello: counts the lines" out "^[1-9][0-9]* lines? from the trace pipe"))

(with-example (out "file-opens.scm" "--duration" "1")
  (test-prints "file-opens: header" out "^COMM +PID +FILENAME")
  (test-prints "file-opens: its own open, with comm and pid" out
               "^guile[^ ]* +[0-9]+ +/etc/hostname$")
  (test-prints "file-opens: a failed open is still an openat" out
               " /nonexistent/guile-ebpf-example$"))

(with-example (out "syscalls-by-process.scm" "--duration" "1")
  (test-prints "syscalls-by-process: @[comm]: count" out "^@\\[guile[^]]*\\]: [1-9][0-9]*$"))

(with-example (out "read-sizes.scm" "--duration" "1")
  (test-prints "read-sizes: @bytes histogram" out "^@bytes:$")
  (test-prints "read-sizes: 1-byte reads in [1]" out "^\\[1\\] +[1-9][0-9]* \\|@+ *\\|$")
  (test-prints "read-sizes: 64 KiB reads in [64K, 128K)" out
               "^\\[64K, 128K\\) +[1-9][0-9]* \\|@* *\\|$"))

(with-example (out "sched-probes.scm" "--duration" "1")
  (test-prints "sched-probes: attached to the glob" out "^Attaching [0-9]+ probes")
  (test-prints "sched-probes: sched_switch by name" out
               "^@\\[tracepoint:sched:sched_switch\\]: [1-9][0-9]*$")
  (test-prints "sched-probes: the forks show as sched_process_exec" out
               "^@\\[tracepoint:sched:sched_process_exec\\]: [1-9][0-9]*$"))

(with-example (out "profile.scm" "--duration" "1" "--top" "3")
  (test-prints "profile: a kernel stack block" out "^@kernel\\[$")
  (test-prints "profile: symbolized kernel frames" out "^    [a-z_][a-z_0-9.]*\\+[0-9]+$")
  (test-prints "profile: reading /dev/zero is sampled" out "^    read_zero\\+[0-9]+$")
  (test-prints "profile: counted" out "^\\]: [1-9][0-9]*$"))

(with-example (out "cswitch-stacks.scm" "--duration" "1" "--top" "3")
  (test-prints "cswitch-stacks: the scheduler is on the stacks" out "^    __schedule\\+[0-9]+$")
  (test-prints "cswitch-stacks: counted" out "^\\]: [1-9][0-9]*$"))

(with-example (out "bio-sizes.scm" "--duration" "1")
  (test-assert "bio-sizes: a histogram, or says the disk shows none"
               (or (and (has? out "^@bytes:$") (has? out "^\\[[0-9]+K?, [0-9]+[KM]?\\) +[1-9]"))
                   (has? out "^No block I/O request was issued"))))

(with-example (out "read-latency.scm" "--duration" "1" "--top" "3")
  (test-prints "read-latency: a histogram per process name" out "^@ns\\[guile[^]]*\\]:$")
  (test-prints "read-latency: buckets" out "^\\[[0-9]+[KM]?, [0-9]+[KMG]?\\) +[0-9]+ \\|"))

;;; ---- libbpf-tools ports ----------------------------------------------

(define (bpftrace?)
  (zero? (status:exit-val (system "command -v bpftrace >/dev/null 2>&1"))))

(define (bpftrace-argv command)
  ;; The arguments after argv[0] of COMMAND's exec, as bpftrace's
  ;; execsnoop.bt prints them with join(args->argv).
  (let* ((exe (car (string-split command #\space)))
         (prog (format #f "tracepoint:syscalls:sys_enter_execve /str(args->filename) == ~s/ { join(args->argv); }" exe))
         (port (open-pipe* OPEN_READ "sh" "-c"
                           (format #f "timeout 60 bpftrace -e ~a -c ~a 2>&1"
                                   (shell-quote prog) (shell-quote command))))
         (out (read-string port)))
    (close-pipe port)
    (let ((m (string-match (string-append "(^|\n)" (regexp-quote exe) " ([^\n]*)\n") out)))
      (and m (match:substring m 2)))))

(with-example (out "execsnoop.scm" "--duration" "1" "-x")
  (test-prints "execsnoop: header" out "^PCOMM +PID +PPID +RET ARGS$")
  (test-prints "execsnoop: the `true' it ran" out "^true +[0-9]+ +[0-9]+ +0 /.*/true$")
  (test-prints "execsnoop: argv read from user memory, after the path" out
               "^true +[0-9]+ +[0-9]+ +0 /.*/true guile-ebpf-argv one two$")
  (if (bpftrace?)
      (test-equal "execsnoop: the arguments bpftrace's join(args->argv) shows"
                  (bpftrace-argv "/bin/true guile-ebpf-argv one two")
                  (let ((m (string-match "\ntrue +[0-9]+ +[0-9]+ +0 /[^ ]*/true (guile-ebpf-argv[^\n]*)\n" out)))
                    (and m (match:substring m 1))))
      (format #t "# bpftrace is not installed: execsnoop not compared with it~%"))
  (test-prints "execsnoop -x: the exec that failed" out
               " -2 /nonexistent/guile-ebpf-execsnoop$"))

(with-example (out "execsnoop.scm" "--duration" "1" "-x" "-p" "1")
  (test-assert "execsnoop -p 1: the pid filter (a #:constants value) hides its children"
               (not (has? out "/nonexistent/guile-ebpf-execsnoop"))))

(with-example (out "opensnoop.scm" "--duration" "1")
  (test-prints "opensnoop: header" out "^PID +COMM +FD ERR PATH$")
  (test-prints "opensnoop: an open that worked" out "^[0-9]+ +guile[^ ]* +[0-9]+ +0 /etc/hostname$")
  (test-prints "opensnoop: an open that failed" out
               "^[0-9]+ +guile[^ ]* +-1 +2 /nonexistent/guile-ebpf-opensnoop$"))

(with-example (out "opensnoop.scm" "--duration" "1" "-x" "-e")
  (test-prints "opensnoop -x -e: flags column" out "^PID +COMM +FD ERR FLAGS +PATH$")
  (test-assert "opensnoop -x: only failed opens"
               (every (lambda (l) (has? l "^[0-9]+ .* -1 +[0-9]+ [0-7]{8} "))
                      (filter (lambda (l) (has? l "^[0-9]+ ")) (lines-of out))))
  (test-prints "opensnoop -x: ours is there" out " /nonexistent/guile-ebpf-opensnoop$"))

(with-example (out "exitsnoop.scm" "--duration" "2")
  (test-prints "exitsnoop: header" out "^PCOMM +PID +PPID +TID +AGE\\(s\\) +EXIT_CODE$")
  (test-prints "exitsnoop: true exits 0" out "^true +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ +0$")
  (test-prints "exitsnoop: false exits with code 1" out "^false +.* code 1$")
  (test-prints "exitsnoop: a shell killed by SIGTERM" out "^sh +.* signal 15 \\(Terminated\\)$"))

(with-example (out "syscount.scm" "--duration" "1" "-T" "400")
  (test-prints "syscount: header" out "^SYSCALL +COUNT$")
  (test-prints "syscount: names syscalls" out "^getpid +[1-9][0-9]*$"))

(with-example (out "syscount.scm" "--duration" "1" "-L" "-P")
  (test-prints "syscount -L -P: header" out "^PID    COMM +COUNT +TIME \\(us\\)$")
  (test-prints "syscount -L -P: by process" out "^[0-9]+ +guile[^ ]* +[1-9][0-9]* +[0-9]+\\.[0-9]{3}$"))

(with-example (out "runqlat.scm" "--duration" "1")
  (test-prints "runqlat: header" out "^Tracing run queue latency")
  (test-prints "runqlat: libbpf-tools histogram" out "^ +usecs +: count +distribution$")
  (test-prints "runqlat: a bucket line" out "^ +[0-9]+ -> [0-9]+ +: [1-9][0-9]* +\\|\\** *\\|$"))

(with-example (out "runqlat.scm" "-m" "-P" "--duration" "1")
  (test-prints "runqlat -P: per thread" out "^pid = [0-9]+$")
  (test-prints "runqlat -m: milliseconds" out "^ +msecs +: count"))

(with-example (out "biolatency.scm" "--duration" "1")
  (test-prints "biolatency: header" out "^Tracing block device I/O")
  (test-assert "biolatency: a histogram, or says the disk shows none"
               (or (has? out "^ +usecs +: count +distribution$")
                   (has? out "^No block I/O request completed"))))

(with-example (out "tcpstates.scm" "--duration" "1")
  (test-prints "tcpstates: header" out
               "^SKADDR +PID +COMM +LADDR +LPORT +RADDR +RPORT +OLDSTATE +-> NEWSTATE +MS$")
  (test-prints "tcpstates: the connect" out
               "^[0-9a-f]{16} +[0-9]+ +guile[^ ]* +127\\.0\\.0\\.1 +[0-9]+ +127\\.0\\.0\\.1 +[0-9]+ +SYN_SENT +-> ESTABLISHED +[0-9.]+$")
  (test-prints "tcpstates: the accept" out "LISTEN +-> SYN_RECV ")
  (test-prints "tcpstates: the close" out "LAST_ACK +-> CLOSE ")
  (test-prints "tcpstates: an IPv6 connect, addresses from u8[16] fields" out
               "^[0-9a-f]{16} +[0-9]+ +guile[^ ]* +::1 +[0-9]+ +::1 +[0-9]+ +SYN_SENT +-> ESTABLISHED +[0-9.]+$"))

(with-example (out "runqlen.scm" "--duration" "1")
  (test-prints "runqlen: header" out "^Sampling run queue length")
  (test-prints "runqlen: libbpf-tools linear histogram" out
               "^ +runqlen +: count +distribution$")
  (test-prints "runqlen: samples, read through the renamed cfs_rq field" out
               "^ +0 +: [1-9][0-9]* +\\|\\**")
  (test-prints "runqlen: its busy threads wait in the queue" out
               "^ +[1-9][0-9]* +: [1-9][0-9]* +\\|"))

(with-example (out "runqlen.scm" "--duration" "1" "-C" "-O")
  (test-prints "runqlen -C -O: occupancy by CPU" out "^cpu [0-9]+: runqocc: [0-9.]+%$"))

(with-example (out "statsnoop.scm" "--duration" "1")
  (test-prints "statsnoop: header" out "^PID +COMM +RET +ERR +PATH$")
  (test-assert "statsnoop: the path of stat, lstat, fstatat and statx alike"
               ;; filename at offset 16 in two of them, 24 in the others.
               (>= (count (lambda (l) (has? l "^[0-9]+ +python3 +0 +0 +/etc/hostname$"))
                          (lines-of out))
                   (if (string=? (utsname:machine (uname)) "x86_64") 4 1)))
  (test-prints "statsnoop: a failed stat, its error" out
               "^[0-9]+ +[^ ]+ +-2 +2 +/nonexistent/guile-ebpf-statsnoop$"))

(with-example (out "statsnoop.scm" "--duration" "1" "-x")
  (test-assert "statsnoop -x: only failed calls"
               (let ((rows (filter (lambda (l) (has? l "^[0-9]+ ")) (lines-of out))))
                 (and (pair? rows) (every (lambda (l) (has? l "^[0-9]+ +.* -[0-9]+ +[0-9]+ ")) rows)))))

(with-example (out "offcputime.scm" "--duration" "1")
  (test-prints "offcputime: header" out "^Tracing off-CPU time \\(us\\) of PID [0-9]+ for 1 s\\.$")
  (test-prints "offcputime: a kernel stack through schedule" out "^    schedule\\+[0-9]+$")
  (test-prints "offcputime: kstack and ustack key fields printed as frames" out
               "^@off-usecs\\[[0-9]+, guile[^,]*,\n    [^ ]")
  (test-prints "offcputime: kernel and user stacks apart" out "^,$")
  (test-prints "offcputime: the script itself, blocked for most of the second" out
               "^\\]: [1-9][0-9]{5,}$"))

(with-example (out "tcpretrans.scm" "--duration" "2")
  (test-prints "tcpretrans: header" out
               "^TIME +PID +IP +LADDR:LPORT +T> +RADDR:RPORT +STATE$")
  (test-prints "tcpretrans: an IPv4 SYN sent again, addresses from u8[4] at offset 34" out
               "^[0-9:]{8} +[0-9]+ +4 +127\\.0\\.0\\.1:[0-9]+ +R> +127\\.0\\.0\\.1:[0-9]+ +SYN_SENT$")
  (test-prints "tcpretrans: an IPv6 SYN sent again" out
               "^[0-9:]{8} +[0-9]+ +6 +\\[::1\\]:[0-9]+ +R> +\\[::1\\]:[0-9]+ +SYN_SENT$"))

(with-example (out "tcpretrans.scm" "--duration" "2" "-c" "-4")
  (test-prints "tcpretrans -c -4: counts per IPv4 pair" out
               "^127\\.0\\.0\\.1:[0-9]+ +127\\.0\\.0\\.1:[0-9]+ +[1-9][0-9]*$")
  (test-assert "tcpretrans -c -4: no IPv6 pair" (not (has? out "::1"))))

(with-example (out "killsnoop.scm" "--duration" "1")
  (test-prints "killsnoop: header" out "^TIME +PID +COMM +SIG +TPID +RESULT$")
  (test-prints "killsnoop: SIGUSR1 sent by sh, arguments carried to the exit" out
               "^[0-9:]{8} +[0-9]+ +sh +10 +[0-9]+ +0$")
  (test-prints "killsnoop: SIGTERM" out "^[0-9:]{8} +[0-9]+ +sh +15 +[0-9]+ +0$")
  (test-prints "killsnoop: kill -0 of no process fails with -ESRCH (signed)" out
               "^[0-9:]{8} +[0-9]+ +sh +0 +999999 +-3$"))

(with-example (out "killsnoop.scm" "--duration" "1" "-x")
  (test-assert "killsnoop -x: only failed calls"
               (let ((rows (filter (lambda (l) (has? l "^[0-9:]{8} ")) (lines-of out))))
                 (and (pair? rows) (every (lambda (l) (has? l " -[0-9]+$")) rows)))))

(with-example (out "tcplife.scm" "--duration" "1")
  (test-prints "tcplife: header" out
               "^PID +COMM +LADDR +LPORT +RADDR +RPORT +TX_KB +RX_KB +MS$")
  (test-prints "tcplife: an IPv4 connection, addresses from u8[4] fields" out
               "^[0-9]+ +guile[^ ]* +127\\.0\\.0\\.1 +[0-9]+ +127\\.0\\.0\\.1 +[0-9]+ +2 +2 +[0-9.]+$")
  (test-prints "tcplife: an IPv6 connection, addresses from u8[16] fields" out
               "^[0-9]+ +guile[^ ]* +::1 +[0-9]+ +::1 +[0-9]+ +2 +2 +[0-9.]+$"))

(with-example (out "tcplife.scm" "--duration" "1" "-6")
  (test-assert "tcplife -6: IPv6 only"
               (let ((rows (filter (lambda (l) (has? l "^[0-9]+ ")) (lines-of out))))
                 (and (pair? rows) (every (lambda (l) (has? l " ::1 ")) rows)))))

;;; ---- XDP firewall and TC rate counter --------------------------------

(define (netns-left prefix)
  (let* ((port (open-pipe* OPEN_READ "ip" "netns" "list"))
         (text (read-string port)))
    (close-pipe port)
    (has? text (string-append "^" prefix))))

(with-example (out "xdp-firewall.scm" "--duration" "3")
  (test-prints "xdp-firewall: attached" out "^XDP firewall attached to ")
  (test-prints "xdp-firewall: allowed source answered before the update" out
               "^ping from 10\\.213\\.0\\.2 +: [1-9][0-9]*/[0-9]+ replies")
  (test-prints "xdp-firewall: blocked source dropped" out
               "^ping from 10\\.213\\.0\\.130 : 0/[0-9]+ replies")
  (test-prints "xdp-firewall: the live update is in the trie" out "^  10\\.213\\.0\\.0/28 +reason 3$")
  (test-assert "xdp-firewall: the drop counter goes up after the live update"
               (let ((m (string-match "drop counter: ([0-9]+) before the live update, ([0-9]+) after it"
                                      out)))
                 (and m (> (string->number (match:substring m 2))
                           (string->number (match:substring m 1))))))
  (test-prints "xdp-firewall: drops counted by source" out "^  @\\[10\\.213\\.0\\.2\\]: [1-9][0-9]*$")
  (test-prints "xdp-firewall: says it cleaned up" out "^detached; test network removed$"))

(test-assert "xdp-firewall: Ctrl-C mid-run still removes the test network"
  (let* ((cmd (format #f "guile --no-auto-compile -s ~a --duration 30 >/dev/null 2>&1 & pid=$!; sleep 3; kill -INT $pid; wait $pid; exit 0"
                      (shell-quote (string-append (srcdir) "/examples/xdp-firewall.scm"))))
         (status (system cmd)))
    (and (zero? (status:exit-val status))
         (not (netns-left "gebpf-fw")))))

(with-example (out "tc-rate.scm" "--duration" "2")
  (test-prints "tc-rate: header" out "^TIME\\(s\\) +PKTS/s +BYTES/s +Mbit/s$")
  (test-prints "tc-rate: a rate each second" out "^ +2 +[1-9][0-9]*\\.[0-9] +[1-9][0-9]*\\.[0-9] +[0-9.]+$")
  (test-prints "tc-rate: UDP bytes counted" out "^  @\\[udp\\]: [1-9][0-9]*$")
  (test-assert "tc-rate: test network removed" (not (netns-left "gebpf-tc"))))

;;; ---- user memory, read with read-user ------------------------------

(define (nap-values out)
  ;; The SECONDS column of the lines naptime printed for `sleep'.
  (filter-map (lambda (l)
                (let ((m (string-match "^[0-9:]+ +[0-9]+ +.* [0-9]+ +sleep +([0-9]+\\.[0-9]{3})$" l)))
                  (and m (match:substring m 1))))
              (lines-of out)))

(define (occurrences x lst) (count (lambda (y) (equal? x y)) lst))

(define (bpftrace-naps)
  ;; The same workload as naptime.scm's under bpftrace: SEC.MSEC per
  ;; sleep, from the tracepoint `sleep' uses (clock_nanosleep).
  ;; bpftrace -c splits its command at spaces and runs only ELF files:
  ;; the workload is a script given to sh.  bpftrace stops when it ends,
  ;; so it waits for its background sleep.
  (let* ((script (let ((p (mkstemp! (string-copy "/tmp/gebpf-naptime-XXXXXX"))))
                   (display "sleep 1.042 &\nsleep 0.25\nwait\n" p)
                   (chmod p #o700)
                   (let ((name (port-filename p)))
                     (close-port p)
                     name)))
         (prog "tracepoint:syscalls:sys_enter_clock_nanosleep /comm == \"sleep\"/ { printf(\"%d.%03d\\n\", args->rqtp->tv_sec, args->rqtp->tv_nsec / 1000000); }")
         (cmd (format #f "timeout 60 bpftrace -e ~a -c ~a 2>&1" (shell-quote prog)
                      (shell-quote (string-append "/bin/sh " script))))
         (port (open-pipe* OPEN_READ "sh" "-c" cmd))
         (out (read-string port)))
    (close-pipe port)
    (delete-file script)
    (filter (lambda (l) (string-match "^[0-9]+\\.[0-9]{3}$" l)) (lines-of out))))

(with-example (out "naptime.scm" "--duration" "2")
  (test-prints "naptime: header" out "^TIME +PPID +PCOMM +PID +COMM +SECONDS$")
  (test-equal "naptime: the timespec read from user memory, exactly"
              '(1 1) (map (lambda (v) (occurrences v (nap-values out)))
                          '("0.250" "1.042")))
  (test-prints "naptime: the parent read through a task local" out
               "^[0-9:]+ +[0-9]+ +guile[^ ]* +[0-9]+ +sleep +0\\.250$")
  (if (bpftrace?)
      (let ((theirs (bpftrace-naps)))
        (test-equal "naptime: the same sleeps as bpftrace on the same workload"
                    (map (lambda (v) (occurrences v theirs)) '("0.250" "1.042"))
                    (map (lambda (v) (occurrences v (nap-values out)))
                         '("0.250" "1.042"))))
      (format #t "# bpftrace is not installed: naptime not compared with it~%")))

(with-example (out "icmp-echo.scm" "--duration" "1")
  (test-prints "icmp-echo: test run answers with valid checksums" out
               "^test run: xdp-tx, 10\\.214\\.0\\.77 -> 10\\.214\\.0\\.2 type 0, IPv4 checksum valid, ICMP checksum valid$")
  (test-prints "icmp-echo: the reply is the one built in Scheme" out
               "^test run: the reply equals the one built in Scheme, byte for byte$")
  (test-assert "icmp-echo: every ping answered, live, by XDP"
               (let ((m (string-match "ping 10\\.214\\.0\\.77: ([0-9]+)/([0-9]+) replies" out)))
                 (and m (> (string->number (match:substring m 2)) 0)
                      (= (string->number (match:substring m 1))
                         (string->number (match:substring m 2))))))
  (test-prints "icmp-echo: the program counted them" out
               "^echo requests answered by XDP: [1-9][0-9]*$")
  (test-assert "icmp-echo: test network removed" (not (netns-left "gebpf-echo"))))

(with-example (out "xdp-stats.scm" "--duration" "1")
  (test-prints "xdp-stats: test run, the drops summed over the CPUs" out
               "^test run: xdp-drop 5 packets 260 bytes$")
  (test-prints "xdp-stats: test run, the passes" out
               "^test run: xdp-pass 10 packets 420 bytes$")
  (test-prints "xdp-stats: live, every datagram to the discard port dropped" out
               "^live: xdp-drop 3 packets 132 bytes$")
  (test-assert "xdp-stats: live, the pings passed"
               (let ((m (string-match "live: xdp-pass ([0-9]+) packets" out)))
                 (and m (>= (string->number (match:substring m 1)) 3))))
  (test-prints "xdp-stats: another process reads the pinned map" out
               "^another process: xdp-drop entry \\(\\(rx-packets \\. 3\\) \\(rx-bytes \\. 132\\)\\)$")
  (test-assert "xdp-stats: test network removed" (not (netns-left "gebpf-st"))))

(with-example (out "xdp-redirect.scm" "--duration" "1")
  (test-prints "xdp-redirect: test run redirects and rewrites the destination MAC" out
               "^test run: xdp-redirect, destination MAC now 02:00:00:00:00:0b$")
  (test-assert "xdp-redirect: every echo request redirected arrives on the other pair"
               (let ((m (string-match "received in [^:]+: ([0-9]+) of ([0-9]+) echo requests" out))
                     (r (string-match "redirected by XDP: ([0-9]+)" out)))
                 (and m r (> (string->number (match:substring m 2)) 0)
                      (= (string->number (match:substring m 1))
                         (string->number (match:substring m 2))
                         (string->number (match:substring r 1))))))
  (test-prints "xdp-redirect: the aborted UDP datagram seen by xdp:xdp_exception" out
               "^xdp_exception on [^:]+: 1$")
  (test-assert "xdp-redirect: test network removed"
               (not (or (netns-left "gebpf-left") (netns-left "gebpf-right")))))

(test-assert "icmp-echo: Ctrl-C mid-run still removes the test network"
  (let* ((cmd (format #f "guile --no-auto-compile -s ~a --duration 30 >/dev/null 2>&1 & pid=$!; sleep 3; kill -INT $pid; wait $pid; exit 0"
                      (shell-quote (string-append (srcdir) "/examples/icmp-echo.scm"))))
         (status (system cmd)))
    (and (zero? (status:exit-val status))
         (not (netns-left "gebpf-echo")))))

(harness-end)
