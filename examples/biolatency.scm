;;; biolatency.scm --- block I/O latency histogram, after libbpf-tools' biolatency.
;;;
;;; Shows: a struct type as a hash map key (the request's device and
;;; sector, stashed with the time it was issued at block:block_rq_issue,
;;; or queued at block:block_rq_insert with -Q), picked up at
;;; block:block_rq_complete to put the latency in a log2 histogram --
;;; one for all disks, or one per disk (a histogram keyed by device
;;; number) with -D.  Options are set before load through #:constants;
;;; the histograms are read back with bpf-hist and printed in
;;; libbpf-tools' format.
;;;
;;; Options (as the original):
;;;   -m, --milliseconds  millisecond histogram (default microseconds)
;;;   -D, --disk-hist     a histogram per disk
;;;   -Q, --queued        include the time requests wait in the OS queue
;;;   -d, --disk DISK     trace this disk only (a name from /proc/partitions)
;;;   -T, --timestamp     include a timestamp on each output
;;;   INTERVAL [COUNT]    print every INTERVAL seconds, COUNT times
;;;       --duration S    trace for S seconds (default 2) when no interval
;;;
;;; The script makes its own I/O: it writes a temporary file in $TMPDIR
;;; or /var/tmp (--dir DIR for another) and fsyncs it, and removes it at
;;; the end.  When the disk shows no request, it says so.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/biolatency.scm [OPTIONS] [INTERVAL [COUNT]]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 rdelim)
             (ice-9 binary-ports) (rnrs bytevectors) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((milliseconds (single-char #\m))
                 (disk-hist (single-char #\D))
                 (queued (single-char #\Q))
                 (disk (single-char #\d) (value #t))
                 (timestamp (single-char #\T))
                 (duration (value #t))
                 (dir (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: biolatency.scm [-m] [-D] [-Q] [-d DISK] [-T] [--dir DIR] [--duration SECONDS] [INTERVAL [COUNT]]\n")
  (exit 0))

(define positional (map string->number (option-ref options '() '())))
(define interval (and (pair? positional) (car positional)))
(define times (if (and interval (pair? (cdr positional))) (cadr positional) 1))
(define duration (or interval (string->number (option-ref options 'duration "2"))))
(define msecs? (option-ref options 'milliseconds #f))
(define per-disk? (option-ref options 'disk-hist #f))
(define dir (option-ref options 'dir (or (getenv "TMPDIR") "/var/tmp")))

;;; ---- disks: the kernel's dev_t (major << 20 | minor) and names ----

(define partitions
  (call-with-input-file "/proc/partitions"
    (lambda (port)
      (let loop ((acc '()))
        (let ((line (read-line port)))
          (if (eof-object? line)
              (reverse acc)
              (let ((f (string-tokenize line)))
                (if (and (= (length f) 4) (string->number (car f)))
                    (loop (acons (logior (ash (string->number (car f)) 20)
                                         (string->number (cadr f)))
                                 (cadddr f) acc))
                    (loop acc)))))))))

(define (disk-name dev) (or (assv-ref partitions dev) (format #f "dev ~a" dev)))

(define target-dev
  (let ((name (option-ref options 'disk #f)))
    (cond ((not name) 0)
          ((find (lambda (p) (equal? (cdr p) name)) partitions) => car)
          (else (format (current-error-port) "invalid disk: ~a~%" name)
                (exit 2)))))

;;; ---- maps and programs --------------------------------------------

(defbpf-struct request (dev u32) (sector u64))
(defbpf-map started #:kind 'hash #:key 'request #:value 'u64 #:max-entries 10240
  #:doc "When each request was issued (or queued), in ns.")
(defbpf-map latency #:kind 'histogram #:doc "Block I/O latency, log2 buckets.")
(defbpf-map latency-by-disk #:kind 'histogram #:key 'u32
  #:doc "Block I/O latency by device number, log2 buckets.")

(bpf-fn on-start (ctx)
  (when (or (= (const targ-dev) 0) (= (arg ctx 'dev) (const targ-dev)))
    (map-set! started (make-request #:dev (arg ctx 'dev) #:sector (arg ctx 'sector))
              (ktime-ns))))

(bpf-fn on-complete (ctx)
  (let* ((rq (make-request #:dev (arg ctx 'dev) #:sector (arg ctx 'sector)))
         (t0 (map-get started rq)))
    (when t0
      (let ((delta (/ (- (ktime-ns) (map-ref started rq))
                      (if (= (const msecs) 1) 1000000 1000))))
        (if (= (const per-disk) 1)
            (hist! latency-by-disk (arg ctx 'dev) delta)
            (hist! latency delta)))
      (map-delete! started rq))))

(defbpf-program biolatency-start
  #:kind 'tracepoint
  #:attach (if (option-ref options 'queued #f) "block:block_rq_insert" "block:block_rq_issue")
  #:source on-start #:constants `((targ-dev . ,target-dev)) #:license "GPL")
(defbpf-program biolatency-done
  #:kind 'tracepoint #:attach "block:block_rq_complete"
  #:source on-complete
  #:constants `((msecs . ,(if msecs? 1 0)) (per-disk . ,(if per-disk? 1 0)))
  #:license "GPL")

(define programs (list biolatency-start biolatency-done))

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
(define requests-seen 0)

(define (print-report)
  (newline)
  (when (option-ref options 'timestamp #f)
    (format #t "~a~%" (strftime "%H:%M:%S" (localtime (current-time)))))
  (if per-disk?
      (for-each (lambda (e)
                  (set! requests-seen (+ requests-seen (fold + 0 (map caddr (cdr e)))))
                  (format #t "~%disk = ~a~%" (disk-name (car e)))
                  (print-log2-hist (cdr e) unit))
                (bpf-hist latency-by-disk))
      (let ((h (bpf-hist latency)))
        (set! requests-seen (+ requests-seen (fold + 0 (map caddr h))))
        (print-log2-hist h unit)))
  (bpf-map-clear! (if per-disk? latency-by-disk latency)))

;;; ---- activity: writes and fsyncs ----------------------------------

(define file (format #f "~a/guile-ebpf-biolatency-~a" dir (getpid)))

(define (write-for! seconds)
  (let ((port (open-file file "wb"))
        (end (+ (get-internal-real-time)
                (* seconds internal-time-units-per-second))))
    (let loop ((i 0))
      (when (< (get-internal-real-time) end)
        (put-bytevector port (make-bytevector (* 4096 (+ 1 (modulo i 16))) i))
        (force-output port)
        (fsync port)
        (when (zero? (modulo (+ i 1) 64))
          (truncate-file port 0)
          (seek port 0 SEEK_SET))
        (usleep 10000)
        (loop (+ i 1))))
    (close-port port)))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "Tracing block device I/O... Hit Ctrl-C to end.~%")
    (do ((i 0 (+ i 1))) ((= i times))
      (write-for! duration)
      (print-report))
    (when (zero? requests-seen)
      (format #t "~%No block I/O request completed: the file system of ~a ~
                  is not on a block device here (tmpfs?), or this machine's ~
                  disk shows none.  Try --dir on a disk.~%" dir)))
  (lambda ()
    (for-each bpf-unload! programs)
    (false-if-exception (delete-file file))))
