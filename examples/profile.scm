;;; profile.scm --- on-CPU stacks of one process, sampled at 99 Hertz.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'profile:hz:99 /pid == PID/ { @kernel[kstack] = count();
;;;                                             @user[ustack] = count(); }'
;;;
;;; Shows: a perf-event program (#:attach '(#:frequency 99), the CPU
;;; clock of every CPU) counting samples by (kstack) and by (ustack):
;;; stacks as map keys, recorded in a stack-trace map guile-ebpf declares
;;; by itself, and printed by bpf-print-map as bpftrace prints them, one
;;; symbolized frame per line.  A sample taken while the process runs in
;;; user mode has no kernel stack: it counts under an empty @kernel[].
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/profile.scm [--top N] [--duration SECONDS] [-- COMMAND ARG ...]
;;; With a COMMAND, it profiles that command (started here, stopped at
;;; the end); without one, it profiles itself while it keeps a CPU busy
;;; in the kernel (reading /dev/zero).  Default: the 5 busiest stacks of
;;; each kind after 3 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 binary-ports)
             (rnrs bytevectors))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (top (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: profile.scm [--top N] [--duration SECONDS] [-- COMMAND ARG ...]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "3")))
(define top (string->number (option-ref options 'top "5")))
(define command (option-ref options '() '()))

;; The process to profile: the command, started now, or this script.
(define child
  (and (pair? command)
       (let ((pid (primitive-fork)))
         (if (zero? pid)
             (catch #t
               (lambda () (apply execlp (car command) command))
               (lambda _ (primitive-_exit 127)))
             pid))))
(define target (or child (getpid)))

(defbpf-map kernel #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 4096
  #:doc "Samples by kernel stack.")
(defbpf-map user #:kind 'hash #:key 'u64 #:value 'u64 #:max-entries 4096
  #:doc "Samples by user stack (a (ustack) key holds the process id too).")

(bpf-fn sample (ctx)
  (when (= (tgid) ,target)
    (map-increment! kernel (kstack))
    (map-increment! user (ustack))))

(defbpf-program profile
  #:kind 'perf-event
  #:attach '(#:frequency 99)
  #:source sample
  #:license "GPL")

(define (busy-until end)
  ;; Keep a CPU busy in the kernel until END (internal real time).
  ;; One buffer read into again and again: a fresh bytevector per read
  ;; would spend the time in Guile's allocator instead.
  (let ((zero (open-input-file "/dev/zero" #:binary #t))
        (buf (make-bytevector 1048576)))
    (setvbuf zero 'none)
    (let loop ()
      (when (< (get-internal-real-time) end)
        (get-bytevector-n! zero buf 0 (bytevector-length buf))
        (loop)))
    (close-port zero)))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! profile)
    (format #t "Sampling ~a (pid ~a) at 99 Hz for ~a s...~%"
            (if child (car command) "this script") target duration)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (if child
          (sleep duration)
          (busy-until end)))
    (bpf-detach! profile)
    (newline)
    ;; Printed while the command still runs: user frames are named from
    ;; the files it maps.
    (bpf-print-map kernel #:top top)
    (newline)
    (bpf-print-map user #:top top))
  (lambda ()
    (bpf-unload! profile)
    (when child
      (kill child SIGTERM)
      (waitpid child))))
