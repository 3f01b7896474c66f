;;; read-latency.scm --- read() latency histograms by process name.
;;;
;;; The bpftrace program it ports (kprobes are not needed: the syscall
;;; tracepoints give both ends of the call):
;;;   tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }
;;;   tracepoint:syscalls:sys_exit_read /@start[tid]/ {
;;;     @ns[comm] = hist(nsecs - @start[tid]); delete(@start[tid]); }
;;;
;;; Shows: two programs sharing a hash map -- the time stashed at entry,
;;; keyed by thread id ((tid)), and picked up at exit -- and a keyed
;;; histogram (#:kind 'histogram #:key '(string 16)) filled with
;;; (hist! MAP KEY VALUE) and printed by bpf-print-hist with one block
;;; per process name, as bpftrace prints @ns[comm].
;;;
;;; The script reads quickly (/dev/zero) and slowly (a pipe that a
;;; thread of its own writes to after a short sleep), so its own
;;; histogram has two modes.  --top N prints only the N processes with
;;; the most reads.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/read-latency.scm [--top N] [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 binary-ports)
             (ice-9 threads) (rnrs bytevectors))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (top (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: read-latency.scm [--top N] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))
(define top (and=> (option-ref options 'top #f) string->number))

(defbpf-map start #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240
  #:doc "When each thread entered read(), in ns.")
(defbpf-map ns #:kind 'histogram #:key '(string 16)
  #:doc "read() latency in ns, log2 buckets, by process name.")

(bpf-fn read-enter (ctx)
  (map-set! start (tid) (ktime-ns)))

(bpf-fn read-exit (ctx)
  (let ((t0 (map-get start (tid))))
    (when t0
      (hist! ns (comm) (- (ktime-ns) (map-ref start (tid))))
      (map-delete! start (tid)))))

(defbpf-program read-latency-enter
  #:kind 'tracepoint #:attach "syscalls:sys_enter_read"
  #:source read-enter #:license "GPL")
(defbpf-program read-latency-exit
  #:kind 'tracepoint #:attach "syscalls:sys_exit_read"
  #:source read-exit #:license "GPL")

(define programs (list read-latency-enter read-latency-exit))

(define zero (open-input-file "/dev/zero" #:binary #t))
(setvbuf zero 'none)

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "Attaching 2 probes...~%")
    (let* ((fds (pipe))
           (in (car fds))
           (out (cdr fds))
           (end (+ (get-internal-real-time)
                   (* duration internal-time-units-per-second)))
           (writer (call-with-new-thread
                    (lambda ()
                      ;; One byte into the pipe every 1-4 ms.
                      (let loop ((i 0))
                        (when (< (get-internal-real-time) end)
                          (usleep (* 1000 (+ 1 (modulo i 4))))
                          (put-u8 out 1)
                          (force-output out)
                          (loop (+ i 1))))
                      (close-port out)))))
      (setvbuf in 'none)
      (let loop ()
        (when (< (get-internal-real-time) end)
          (get-bytevector-n zero 4096)  ; fast
          (get-u8 in)                   ; waits for the writer
          (loop)))
      (join-thread writer)
      (close-port in))
    (for-each bpf-detach! programs)
    (newline)
    (if top
        (bpf-print-hist ns #:top top)
        (bpf-print-hist ns)))
  (lambda ()
    (for-each bpf-unload! programs)
    (close-port zero)))
