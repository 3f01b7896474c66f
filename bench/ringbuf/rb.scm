;;; rb.scm --- the guile-ebpf consumer of the ring buffer benchmark.
;;;
;;; Usage (compiled with guild, as bench/ringbuf/run does):
;;;   guile -c '(load-compiled "rb.go")' GENERATOR N MODE
;;;
;;; Declares the producer as a bpf-fn: one 16-byte event (emit!) per
;;; getpid(2) of the generator into a 16 MiB ring.  Starts GENERATOR for N
;;; calls and consumes with a Scheme handler that reads each decoded
;;; record's fields:
;;;
;;;   poll        bpf-ringbuf-poll in a loop, adaptive wake-ups
;;;   poll-batch  bpf-ringbuf-poll in a loop, wake-ups off (batch): an
;;;               empty ring is drained again 10 ms later
;;;   thread      bpf-ringbuf-start! with its defaults (wake-ups off,
;;;               drained every 10 ms by a consumer thread)
;;;   drain       wake-ups off, nothing consumed until the generator is
;;;               done; SECONDS is the time to empty the full ring (the
;;;               handler's capacity, where the others follow the
;;;               generator)
;;;
;;; Prints one line: "scm-MODE EVENTS DROPPED SECONDS GENERATOR-SECONDS",
;;; SECONDS running from the generator's start to the last event handled.

(use-modules (ebpf) (ice-9 rdelim) (ice-9 match))

(define-values (generator n mode)
  (match (cdr (command-line))
    ((g n m) (values g (string->number n) (string->symbol m)))
    (_ (format (current-error-port) "usage: rb.scm GENERATOR N poll|poll-batch|thread|drain~%")
       (exit 2))))

(defbpf-struct ev (ts u64) (cpu u32) (pid u32))
(defbpf-map bench-events #:kind 'ringbuf #:max-entries (* 16 1024 1024))

(bpf-fn on-getpid (ctx)
  (when (= (tgid) (const target))
    (emit! bench-events (make-ev #:ts (ktime-ns) #:cpu (cpu) #:pid (tgid)))))

(define count 0)
(define checksum 0)
(define (handler e)
  (set! count (+ count 1))
  (set! checksum (+ checksum (ev-cpu e) (ev-pid e) (logand (ev-ts e) 1))))

(define (now) (/ (get-internal-real-time) internal-time-units-per-second 1.))

(define (spawn program . args)
  ;; Start PROGRAM; return (PID TO-ITS-STDIN FROM-ITS-STDOUT).
  (let ((to (pipe)) (from (pipe)))
    (let ((pid (primitive-fork)))
      (if (zero? pid)
          (begin
            (dup2 (port->fdes (car to)) 0)
            (dup2 (port->fdes (cdr from)) 1)
            (apply execl program program args))
          (begin
            (close-port (car to))
            (close-port (cdr from))
            (list pid (cdr to) (car from)))))))

(define child (spawn generator (number->string n)))
(define gen-process (car child))
(define to-gen (cadr child))
(define gen (caddr child))
(define gen-pid (string->number (read-line gen)))

(define prog
  (make-bpf-program `((name . "rb-bench") (kind . tracepoint)
                      (attach . "syscalls/sys_enter_getpid")
                      (source . ,on-getpid)
                      (constants . ((target . ,gen-pid))))))
(bpf-attach! prog)
(bpf-ringbuf-poll bench-events handler #:timeout-ms 0)  ; opens the reader
(when (memq mode '(poll-batch drain))
  (bpf-ringbuf-set-wakeup! bench-events 'batch))
(when (eq? mode 'thread)
  (bpf-ringbuf-start! bench-events handler))

(define (generator-done?)
  (pair? (car (select (list gen) '() '() 0))))

(define t0 (now))
(display "go\n" to-gen)
(force-output to-gen)
(define done-line
  (begin
    (case mode
      ((poll) (let lp () (bpf-ringbuf-poll bench-events handler #:timeout-ms 100)
                   (unless (generator-done?) (lp))))
      ((poll-batch) (let lp () (bpf-ringbuf-poll bench-events handler #:timeout-ms 10)
                         (unless (generator-done?) (lp))))
      ((thread drain) #t))
    ;; The thread consumes meanwhile; poll modes have seen the line come.
    (read-line gen)))
(define gen-seconds
  (match (string-split done-line #\space)
    (("done" s) (string->number s))
    (_ #f)))
;; drain: nothing was consumed while the generator ran; the ring is
;; full, and only emptying it is timed -- the consumer's capacity, not
;; the generator's rate.
(when (eq? mode 'drain)
  (set! t0 (now)))
(if (eq? mode 'thread)
    (bpf-ringbuf-stop! bench-events)
    (let lp () (when (> (bpf-ringbuf-poll bench-events handler #:timeout-ms 0) 0) (lp))))
(define t1 (now))
(waitpid gen-process)
(format #t "scm-~a ~a ~a ~,6f ~a~%" mode count
        (assq-ref (bpf-ringbuf-stats bench-events) 'dropped) (- t1 t0)
        (or gen-seconds "-"))
(format (current-error-port) "checksum ~a~%" checksum)
(bpf-unload! prog)
