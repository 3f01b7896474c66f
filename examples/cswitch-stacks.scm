;;; cswitch-stacks.scm --- kernel stacks that led to a context switch.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:sched:sched_switch { @[kstack] = count(); }'
;;;
;;; Shows: (stack-id ctx STACKMAP) in a tracepoint program, counting
;;; context switches by the kernel stack of the task leaving the CPU,
;;; and bpf-print-map printing the stack ids as their frames, as
;;; bpftrace prints @[kstack] (with (kstack) as the key, no stack map
;;; need be declared: see profile.scm).  The script sleeps, forks and
;;; waits in short steps, so it switches out often itself.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/cswitch-stacks.scm [--top N] [--duration SECONDS]
;;; Default: the 5 most frequent stacks after 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (top (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: cswitch-stacks.scm [--top N] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))
(define top (string->number (option-ref options 'top "5")))

(define stack-entries 4096)
(defbpf-map switch-stacks #:kind 'stack-trace #:max-entries stack-entries)
(defbpf-map switches #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 4096
  #:doc "Context switches by kernel stack id.")

(bpf-fn on-switch (ctx)
  (let ((id (stack-id ctx switch-stacks)))
    ;; A valid id indexes the stack map (stack-id returns a negative
    ;; errno when it cannot record the stack).
    (when (and (>= id 0) (< id ,stack-entries))
      (map-increment! switches id))))

(defbpf-program cswitch-stacks
  #:kind 'tracepoint
  #:attach "sched:sched_switch"
  #:source on-switch
  #:license "GPL")

(define (print-stacks counts top)
  ;; The TOP most frequent stacks, the most frequent last, as bpftrace:
  ;; bpf-print-map prints the stack ids stack-id made as their frames.
  (let ((entries (bpf-map->alist counts)))
    (bpf-print-map counts #:top top #:name "@")
    (format #t "~%~a context switches from ~a distinct kernel stacks~%"
            (fold + 0 (map cdr entries)) (length entries))))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! cswitch-stacks)
    (format #t "Attaching 1 probe...~%")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (usleep 2000)                 ; sleeps: switches out in nanosleep
          (when (zero? (modulo i 20))
            (system* "true"))           ; waits for a child: switches out in wait
          (loop (+ i 1)))))
    (bpf-detach! cswitch-stacks)
    (newline)
    (print-stacks switches top))
  (lambda ()
    (bpf-unload! cswitch-stacks)))
