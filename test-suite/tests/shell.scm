;;; guile-ebpf -e: bpftrace's one-liner lessons run as the guile-ebpf
;;; command against the kernel.  A workload (dd, started only once the
;;; probes are attached) makes an exact number of system calls, and the
;;; one-liners filter on its pid, so the printed maps hold exact counts.
(use-modules (harness) (ebpf) (ebpf script) (srfi srfi-1) (srfi srfi-34) (srfi srfi-64)
             (ice-9 rdelim) (ice-9 regex) (ice-9 format) (ice-9 popen) (ice-9 match) (ice-9 textual-ports) (ice-9 threads))

(harness-begin "shell" 'kernel)

(define n 37)                           ; system calls of each workload

;; Start guile-ebpf with ARGS, its standard output on a pipe.
(define (spawn . args)
  (let* ((p (pipe))
         (pid (primitive-fork)))
    (if (zero? pid)
        (begin
          (close-port (car p))
          (dup2 (fileno (cdr p)) 1)
          (apply execlp "guile-ebpf" "guile-ebpf" args))
        (begin
          (close-port (cdr p))
          (cons pid (car p))))))

;; A shell that waits for a line on its standard input, then runs CMD
;; in its own place (same pid).  Returns (pid . port-to-its-stdin).
(define (spawn-waiting cmd)
  (let* ((p (pipe))
         (pid (primitive-fork)))
    (if (zero? pid)
        (begin
          (close-port (cdr p))
          (dup2 (fileno (car p)) 0)
          (execlp "sh" "sh" "-c" (string-append "read go; exec " cmd)))
        (begin
          (close-port (car p))
          (cons pid (cdr p))))))

;; Run one-liner TEXT (a format string given the workload's pid) while
;; the workload CMD runs; stop guile-ebpf with SIGNAL (or let EXTRA
;; arguments such as --duration end it).  Returns (status . output).
(define* (one-liner text cmd #:key (signal SIGINT) (extra '()))
  (let* ((w (spawn-waiting cmd))
         (forms (format #f text (car w)))
         (g (apply spawn "-e" forms extra))
         (in (cdr g))
         (first (read-line in)))
    (cond
     ((or (eof-object? first)
          (not (or (string-prefix? "Attaching" first)
                   (string-prefix? "{\"type\": \"attached_probes\"" first))))
      (kill (car w) SIGKILL) (waitpid (car w))
      (cons (status:exit-val (cdr (waitpid (car g))))
            (format #f "~a~a" first (get-string-all in))))
     (else
      (display "go\n" (cdr w))
      (close-port (cdr w))
      (waitpid (car w))
      (when signal (kill (car g) signal))
      (let ((rest (get-string-all in)))
        (close-port in)
        (cons (status:exit-val (cdr (waitpid (car g))))
              (string-append first "\n" rest)))))))

(define (dd what) (format #f "dd if=/dev/zero of=/dev/null bs=100 count=~a status=none" n))

(define-syntax-rule (test-output name r (part ...))
  (test-assert name
    (match r
      ((status . out)
       (or (and (eqv? status 0) (string-contains out part) ... #t)
           (begin (format #t "# status ~s~%# output ~s~%" status out) #f))))))

;; bpftrace: tracepoint:sched:sched_process_exec
;;   { @[str(args.filename)] = count(); printf("exec %s\n", str(args.filename)); }
;; A tracepoint's string field (here a __data_loc char[]) is a string
;; key and a %s argument: its type comes from the format file.
(test-output "a tracepoint string field keys an @-map and prints with %s"
  (one-liner "(on \"tracepoint:sched:sched_process_exec\" (when (= (pid) ~a) (count! @ (arg ctx 'filename)) (printf \"exec %s\\n\" (arg ctx 'filename))))"
             "/bin/true")
  ("@[/bin/true]: 1\n" "exec /bin/true\n"))

;; bpftrace: tracepoint:syscalls:sys_enter_kill, tracepoint:syscalls:sys_enter_tgkill
;;   { @[probe, args.sig] = count(); }
;; One clause on a list of probes; sig is at 24 in one and 32 in the other.
(test-output "a comma-separated probe list, a field at different offsets"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_kill, tracepoint:syscalls:sys_enter_tgkill\" (when (= (pid) ~a) (count! @ (probe) (arg ctx 'sig))))"
             "python3 -c 'import os, signal, threading; os.kill(os.getpid(), 0); signal.pthread_kill(threading.get_ident(), 0)'")
  ("@[tracepoint:syscalls:sys_enter_kill, 0]: 1\n"
   "@[tracepoint:syscalls:sys_enter_tgkill, 0]: 1\n"))

;; bpftrace: tracepoint:syscalls:sys_enter_openat { @[args.dfd] = count(); printf("%d\n", args.dfd); }
;; A signed field keys and prints as a signed number: AT_FDCWD is -100.
(test-output "a signed tracepoint field keys and prints as signed"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_openat\" (when (= (pid) ~a) (count! @ (arg ctx 'dfd)) (printf \"dfd %d\\n\" (arg ctx 'dfd))))"
             "cat /etc/hostname")
  ("@[-100]: " "dfd -100\n"))

;; bpftrace: rawtracepoint... { @[((struct task_struct *)arg1)->comm] = count(); }
;; The key's type is the one the lowering gives it: a char array read
;; with core-read through a BTF-typed argument is a (string 16).
(test-output "a core-read string keys an @-map"
  (one-liner "(on \"rawtracepoint:sched_process_fork\" (when (= (pid) ~a) (count! @ (core-read (arg ctx 1) 'comm))))"
             "sh -c '/bin/true; /bin/true; /bin/true'")
  ("@[sh]: "))

;; bpftrace: tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }
;; (here on write(2), filtered by pid, so the count is exact)
(test-output "count! by comm: exact count, Ctrl-C prints the map"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @ (comm))))"
             (dd 'write))
  ((format #f "@[dd]: ~a\n" n)))

(test-output "SIGTERM ends a one-liner the same way"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @writes)))"
             (dd 'write) #:signal SIGTERM)
  ((format #f "@writes: ~a\n" n)))

;; bpftrace: tracepoint:syscalls:sys_exit_read /pid == 18644/ { @bytes = hist(args.ret); }
(test-output "hist! filtered by pid, drawn as bpftrace"
  (one-liner "(on \"tracepoint:syscalls:sys_exit_read\" (when (= (pid) ~a) (hist! @bytes (arg ctx 'ret))))"
             (dd 'read))
  ("@bytes:\n" (format #f "~16a~8d |@@@@" "[64, 128)" n)))

;; bpftrace: kretprobe:vfs_read { @bytes = lhist(retval, 0, 2000, 200); }
(test-output "lhist! on a tracepoint's return value"
  (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @ (arg ctx 'ret) 0 2000 200)))"
             (dd 'write))
  ("@:\n" (string-append (format #f "~16a~8d |" "[0, 200)" n) (make-string 52 #\@) "|\n")))

(test-output "keyed lhist!: a linear histogram per key, as bpftrace's @x[key]:"
  (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @sz (comm) (arg ctx 'ret) 0 1000 100)))"
             (dd 'write))
  ((string-append "@sz[dd]:\n" (format #f "~16a~8d |" "[100, 200)" n) (make-string 52 #\@) "|\n")))

(test-assert "keyed lhist! with two keys, -f json: buckets per key"
  (match (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @sz (comm) (pid) (arg ctx 'ret) 0 1000 100)))"
                    (dd 'write) #:extra '("-f" "json"))
    ((0 . out)
     (let ((m (string-match "\"@sz\": \\{\"dd, ([0-9]+)\": \\[\\{\"min\": 100, \"max\": 199, \"count\": ([0-9]+)\\}\\]\\}" out)))
       (and m (= n (string->number (match:substring m 2))))))
    (r (format #t "# ~s~%" r) #f)))

(test-assert "unkeyed hist! and lhist!, -f json: one list of buckets each"
  (match (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (hist! @h (arg ctx 'ret)) (lhist! @l (arg ctx 'ret) 0 1000 100)))"
                    (dd 'write) #:extra '("-f" "json"))
    ((0 . out)
     (and (string-contains out (format #f "{\"@h\": [{\"min\": 64, \"max\": 127, \"count\": ~a}]}" n))
          (string-contains out (format #f "{\"@l\": [{\"min\": 100, \"max\": 199, \"count\": ~a}]}" n))))
    (r (format #t "# ~s~%" r) #f)))

;; bpftrace's cpuwalk: @cpu = lhist(cpu, 0, 1000, 1); up to 1000 steps,
;; printed from the first non-empty bucket to the last.
(test-output "lhist! of 1000 steps prints only its non-empty range"
  (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @w (arg ctx 'ret) 0 1000 1)))"
             (dd 'write))
  ((string-append "@w:\n" (format #f "~16a~8d |" "[100]" n) (make-string 52 #\@) "|\n\n")))
(test-assert "lhist! of 1000 steps, -f json"
  (match (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @w (arg ctx 'ret) 0 1000 1)))"
                    (dd 'write) #:extra '("-f" "json"))
    ((0 . out)
     (string-contains out (format #f "{\"@w\": [{\"min\": 100, \"max\": 100, \"count\": ~a}]}" n)))
    (r (format #t "# ~s~%" r) #f)))
(test-output "keyed lhist! of 500 steps"
  (one-liner "(on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (lhist! @w (comm) (arg ctx 'ret) 0 1000 2)))"
             (dd 'write))
  ((string-append "@w[dd]:\n" (format #f "~16a~8d |" "[100, 102)" n))))
(test-ebpf-error "lhist! of more than 1000 steps" 'ebpf-validation-error
                 ("lhist!" "at most 1000 steps")
  (begin
    (bpf-script-reset!)
    (bpf-script-load-string "(on \"tracepoint:syscalls:sys_enter_write\" (lhist! @x 5 0 1001 1))")
    (bpf-script-run)))

(test-ebpf-error "keyed lhist! with a bad range" 'ebpf-validation-error ("lhist!")
  (begin
    (bpf-script-reset!)
    (bpf-script-load-string "(on \"tracepoint:syscalls:sys_enter_write\" (lhist! @x (comm) 5 0 100 0))")
    (bpf-script-run)))

(test-output "sum! with two keys: a struct key printed as bpftrace"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (sum! @bytes (comm) (pid) (arg ctx 'count))))"
             (dd 'write))
  ("@bytes[dd, " (format #f "]: ~a\n" (* 100 n))))

;; bpftrace: tracepoint:syscalls:sys_enter_openat { printf("%s %s\n", comm, str(args.filename)); }
(define unique (format #f "/tmp/guile-ebpf-shell-~a" (getpid)))
(test-assert "printf with comm and a user string, one line per call"
  (match (one-liner "(on \"tracepoint:syscalls:sys_enter_openat\" (when (= (pid) ~a) (printf \"%s %s\\n\" (comm) (read-user-str (arg ctx 'filename) 64))))"
             (format #f "cat ~a ~a ~a" unique unique unique))
    ((0 . out) (= 3 (count (lambda (l) (equal? l (string-append "cat " unique)))
                           (string-split out #\newline))))
    (r (format #t "# ~s~%" r) #f)))

;; bpftrace: kprobe:vfs_read { @start[tid] = nsecs; }
;;   kretprobe:vfs_read /@start[tid]/ { @ns[comm] = hist(nsecs - @start[tid]); delete(@start[tid]); }
(let ((r (one-liner "(on \"tracepoint:syscalls:sys_enter_read\" (when (= (pid) ~a) (map-set! @start (tid) (ktime-ns)))) (on \"tracepoint:syscalls:sys_exit_read\" (when (map-get @start (tid)) (hist! @ns (comm) (- (ktime-ns) (map-ref @start (tid)))) (map-delete! @start (tid))))"
                    (dd 'read))))
  (test-output "read latency by comm with a start map" r ("@ns[dd]:\n"))
  (test-assert "every read is in the histogram, @start is empty at the end"
    (let ((counts (filter-map (lambda (m) (string->number (match:substring m 1)))
                              (list-matches "\\) +([0-9]+) \\|" (cdr r)))))
      (and (>= (apply + counts) n)
           (not (string-contains (cdr r) "@start"))))))

;; bpftrace: uprobe:libc:opendir { @start[tid] = nsecs; }
;;   uretprobe:libc:opendir /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }
;; A thread of this process calls opendir all through the attaching, and
;; stops well before the detaching: no call may be left in @start, as
;; one was when the uprobe was attached while the uretprobe still built.
(let* ((libc (car (bpf-resolve-uprobe "libc:opendir")))
       (attached #f)
       (stop? (lambda () (and attached
                              (> (- (get-internal-real-time) attached)
                                 (quotient internal-time-units-per-second 4)))))
       (caller (call-with-new-thread
                (lambda ()
                  (let loop ((calls 0))
                    (if (stop?)
                        calls
                        (begin (closedir (opendir "/")) (loop (+ calls 1))))))))
       (out (call-with-output-string
              (lambda (port)
                (bpf-script-reset!)
                (bpf-script-load-string
                 (format #f "(on \"uprobe:~a:opendir\" (when (= (pid) ~a) (map-set! @start (tid) (ktime-ns)))) (on \"uretprobe:~a:opendir\" (when (map-get @start (tid)) (hist! @ns (- (ktime-ns) (map-ref @start (tid)))) (map-delete! @start (tid))))"
                         libc (getpid) libc))
                (bpf-script-run #:duration 1 #:port port
                                #:on-attached (lambda ()
                                                (set! attached (get-internal-real-time)))))))
       (calls (join-thread caller)))
  (test-assert "uprobe and uretprobe: every call in @ns, none left in @start"
    (let ((counts (filter-map (lambda (m) (string->number (match:substring m 1)))
                              (list-matches "\\) +([0-9]+) \\|" out))))
      (or (and (> calls 0) (> (apply + counts) 0)
               (not (string-contains out "@start")))
          (begin (format #t "# ~a calls: ~s~%" calls out) #f)))))

;; bpftrace: tracepoint:sched:sched* { @[probe] = count(); } interval:s:5 { exit(); }
(test-output "probe names as keys, interval clause exits"
  (one-liner "(on \"tracepoint:sched:sched_process_*\" (when (= (pid) ~a) (count! @ (probe)))) (on \"interval:s:1\" (exit))"
             "true" #:signal #f)
  ("@[tracepoint:sched:sched_process_exec]: 1\n"
   "@[tracepoint:sched:sched_process_exit]: 1\n"))

;; bpftrace: tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_exit_write { @[probe] = count(); }
(test-output "a (probe) key filled from two clauses names each clause's probe"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @ (probe)))) (on \"tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~:*~a) (count! @ (probe))))"
             (dd 'write))
  ((format #f "@[tracepoint:syscalls:sys_enter_write]: ~a\n" n)
   (format #f "@[tracepoint:syscalls:sys_exit_write]: ~a\n" n)))

;; bpftrace: tracepoint:syscalls:sys_enter_sync* { printf("%s\n", probe); }
(test-assert "printf's %s of (probe) prints the probe's name, %d its number"
  (match (one-liner "(on \"tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (printf \"%s %d\\n\" (probe) (probe))))"
                    (dd 'write))
    ((0 . out)
     (let ((lines (string-split out #\newline)))
       (and (= n (count (lambda (l) (string-prefix? "tracepoint:syscalls:sys_enter_write " l)) lines))
            (= n (count (lambda (l) (string-prefix? "tracepoint:syscalls:sys_exit_write " l)) lines)))))
    (r (format #t "# ~s~%" r) #f)))

;; bpftrace: tracepoint:sock:inet_sock_set_state
;;   { @[ntop(args.daddr)] = count(); printf("%s\n", ntop(args.daddr)); }
;; bash connects to a closed port on 127.0.0.1: the socket goes to
;; SYN_SENT in bash, then is reset.
(test-output "ntop of a 4-byte tracepoint address keys and prints it"
  (one-liner "(on \"tracepoint:sock:inet_sock_set_state\" (when (= (pid) ~a) (count! @ (ntop (arg ctx 'daddr))) (printf \"to %s %s\\n\" (ntop (arg ctx 'daddr)) (ntop (arg ctx 'daddr_v6)))))"
             "bash -c 'echo > /dev/tcp/127.0.0.1/9' 2>/dev/null")
  ("to 127.0.0.1 ::ffff:127.0.0.1\n" "@[127.0.0.1]: "))

;; bpftrace: software:page-faults:1 { @[comm] = count(); }
;; dd's 8 MiB buffer is fresh pages, each a fault.
(test-output "software:page-faults:1 counts a process's faults"
  (one-liner "(on \"software:page-faults:1\" (when (= (pid) ~a) (count! @ (comm))))"
             "dd if=/dev/zero of=/dev/null bs=8M count=2 status=none")
  ("@[dd]: "))

;; bpftrace: software:faults:1 { @[probe] = count(); }
(test-output "a software probe's (probe) is its bpftrace spelling"
  (one-liner "(on \"software:faults:1\" (when (= (pid) ~a) (count! @ (probe))))"
             "dd if=/dev/zero of=/dev/null bs=8M count=2 status=none")
  ("@[software:faults:1]: "))

;; bpftrace: software:cs { @ = count(); }  (every 1000 by default: 1 here)
(test-output "software:cs:1 counts a sleeping process's switches"
  (one-liner "(on \"s:cs:1\" (when (= (pid) ~a) (count! @)))"
             "sleep 0.2")
  ("@: "))

(define (one-liner-status forms)
  ;; guile-ebpf -e FORMS for a second: (exit status . stdout and stderr).
  (let* ((p (open-pipe* OPEN_READ "sh" "-c"
                        (format #f "guile-ebpf -e '~a' -d 1 2>&1" forms)))
         (out (get-string-all p)))
    (cons (status:exit-val (close-pipe p)) out)))

;; bpftrace: tracepoint:sock:inet_sock_set_state
;;   { @[ntop(2, args.daddr)] = count(); printf("%s\n", ntop(10, args.daddr_v6)); }
(test-output "ntop with a constant family picks 4 or 16 bytes"
  (one-liner "(on \"tracepoint:sock:inet_sock_set_state\" (when (= (pid) ~a) (count! @ (ntop 2 (arg ctx 'daddr))) (printf \"to %s %s\\n\" (ntop 2 (arg ctx 'daddr)) (ntop 10 (arg ctx 'daddr_v6)))))"
             "bash -c 'echo > /dev/tcp/127.0.0.1/9' 2>/dev/null")
  ("to 127.0.0.1 ::ffff:127.0.0.1\n" "@[127.0.0.1]: "))

;; The spelling the refusal below suggests: an @-map per family.
(test-output "ntop per family branch keys an @-map per family"
  (one-liner "(on \"tracepoint:sock:inet_sock_set_state\" (when (= (pid) ~a) (if (= (arg ctx 'family) 2) (count! @v4 (ntop 2 (arg ctx 'daddr))) (count! @v6 (ntop 10 (arg ctx 'daddr_v6))))))"
             "bash -c 'echo > /dev/tcp/127.0.0.1/9' 2>/dev/null")
  ("@v4[127.0.0.1]: "))

;; ntop(args.family, args.daddr): one clause has one key type, so a
;; family read at run time is refused, with the per-branch spelling.
(test-assert "ntop with a run-time family is refused with a Fix"
  (match (one-liner-status "(on \"tracepoint:sock:inet_sock_set_state\" (count! @ (ntop (arg ctx (quote family)) (arg ctx (quote daddr)))))")
    ((0 . out) (format #t "# ~s~%" out) #f)
    ((_ . out)
     (or (and (string-contains out "address family must be the constant 2")
              (string-contains out "Fix:"))
         (begin (format #t "# ~s~%" out) #f)))))

(test-assert "ntop 10 of a 4-byte address is refused"
  (match (one-liner-status "(on \"tracepoint:sock:inet_sock_set_state\" (count! @ (ntop 10 (arg ctx (quote daddr)))))")
    ((0 . out) (format #t "# ~s~%" out) #f)
    ((_ . out)
     (or (and (string-contains out "AF_INET6 needs a 16-byte address")
              (string-contains out "Fix:"))
         (begin (format #t "# ~s~%" out) #f)))))

;; bpftrace: profile:hz:99 { @[kstack] = count(); }
(test-output "kernel stacks at 99 Hz, symbolized"
  (one-liner "(on \"profile:hz:99\" (when (= (pid) ~a) (count! @ (kstack))))"
             "dd if=/dev/zero of=/dev/null bs=1M count=3000 status=none")
  ("@[\n        " "]: "))

;; bpftrace: profile:hz:99 { @[kstack, comm] = count(); }
(test-output "a kernel stack beside another key prints as frames"
  (one-liner "(on \"profile:hz:99\" (when (= (pid) ~a) (count! @ (kstack) (comm))))"
             "dd if=/dev/zero of=/dev/null bs=1M count=3000 status=none")
  ("@[\n        " "\n, dd]: "))

;; bpftrace: profile:hz:99 { @[ustack, comm] = count(); }
;; dd has exited when the map prints, so its frames are addresses.
(test-output "user stacks at 99 Hz, beside another key"
  (one-liner "(on \"profile:hz:99\" (when (= (pid) ~a) (count! @ (ustack) (comm))))"
             "dd if=/dev/zero of=/dev/null bs=1M count=3000 status=none")
  ("@[\n        0x" "\n, dd]: "))

;; bpftrace: profile:hz:99 { @[ustack] = count(); }
(test-output "user stacks at 99 Hz"
  (one-liner "(on \"profile:hz:99\" (when (= (pid) ~a) (count! @ (ustack))))"
             "dd if=/dev/zero of=/dev/null bs=1M count=3000 status=none")
  ("@[\n        0x" "\n]: "))

;; offcputime's idiom: @stack[tid] = kstack when a thread leaves the
;; CPU, @[@stack[tid]] = count() when it comes back; sleep blocks once.
(test-output "a stack kept as an @-map's value keys a map as a stack"
  (one-liner "(on \"tracepoint:sched:sched_switch\" (when (= (arg ctx 'prev_pid) ~a) (map-set! @kst (arg ctx 'prev_pid) (kstack))) (when (map-get @kst (arg ctx 'next_pid)) (count! @off (map-ref @kst (arg ctx 'next_pid))) (map-delete! @kst (arg ctx 'next_pid))))"
             "sleep 0.2")
  ("@off[\n        " "schedule" "\n]: "))

;; bpftrace: tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_exit_write
;;   { @[probe] = hist(5); @k[kstack] = hist(5); }
(test-output "a keyed histogram titles (probe) and stack keys as a map does"
  (one-liner "(on \"tracepoint:syscalls:sys_enter_write,tracepoint:syscalls:sys_exit_write\" (when (= (pid) ~a) (hist! @ (probe) 5) (hist! @k (kstack) 5)))"
             (dd 'write))
  ("@[tracepoint:syscalls:sys_enter_write]:\n[4, 8)"
   "@[tracepoint:syscalls:sys_exit_write]:\n[4, 8)"
   "@k[\n        " "\n]:\n[4, 8)"))

;; bpftrace: tracepoint:skb:kfree_skb { @[args.reason] = count(); }
;; A datagram to a closed port is dropped for want of a socket.
(test-output "an enum tracepoint field keys and prints (%s) as its enumerator"
  (one-liner "(on \"tracepoint:skb:kfree_skb\" (count! @ (arg ctx 'reason)) (printf \"%s|%d\\n\" (arg ctx 'reason) (arg ctx 'reason)) ~*)"
             "bash -c 'echo > /dev/udp/127.0.0.1/9'")
  ("@[SKB_DROP_REASON_NO_SOCKET]: " "\nSKB_DROP_REASON_NO_SOCKET|"))

;; bpftrace: tracepoint:block:block_rq_issue { @ = hist(args.bytes); }
(let ((f (format #f "/var/tmp/guile-ebpf-shell-~a" (getpid))))
  (test-output "block I/O sizes"
    (one-liner "(on \"tracepoint:block:block_rq_issue\" (hist! @ (arg ctx 'bytes)) ~*)"
               (format #f "dd if=/dev/zero of=~a bs=4096 count=8 oflag=direct status=none" f))
    ("@:\n" "[4K, 8K)"))
  (false-if-exception (delete-file f)))

;; bpftrace: BEGIN { printf("hello world\n"); exit(); }
(test-output "begin clause, printf and exit"
  (one-liner "(on \"begin\" (printf \"hello %s\\n\" \"world\") (exit)) ~*"
             "true" #:signal #f)
  ("hello world\n"))

(test-assert "-f json: newline-delimited records as bpftrace's"
  (match (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @ (comm)) (printf \"w\\n\")))"
                    (dd 'write) #:extra '("-f" "json"))
    ((0 . out)
     (let ((lines (string-split (string-trim-right out) #\newline)))
       (and (equal? (car lines) "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}")
            (= n (count (lambda (l) (equal? l "{\"type\": \"printf\", \"data\": \"w\\n\"}")) lines))
            (equal? (last lines)
                    (format #f "{\"type\": \"map\", \"data\": {\"@\": {\"dd\": ~a}}}" n)))))
    (r (format #t "# ~s~%" r) #f)))

(test-assert "--duration ends a one-liner by itself"
  (match (one-liner "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @)))"
                    (dd 'write) #:signal #f #:extra '("--duration" "2"))
    ((0 . out) (string-contains out (format #f "@: ~a\n" n)))
    (r (format #t "# ~s~%" r) #f)))

(test-assert "a probe written bare, as bpftrace writes it, is refused by name"
  (guard (e ((ebpf-error? e)
             (let ((m (ebpf-error-message e)))
               (and (string-contains m "probe tracepoint:block:block_rq_issue is a symbol")
                    (string-contains m "Fix: write the probe in double quotes: (on \"tracepoint:block:block_rq_issue\"")
                    #t))))
    (bpf-script-load-string "(on tracepoint:block:block_rq_issue (count! @))")
    #f))
(bpf-script-reset!)

(define (leftovers)
  (filter (lambda (p) (let ((name (assq-ref p 'name)))
                        (and (string? name) (string-prefix? "on_clause" name))))
          (bpf-programs)))
(test-assert "nothing stays loaded after the one-liners"
  ;; The kernel frees a closed program after an RCU grace period.
  (let loop ((i 0))
    (cond ((null? (leftovers)) #t)
          ((< i 30) (usleep 100000) (loop (+ i 1)))
          (else (format #t "# still loaded: ~s~%" (leftovers)) #f))))

;;; guile-ebpf run FILE.scm: any script.

(define tmp (format #f "/tmp/guile-ebpf-shell-run-~a" (getpid)))
(unless (file-exists? tmp) (mkdir tmp))
(define (write-file name text)
  (let ((f (string-append tmp "/" name)))
    (call-with-output-file f (lambda (p) (display text p)))
    f))

;; Run `guile-ebpf run FILE ARGS...' until its first line of output,
;; run THUNK, send SIGNAL (unless #f); return (status first . rest).
(define* (run-file file thunk #:key (signal SIGINT) (args '()))
  (let* ((g (apply spawn "run" file args))
         (in (cdr g))
         (first (read-line in)))
    (unless (eof-object? first) (thunk))
    (when (and signal (not (eof-object? first))) (kill (car g) signal))
    (let ((rest (get-string-all in)))
      (close-port in)
      (cons* (status:exit-val (cdr (waitpid (car g)))) first rest))))

(let* ((pid (getpid))
       (f (write-file "on.scm" (format #f "(use-modules (ebpf script))
(on \"tracepoint:syscalls:sys_enter_getppid\" (when (= (pid) ~a) (count! @calls)))
" pid)))
       (r (run-file f (lambda () (do ((i 0 (+ i 1))) ((= i n)) (getppid))))))
  (test-assert "run FILE of on clauses: exact count printed at Ctrl-C"
    (or (and (eqv? (car r) 0) (string-contains (cddr r) (format #f "@calls: ~a\n" n)))
        (begin (format #t "# ~s~%" r) #f))))

(let* ((pid (getpid))
       (f (write-file "stay.scm" (format #f "
(defbpf-map shell-run-counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 16)
(bpf-fn shell-run-count (ctx) (when (= (pid) ~a) (map-increment! shell-run-counts 7)))
(defbpf-program shell-run-prog #:kind 'tracepoint #:attach \"syscalls:sys_enter_getppid\"
  #:source shell-run-count #:license \"GPL\")
(bpf-attach! shell-run-prog)
(display \"attached\\n\")
(force-output)
" pid)))
       (r (run-file f (lambda () (do ((i 0 (+ i 1))) ((= i n)) (getppid)))
                    #:signal SIGTERM)))
  (test-assert "run FILE that attaches and returns: SIGTERM detaches, maps printed"
    (or (and (eqv? (car r) 0) (equal? (cadr r) "attached")
             (string-contains (cddr r) (format #f "@shell-run-counts[7]: ~a\n" n)))
        (begin (format #t "# ~s~%" r) #f))))

(let* ((f (write-file "ends.scm" (format #f "
(defbpf-map shell-end-counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 4)
(defbpf-map shell-end-lin #:kind 'histogram)
(bpf-fn shell-end-fn (ctx)
  (when (= (tgid) ,(getpid))
    (map-increment! shell-end-counts 1)
    (lhist! shell-end-lin 150 0 1000 100)))
(defbpf-program shell-end-prog #:kind 'tracepoint #:attach \"syscalls:sys_enter_getppid\"
  #:source shell-end-fn #:license \"GPL\")
(bpf-attach! shell-end-prog)
(do ((i 0 (+ i 1))) ((= i ~a)) (getppid))
(bpf-detach! shell-end-prog)
" n)))
       (r (run-file f (lambda () #t) #:signal #f))
       (out (string-append (if (string? (cadr r)) (cadr r) "") "\n" (cddr r))))
  (test-assert "run FILE that ends by itself: its maps are printed at the end"
    (or (and (eqv? (car r) 0)
             (string-contains out (format #f "@shell-end-counts[1]: ~a\n" n)))
        (begin (format #t "# ~s~%" r) #f)))
  (test-assert "run FILE: a map filled by lhist! is drawn as a linear histogram"
    (or (string-contains out (string-append "@shell-end-lin:\n"
                                            (format #f "~16a~8d |" "[100, 200)" n)))
        (begin (format #t "# ~s~%" r) #f))))

;; tc and XDP outlive a process unless detached: check that run removes them.
(define ifname (format #f "gsh~a" (modulo (getpid) 100000)))
(system (format #f "ip link add ~a type veth peer name ~ap 2>/dev/null" ifname ifname))
(system (format #f "ip link set ~a up; ip link set ~ap up" ifname ifname))
(let* ((f (write-file "net.scm" (format #f "
(bpf-fn shell-tc-pass (ctx) (return :tc-act-ok))
(bpf-fn shell-xdp-pass (ctx) (return :xdp-pass))
(defbpf-program shell-tc #:kind 'tc #:attach '(#:target ~s #:direction ingress)
  #:source shell-tc-pass #:license \"GPL\")
(defbpf-program shell-xdp #:kind 'xdp #:attach ~s #:source shell-xdp-pass #:license \"GPL\")
(bpf-attach! shell-tc)
(bpf-attach! shell-xdp)
(display \"attached\\n\")
(force-output)
" ifname ifname)))
       (shell-output (lambda (cmd)
                       (let* ((p (open-input-pipe cmd))
                              (s (get-string-all p)))
                         (close-pipe p) s)))
       (tc (lambda () (shell-output (format #f "tc filter show dev ~a ingress" ifname))))
       (tc-shown #f)
       (xdp-shown #f)
       (xdp (lambda () (shell-output (format #f "ip link show dev ~a" ifname))))
       (r (run-file f (lambda () (set! tc-shown (string-contains (tc) "bpf"))
                              (set! xdp-shown (string-contains (xdp) "xdp")))
                    #:signal SIGINT)))
  (test-assert "run FILE: tc and XDP were attached while it ran"
    (or (and (eqv? (car r) 0) tc-shown xdp-shown)
        (begin (format #t "# ~s ~s ~s~%" r tc-shown xdp-shown) #f)))
  (test-assert "run FILE: Ctrl-C leaves no tc filter and no XDP program"
    (and (not (string-contains (tc) "bpf"))
         (not (string-contains (xdp) "xdp")))))
(system (format #f "ip link del ~a 2>/dev/null" ifname))
(system* "rm" "-rf" tmp)

;;; guile-ebpf list.

;; Run guile-ebpf with ARGS; its standard output as a string.
(define (command-output . args)
  (let* ((p (apply open-pipe* OPEN_READ "guile-ebpf" args))
         (s (get-string-all p)))
    (cons (status:exit-val (close-pipe p)) s)))

(test-equal "list GLOB: tracepoints as bpftrace -l"
  '(0 . "tracepoint:syscalls:sys_enter_getpid\ntracepoint:syscalls:sys_enter_getppid\n")
  (command-output "list" "syscalls:sys_enter_get*pid"))

(test-assert "list -v: a tracepoint's fields and types from its format file"
  (let ((r (command-output "list" "-v" "tracepoint:syscalls:sys_enter_openat")))
    (and (= 0 (car r))
         (string-contains (cdr r) "tracepoint:syscalls:sys_enter_openat\n")
         (string-contains (cdr r) "    const char * filename\n")
         (not (string-contains (cdr r) "common_")))))

(test-equal "list: raw tracepoints"
  '(0 . "rawtracepoint:sched_switch\n")
  (command-output "list" "rawtracepoint:sched_switch"))

(test-assert "list: LSM hooks say when the kernel refuses trampolines"
  (let ((r (command-output "list" "lsm:file_open"))
        (usable? (assq-ref (bpf-features) 'fentry)))
    (and (= 0 (car r))
         (string-prefix? "lsm:file_open" (cdr r))
         (eq? (not usable?) (and (string-contains (cdr r) "(unavailable: ") #t)))))

(test-assert "list: uprobe:PATH:GLOB lists a binary's functions"
  (let ((r (command-output "list" "uprobe:/bin/bash:readline")))
    (equal? r '(0 . "uprobe:/bin/bash:readline\n"))))

(let ((lib (find file-exists? '("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
                                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"))))
  (test-assert "list: usdt:PATH lists a binary's SDT notes"
    (and lib
         (let ((r (command-output "list" (string-append "usdt:" lib ":*throw"))))
           (and (= 0 (car r))
                (string-contains (cdr r) (string-append "usdt:" lib ":libstdcxx:throw\n")))))))

(test-assert "list -f json: one record per probe, fields with -v"
  (let ((r (command-output "list" "-v" "-f" "json" "syscalls:sys_enter_getpid")))
    (equal? r '(0 . "{\"type\": \"probe\", \"data\": {\"probe\": \"tracepoint:syscalls:sys_enter_getpid\", \"available\": true, \"fields\": [{\"name\": \"__syscall_nr\", \"type\": \"int\"}]}}\n"))))

(test-assert "features -f json: one record"
  (let ((r (command-output "features" "-f" "json")))
    (and (= 0 (car r))
         (string-prefix? "{\"type\": \"features\", \"data\": {\"kernel-release\": " (cdr r)))))

(test-equal "the REPL's bpf-list-probes gives the same list"
  (string-split (string-trim-right (cdr (command-output "list" "sched:sched_wak*"))) #\newline)
  (bpf-list-probes "sched:sched_wak*"))

;;; guile-ebpf status: maps as the REPL prints them, and as JSON.

(let* ((pid (getpid))
       (pol (format #f "shellst~a" pid))
       (dir (format #f "/tmp/guile-ebpf-shell-status-~a" pid))
       (f (begin (unless (file-exists? dir) (mkdir dir))
                 (string-append dir "/pol.scm"))))
  (call-with-output-file f
    (lambda (port)
      (format port "
(defbpf-map ~a-counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 64)
(defbpf-map ~a-sizes #:kind 'histogram)
(defbpf-map ~a-keyed #:kind 'histogram #:key '(string 16))
(bpf-fn ~a-fn (ctx)
  (when (= (pid) ~a)
    (map-increment! ~a-counts 3)
    (map-increment! ~a-counts 4 2)
    (hist! ~a-keyed \"getppid\" 3000)
    (hist! ~a-sizes 100)))
(defbpf-program ~a-prog #:kind 'tracepoint #:attach \"syscalls:sys_enter_getppid\"
  #:source ~a-fn #:license \"GPL\")
(defbpf-policy ~a #:programs '(\"~a-prog\") #:maps '(\"~a-counts\" \"~a-sizes\" \"~a-keyed\"))
" pol pol pol pol pid pol pol pol pol pol pol pol pol pol pol pol)))
  (let ((applied (command-output "apply" f "--pin")))
    (do ((i 0 (+ i 1))) ((= i n)) (getppid))
    (let ((text (command-output "status" pol))
          (json (command-output "status" pol "-f" "json")))
      (command-output "remove" pol)
      (system* "rm" "-rf" dir)
      (test-assert "status: entries sorted by value as bpf-print-map prints them"
        (or (and (= 0 (car applied)) (= 0 (car text))
                 (string-contains (cdr text)
                                  (format #f "    @~a-counts[3]: ~a\n    @~a-counts[4]: ~a\n"
                                          pol n pol (* 2 n))))
            (begin (format #t "# ~s~%# ~s~%" (car applied) text) #f)))
      (test-assert "status: a histogram is drawn, not listed bucket by bucket"
        (and (string-contains (cdr text) (format #f "    @~a-sizes:\n" pol))
             (string-contains (cdr text) (format #f "    ~16a~8d |" "[64, 128)" n))
             (not (string-contains (cdr text) (format #f "@~a-sizes[" pol)))))
      (test-assert "status: a keyed histogram reopened from its pin is drawn per key"
        (or (string-contains (cdr text)
                             (format #f "    @~a-keyed[getppid]:\n    ~16a~8d |" pol "[2K, 4K)" n))
            (begin (format #t "# ~s~%" text) #f)))
      (test-assert "status -f json: a keyed histogram's buckets per key"
        (or (string-contains (cdr json)
                             (format #f "\"data\": {\"getppid\": [{\"min\": 2048, \"max\": 4095, \"count\": ~a}]}" n))
            (begin (format #t "# ~s~%" json) #f)))
      (test-assert "status -f json: one record, maps with their data"
        (or (and (= 0 (car json))
                 (string-prefix? "{\"type\": \"status\", \"data\": {" (cdr json))
                 (string-contains (cdr json) (format #f "\"data\": {\"3\": ~a, \"4\": ~a}" n (* 2 n)))
                 (string-contains (cdr json)
                                  (format #f "\"data\": [{\"min\": 64, \"max\": 127, \"count\": ~a}]" n))
                 (= 1 (length (string-split (string-trim-right (cdr json)) #\newline))))
            (begin (format #t "# ~s~%" json) #f))))))

;;; Internal objects stay internal.

(defbpf-map shell-internal-counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn shell-internal-fn (ctx) (map-increment! shell-internal-counts 0))
(defbpf-program shell-internal #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source shell-internal-fn #:license "GPL")
(bpf-attach! shell-internal)
(let ((slot? (lambda (n) (string-prefix? "gebpf_slot" (string-map (lambda (c) (if (char=? c #\-) #\_ c)) n))))
      (names (lambda (l) (map (lambda (e) (or (assq-ref e 'name) "")) l))))
  (test-assert "the dispatcher is there, listed with #:all? #t"
    (and (any slot? (bpf-map-names #:all? #t))
         (any slot? (names (bpf-maps #:all? #t)))
         (any slot? (names (bpf-programs #:all? #t)))))
  (test-assert "bpf-map-names, bpf-maps and bpf-programs leave it out"
    (and (member "shell-internal-counts" (map (lambda (n) (string-map (lambda (c) (if (char=? c #\_) #\- c)) n))
                                              (bpf-map-names)))
         (not (any slot? (bpf-map-names)))
         (not (any slot? (names (bpf-maps))))
         (not (any slot? (names (bpf-programs)))))))
(bpf-unload! shell-internal)

;;; Feedback at the REPL.

(test-equal "a bpf-fn prints with the name the user wrote"
  "#<bpf-fn count-opens-here>"
  (object->string (bpf-fn count-opens-here (ctx) (return 0))))

(defbpf-map shell-swap-counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn shell-swap-fn (ctx) (map-increment! shell-swap-counts 0))
(defbpf-program shell-swap #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source shell-swap-fn #:license "GPL")
(bpf-attach! shell-swap)
(test-assert "redefining a running bpf-fn at the REPL says it swapped the program"
  (string-contains
   (with-output-to-string
     (lambda ()
       (with-fluids ((*repl-stack* (list 'repl)))
         (bpf-fn shell-swap-fn (ctx) (map-increment! shell-swap-counts 0 2)))))
   ";;; swapped running program shell-swap for its new version (maps kept)"))
(test-equal "the new version runs" 2
  (let ((before (bpf-map-ref/sum shell-swap-counts 0)))
    (getppid)
    (- (bpf-map-ref/sum shell-swap-counts 0) before)))
(test-equal "outside a REPL a swap says nothing" ""
  (with-output-to-string
    (lambda () (bpf-fn shell-swap-fn (ctx) (map-increment! shell-swap-counts 0 3)))))
(bpf-unload! shell-swap)

;;; Progress while clang builds: on a terminal only.

(define one-probe "(on \"tracepoint:syscalls:sys_enter_getppid\" (count! @))")
(test-assert "building progress on a terminal"
  ;; script(1) gives the command a pseudo-terminal.
  (let* ((p (open-pipe* OPEN_READ "script" "-qc"
                        (format #f "guile-ebpf -e '~a' -d 1" one-probe) "/dev/null"))
         (out (get-string-all p)))
    (close-pipe p)
    (and (string-contains out "building 1 program (1/1)...")
         (string-contains out "\r\x1b[KAttaching 1 probe..."))))
(test-assert "no progress when standard error is not a terminal"
  (let* ((p (open-pipe* OPEN_READ "sh" "-c"
                        (format #f "guile-ebpf -e '~a' -d 1 2>&1" one-probe)))
         (out (get-string-all p)))
    (close-pipe p)
    (and (string-prefix? "Attaching 1 probe..." out)
         (not (string-contains out "building")))))

;;; Small warts.

(test-assert "two defbpf-struct forms in a file compile without a shadowing warning"
  (let* ((dir (format #f "/tmp/guile-ebpf-shell-struct-~a" (getpid)))
         (f (string-append dir "/two.scm")))
    (unless (file-exists? dir) (mkdir dir))
    (call-with-output-file f
      (lambda (p)
        (display "(use-modules (ebpf))
(defbpf-struct shell-wart-a (x u32))
(defbpf-struct shell-wart-b (y u32))
(list make-shell-wart-a make-shell-wart-b)
" p)))
    (let ((warnings (call-with-output-string
                      (lambda (port)
                        (parameterize ((current-warning-port port))
                          ((@ (system base compile) compile-file)
                           f #:output-file (string-append dir "/two.go")
                           #:opts '(#:warnings (shadowed-toplevel unbound-variable))))))))
      (system* "rm" "-rf" dir)
      (or (not (string-contains warnings "shadows"))
          (begin (format #t "# ~a~%" warnings) #f)))))

(test-assert "a lowering error in code typed at the REPL names the input line and the form"
  (let ((msg (catch 'ebpf-lower-error
               (lambda ()
                 (let ((in (open-input-string "\n\n(bpf-fn shell-wart-bad (ctx)\n  (frob 1))")))
                   ;; As the REPL reads: from a port without a file name.
                   (bpf-fn->c (eval (read in) (current-module)) #:kind 'tracepoint)
                   #f))
               (lambda (key . args) (ebpf-error-message args)))))
    (or (and (string? msg)
             (string-contains msg "input line 4, column 2")
             (string-contains msg "in (frob 1)")
             (not (string-contains msg "<unknown")))
        (begin (format #t "# ~s~%" msg) #f))))

;;; Bash completion.

(define (srcfile f) (string-append (srcdir) "/" f))
(test-equal "bash completion completes commands and probe kinds"
  "list\ntracepoint:\n"
  (let* ((p (open-pipe* OPEN_READ "bash" "-c"
                        (string-append
                         "source " (srcfile "etc/bash-completion/guile-ebpf") "; "
                         "COMP_WORDS=(guile-ebpf li); COMP_CWORD=1; _guile_ebpf; echo \"${COMPREPLY[@]}\"; "
                         "COMP_WORDS=(guile-ebpf list tr); COMP_CWORD=2; _guile_ebpf; echo \"${COMPREPLY[@]}\"")))
         (out (get-string-all p)))
    (close-pipe p)
    out))

(test-ebpf-error "an unknown probe is refused" 'ebpf-validation-error ("unknown probe" "Fix:")
  (bpf-script-run (list (cons "nosuch:thing" '()))))

(test-ebpf-error "kprobes are refused with a hint" 'ebpf-validation-error ("kprobes" "tracepoint")
  (bpf-script-run (list (cons "kprobe:vfs_read" '()))))

;; llcstat's hardware:cache-misses: accepted, but a machine without a
;; PMU (a VM) has no such counter and the kernel refuses it at attach.
(test-assert "hardware:cache-misses attaches, or is refused naming the event"
  (match (one-liner-status "(on \"hardware:cache-misses:1000000\" (count! @))")
    ((0 . _) #t)                        ; a PMU is present
    ((_ . out)
     (or (and (string-contains out "ebpf-attach-error")
              (string-contains out "cache-misses")
              (string-contains out "Fix:"))
         (begin (format #t "# ~s~%" out) #f)))))

(test-assert "a software probe names a known event"
  (match (one-liner-status "(on \"software:page-fault:1\" (count! @))")
    ((0 . out) (format #t "# ~s~%" out) #f)
    ((_ . out)
     (or (and (string-contains out "software:page-fault:1")
              (string-contains out "Fix:"))
         (begin (format #t "# ~s~%" out) #f)))))

(test-ebpf-error "watchpoint probes are refused with a hint" 'ebpf-validation-error
    ("watchpoint" "not supported" "Fix:")
  (bpf-script-run (list (cons "watchpoint:0x1000:8:rw" '()))))

(test-ebpf-error "fentry probes are refused with a hint" 'ebpf-validation-error
    ("fentry:vfs_read" "not supported" "Fix: use a tracepoint or rawtracepoint")
  (bpf-script-run (list (cons "fentry:vfs_read" '()))))

(harness-end)
