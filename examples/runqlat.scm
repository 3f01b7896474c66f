;;; runqlat.scm --- run-queue latency histogram, after libbpf-tools' runqlat.
;;;
;;; Shows: three scheduler tracepoints cooperating through a hash map:
;;; the time a thread is woken (sched_wakeup, sched_wakeup_new -- one
;;; program attached to both by the glob "sched:sched_wakeup*") or
;;; preempted while still runnable (sched_switch) is stashed by thread
;;; id, and when sched_switch puts the thread on a CPU the time it
;;; waited goes into a log2 histogram with hist! -- one histogram, or
;;; one per thread (a keyed histogram) with -P.  Options are set before
;;; load through #:constants.  The histogram is read back with bpf-hist
;;; and printed in libbpf-tools' format.
;;;
;;; Options (as the original):
;;;   -m, --milliseconds  millisecond histogram (default microseconds)
;;;   -p, --pid PID       trace this thread id only (a process's main
;;;                       thread has its pid; the tracepoints name threads)
;;;   -P, --pids          a histogram per thread id
;;;   -T, --timestamp     include a timestamp on each output
;;;   INTERVAL [COUNT]    print every INTERVAL seconds, COUNT times
;;;       --duration S    trace for S seconds (default 2) when no interval
;;;
;;; The script keeps a few threads of its own sleeping and waking, so
;;; there is always latency to show.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/runqlat.scm [OPTIONS] [INTERVAL [COUNT]]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 threads)
             (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((milliseconds (single-char #\m))
                 (pid (single-char #\p) (value #t))
                 (pids (single-char #\P))
                 (timestamp (single-char #\T))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: runqlat.scm [-m] [-p PID] [-P] [-T] [--duration SECONDS] [INTERVAL [COUNT]]\n")
  (exit 0))

(define positional (map string->number (option-ref options '() '())))
(define interval (and (pair? positional) (car positional)))
(define times (if (and interval (pair? (cdr positional))) (cadr positional) 1))
(define duration (or interval (string->number (option-ref options 'duration "2"))))
(define msecs? (option-ref options 'milliseconds #f))
(define per-thread? (option-ref options 'pids #f))
(define target (string->number (option-ref options 'pid "0")))

;;; ---- maps and programs --------------------------------------------

(defbpf-map enqueued #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240
  #:doc "When each runnable thread was put on a run queue, in ns.")
(defbpf-map runq #:kind 'histogram #:doc "Run-queue latency, log2 buckets.")
(defbpf-map runq-by-thread #:kind 'histogram #:key 'u32
  #:doc "Run-queue latency by thread id, log2 buckets.")

(define-bpf-inline (stash-time thread)
  (when (and (!= thread 0)
             (or (= (const targ-tid) 0) (= thread (const targ-tid))))
    (map-set! enqueued thread (ktime-ns))))

(bpf-fn on-wakeup (ctx)
  (stash-time (arg ctx 'pid)))

(bpf-fn on-switch (ctx)
  ;; The thread leaving the CPU while still runnable (state 0, or
  ;; preempted) goes back on a run queue.
  (when (= (logand (arg ctx 'prev_state) #xff) 0)
    (stash-time (arg ctx 'prev_pid)))
  (let* ((next (arg ctx 'next_pid))
         (t0 (map-get enqueued next)))
    (when t0
      (let ((delta (/ (- (ktime-ns) (map-ref enqueued next))
                      (if (= (const msecs) 1) 1000000 1000))))
        (if (= (const per-thread) 1)
            (hist! runq-by-thread next delta)
            (hist! runq delta)))
      (map-delete! enqueued next))))

(defbpf-program runqlat-wakeup
  #:kind 'tracepoint #:attach "sched:sched_wakeup*"
  #:source on-wakeup #:constants `((targ-tid . ,target)) #:license "GPL")
(defbpf-program runqlat-switch
  #:kind 'tracepoint #:attach "sched:sched_switch"
  #:source on-switch
  #:constants `((targ-tid . ,target) (msecs . ,(if msecs? 1 0))
                (per-thread . ,(if per-thread? 1 0)))
  #:license "GPL")

(define programs (list runqlat-wakeup runqlat-switch))

;;; ---- output in libbpf-tools' format ------------------------------

(define (log2-slots buckets)
  ;; bpf-hist's (LOW HIGH COUNT) buckets -> a vector of libbpf-tools'
  ;; log2 slots (slot 0 holds 0 and 1, slot i holds 2^i .. 2^(i+1)-1).
  (let ((v (make-vector 64 0)))
    (for-each (lambda (b)
                (let ((slot (if (<= (car b) 1) 0 (- (integer-length (car b)) 1))))
                  (vector-set! v slot (+ (vector-ref v slot) (caddr b)))))
              buckets)
    v))

(define (print-log2-hist buckets unit)
  (let* ((v (log2-slots buckets))
         (last (find (lambda (i) (> (vector-ref v i) 0)) (iota 64 63 -1)))
         (top (reduce max 0 (vector->list v))))
    (when last
      (let ((wide? (> last 32)))
        (format #t "~a~va : count    distribution~%"
                (make-string (if wide? 15 5) #\space) (if wide? 29 19) unit)
        (for-each
         (lambda (i)
           (let* ((low (if (= i 0) 0 (expt 2 i)))
                  (high (- (expt 2 (+ i 1)) 1))
                  (count (vector-ref v i))
                  (width (if wide? 20 10))
                  (stars-max (if wide? 20 40))
                  (stars (quotient (* (min count top) stars-max) top)))
             (format #t "~v@a -> ~va : ~8a |~a~a|~%"
                     width low width high count
                     (make-string stars #\*) (make-string (- stars-max stars) #\space))))
         (iota (+ last 1)))))))

(define unit (if msecs? "msecs" "usecs"))

(define (print-report)
  (newline)
  (when (option-ref options 'timestamp #f)
    (format #t "~a~%" (strftime "%H:%M:%S" (localtime (current-time)))))
  (if per-thread?
      (for-each (lambda (e)
                  (format #t "~%pid = ~a~%" (car e))
                  (print-log2-hist (cdr e) unit))
                (bpf-hist runq-by-thread))
      (print-log2-hist (bpf-hist runq) unit))
  (bpf-map-clear! (if per-thread? runq-by-thread runq)))

;;; ---- activity: threads that sleep and wake each other -------------

(define (start-sleepers! until)
  (map (lambda (i)
         (call-with-new-thread
          (lambda ()
            (let loop ((k 0))
              (when (< (get-internal-real-time) until)
                (usleep (+ 500 (* 300 (modulo (+ i k) 7))))
                (let spin ((j 0)) (when (< j 20000) (spin (+ j 1))))
                (loop (+ k 1)))))))
       (iota 4)))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "Tracing run queue latency... Hit Ctrl-C to end.~%")
    (let ((end (+ (get-internal-real-time)
                  (* duration times internal-time-units-per-second))))
      (let ((sleepers (start-sleepers! end)))
        (do ((i 0 (+ i 1))) ((= i times))
          (usleep (inexact->exact (round (* duration 1000000))))
          (print-report))
        (for-each join-thread sleepers))))
  (lambda ()
    (for-each bpf-unload! programs)))
