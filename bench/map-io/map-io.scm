;;; map-io.scm --- guile-ebpf side of the map I/O benchmark.
;;;
;;; Times, through guile-ebpf, the operations that map_io.c times with
;;; raw libbpf, on a hash map u32 -> u64 of ENTRIES entries (default
;;; 1,000,000), in the same order:
;;;
;;;   scm-single-update      bpf-map-set! of every key (into an empty map)
;;;   scm-single-lookup      bpf-map-ref of every key, summing the values
;;;   scm-fold               bpf-map-fold over the map, summing the values
;;;   scm-set-all            bpf-map-set-all! of a prebuilt alist
;;;   scm-fold-elementwise   bpf-map-fold #:batch? #f (get-next-key walk)
;;;
;;; Each result is one line "NAME OPS_PER_SECOND" on stdout.
;;;
;;; Usage:  ./pre-inst-env guile -s bench/map-io/map-io.scm [ENTRIES]
;;; bench/map-io/run compiles this file first (as a user's program would
;;; be) and loads the compiled code.  Needs CAP_BPF (or root).

(use-modules (ebpf)
             (system foreign)
             (ice-9 format))

(define entries
  (let ((args (cdr (command-line))))
    (if (pair? args) (string->number (car args)) 1000000)))

(defbpf-map bench #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries entries)

(define (now) (get-internal-real-time))

(define (report name ops t0)
  (let ((secs (/ (- (now) t0) (exact->inexact internal-time-units-per-second))))
    (format #t "~a ~d~%" name (inexact->exact (round (/ ops secs))))
    (force-output)))

(define (check what got want)
  (unless (= got want)
    (format (current-error-port) "map-io.scm: ~a: got ~a, expected ~a~%"
            what got want)
    (exit 1)))

;; Expected sums of the values 3k+1 (first round) and 3k+2 (second).
(define (expected-sum round)
  (+ (* 3 (quotient (* entries (- entries 1)) 2)) (* round entries)))

(define (set-loop! m n)
  (let loop ((k 0))
    (when (< k n)
      (bpf-map-set! m k (+ (* 3 k) 1))
      (loop (+ k 1)))))

(define (ref-loop m n)
  (let loop ((k 0) (sum 0))
    (if (< k n)
        (loop (+ k 1) (+ sum (bpf-map-ref m k)))
        sum)))

(define (sum-values k v acc) (+ acc v))

(define (build-alist n)
  (let loop ((k (- n 1)) (acc '()))
    (if (< k 0)
        acc
        (loop (- k 1) (cons (cons k (+ (* 3 k) 2)) acc)))))

(define (main m n)
  (gc)
  (let ((t0 (now)))
    (set-loop! m n)
    (report "scm-single-update" n t0))

  (gc)
  (let* ((t0 (now))
         (sum (ref-loop m n)))
    (report "scm-single-lookup" n t0)
    (check "single lookup sum" sum (expected-sum 1)))

  (gc)
  (let* ((t0 (now))
         (sum (bpf-map-fold sum-values 0 m)))
    (report "scm-fold" n t0)
    (check "fold sum" sum (expected-sum 1)))

  (let ((alist (build-alist n)))
    (gc)
    (let* ((t0 (now))
           (stored (bpf-map-set-all! m alist)))
      (report "scm-set-all" n t0)
      (check "set-all! count" stored n)))

  (gc)
  (let* ((t0 (now))
         (sum (bpf-map-fold sum-values 0 m #:batch? #f)))
    (report "scm-fold-elementwise" n t0)
    (check "element-wise fold sum" sum (expected-sum 2))))

;; With MAP_IO_LIB (map_io.c built as a library) and ROUNDS, the raw C
;; side runs in this process too: ROUNDS rounds, C and Scheme
;; alternating which goes first, each side's lines after a line
;; "round R" (round 0 is a warm-up).  Both sides then see the same machine state.
(define c-lib (getenv "MAP_IO_LIB"))
(define rounds (string->number (or (getenv "ROUNDS") "0")))
(if (and c-lib (> rounds 0))
    (let ((c-run (pointer->procedure
                  int (dynamic-func "map_io_run" (dynamic-link c-lib))
                  (list uint32 uint32))))
      (do ((r 0 (+ r 1))) ((= r rounds))
        (let ((scm-side (lambda ()
                          (format #t "round ~a~%" r)
                          (bpf-map-clear! bench)
                          (main bench entries)))
              (c-side (lambda ()
                        (format #t "round ~a~%" r)
                        (force-output)
                        (unless (zero? (c-run entries 0))
                          (format (current-error-port)
                                  "map-io.scm: map_io_run failed~%")
                          (exit 1)))))
          (if (even? r)
              (begin (c-side) (scm-side))
              (begin (scm-side) (c-side))))))
    (main bench entries))
