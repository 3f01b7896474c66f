;;; sched-probes.scm --- scheduler tracepoints counted by probe name.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:sched:sched* { @[probe] = count(); }'
;;;
;;; Shows: one program attached to every tracepoint a glob matches
;;; ("sched:sched_*"), (probe) in the body giving the index of the
;;; tracepoint that fired, and bpf-probe-name turning that index back
;;; into the tracepoint's name on the Scheme side.  The script forks
;;; `true' and sleeps now and then, so the scheduler has work to show.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/sched-probes.scm [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: sched-probes.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

(defbpf-map probe-counts #:kind 'per-cpu-array #:key 'u32 #:value 'u64
  #:max-entries 256 #:doc "Hits by probe index.")

(bpf-fn count-probe (ctx)
  (map-increment! probe-counts (probe)))

(defbpf-program sched-probes
  #:kind 'tracepoint
  #:attach "sched:sched_*"
  #:source count-probe
  #:license "GPL")

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! sched-probes)
    (let ((n (vector-length (bpf-probe-names sched-probes))))
      (format #t "Attaching ~a probes...~%" n)
      (let ((end (+ (get-internal-real-time)
                    (* duration internal-time-units-per-second))))
        (let loop ()
          (when (< (get-internal-real-time) end)
            (system* "true")
            (usleep 50000)
            (loop))))
      (bpf-detach! sched-probes)
      (newline)
      ;; @[tracepoint:sched:NAME]: COUNT, by increasing count, as bpftrace.
      (for-each (lambda (e) (format #t "@[~a]: ~a~%" (car e) (cdr e)))
                (sort (filter-map (lambda (i)
                                    (let ((c (bpf-map-ref/sum probe-counts i)))
                                      (and (> c 0)
                                           (cons (bpf-probe-name sched-probes i) c))))
                                  (iota n))
                      (lambda (a b) (< (cdr a) (cdr b)))))))
  (lambda ()
    (bpf-unload! sched-probes)))
