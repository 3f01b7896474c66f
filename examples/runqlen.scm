;;; runqlen.scm --- run-queue length, sampled, after libbpf-tools' runqlen.
;;;
;;; Shows: a perf-event program (#:frequency, 99 Hz on every CPU) that
;;; reads the run queue of the task it interrupts with core-read:
;;; task->se.cfs_rq->nr_queued.  Linux 6.14 renamed that field from
;;; nr_running, and libbpf-tools tests which one the kernel has; here
;;; the field is written as the list of its names, '(nr_queued
;;; nr_running), and the lowering takes the one this kernel's BTF has.
;;; The lengths are counted in an array (a linear histogram), by CPU
;;; with -C.
;;;
;;; Output as libbpf-tools' runqlen: a linear histogram of the number
;;; of tasks waiting (the running one left out), or with -O the share
;;; of samples where some task waited.
;;;
;;; Options (as the original):
;;;   -C, --cpus          a histogram per CPU
;;;   -O, --runqocc       report run queue occupancy
;;;   -d, --duration S    sample for S seconds (default 2)
;;;
;;; The script keeps a few threads of its own busy, so the run queues
;;; are not always empty.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/runqlen.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 threads)
             (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((cpus (single-char #\C))
                 (runqocc (single-char #\O))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: runqlen.scm [-C] [-O] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))
(define per-cpu? (option-ref options 'cpus #f))

(define max-slots 32)
(define max-cpus 64)

;;; ---- map and program ----------------------------------------------

(defbpf-map runq-lengths #:kind 'array #:key 'u32 #:value 'u64
  #:max-entries (* max-slots max-cpus)
  #:doc "Samples by CPU * 32 + tasks waiting.")

(bpf-fn on-sample (ctx)
  (let* ((queued (core-read (current-task) 'se 'cfs_rq '(nr_queued nr_running)))
         (waiting (if (> queued 0) (- queued 1) 0))
         (row (if (= (const per-cpu) 1) (min (cpu) ,(- max-cpus 1)) 0)))
    (map-increment! runq-lengths
                    (+ (* row ,max-slots) (min waiting ,(- max-slots 1))))))

(defbpf-program runqlen
  #:kind 'perf-event
  #:attach '(#:frequency 99)
  #:source on-sample
  #:constants `((per-cpu . ,(if per-cpu? 1 0)))
  #:license "GPL")

;;; ---- output in libbpf-tools' format ------------------------------

(define (counts-of row)
  (map (lambda (slot) (bpf-map-ref runq-lengths (+ (* row max-slots) slot) 0))
       (iota max-slots)))

(define (print-linear-hist counts)
  (let* ((last (or (find (lambda (i) (> (list-ref counts i) 0))
                         (iota max-slots (- max-slots 1) -1))
                   0))
         (top (max 1 (reduce max 0 counts))))
    (format #t "     ~13a : count    distribution~%" "runqlen")
    (for-each
     (lambda (i)
       (let* ((count (list-ref counts i))
              (stars (quotient (* count 40) top)))
         (format #t "~8@a~10a : ~8a |~a~a|~%" i "" count
                 (make-string stars #\*) (make-string (- 40 stars) #\space))))
     (iota (+ last 1)))))

(define (print-occupancy row counts)
  (let* ((total (reduce + 0 counts))
         (queued (- total (car counts))))
    (format #t "~arunqocc: ~,2f%~%"
            (if per-cpu? (format #f "cpu ~a: " row) "")
            (if (zero? total) 0 (* 100.0 (/ queued total))))))

(define (print-report)
  (for-each
   (lambda (row)
     (let ((counts (counts-of row)))
       (when (or (not per-cpu?) (> (reduce + 0 counts) 0))
         (when (and per-cpu? (not (option-ref options 'runqocc #f)))
           (format #t "~%cpu = ~a~%" row))
         (if (option-ref options 'runqocc #f)
             (print-occupancy row counts)
             (print-linear-hist counts)))))
   (if per-cpu? (iota max-cpus) '(0))))

;;; ---- activity: busy threads ----------------------------------------

(define (start-spinners! until)
  (map (lambda (i)
         (call-with-new-thread
          (lambda ()
            (let loop ((k 0))
              (when (< (get-internal-real-time) until)
                (loop (+ k 1)))))))
       (iota 3)))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! runqlen)
    (format #t "Sampling run queue length... Hit Ctrl-C to end.~%")
    (let* ((end (+ (get-internal-real-time)
                   (* duration internal-time-units-per-second)))
           (spinners (start-spinners! end)))
      (for-each join-thread spinners))
    (newline)
    (print-report))
  (lambda ()
    (bpf-unload! runqlen)))
