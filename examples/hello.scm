;;; hello.scm --- bpftrace's "hello world": printk from a kernel probe.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:syscalls:sys_enter_getpid { printf("Hello, World!\n"); }'
;;;
;;; Shows: a tracepoint program written as a bpf-fn, a filter on this
;;; process set before load with #:constants and read with (const NAME),
;;; printk, and bpf-trace-pipe copying the kernel's trace pipe (where
;;; printk writes) to the terminal.  A thread of this script calls
;;; getpid() a few times a second so that there is something to see.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/hello.scm [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 threads))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: hello.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

(bpf-fn say-hello (ctx)
  (when (= (tgid) (const me))
    (printk "Hello, World! (getpid from pid %d)" (tgid))))

(defbpf-program hello
  #:kind 'tracepoint
  #:attach "syscalls:sys_enter_getpid"
  #:source say-hello
  #:constants `((me . ,(getpid)))
  #:license "GPL")

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! hello)
    (format #t "Attached to syscalls:sys_enter_getpid; printing the trace pipe for ~a s.~%"
            duration)
    (let ((caller (call-with-new-thread
                   (lambda ()
                     ;; getpid() about four times a second, from Scheme.
                     (do ((i 0 (+ i 1)))
                         ((>= (* i 250) (* 1000 (max 0 (- duration 0.3)))))
                       (getpid)
                       (usleep 250000))))))
      (let ((n (bpf-trace-pipe #:duration-ms (inexact->exact (round (* 1000 duration)))
                               #:match "Hello, World!")))
        (join-thread caller)
        (format #t "~a line~:p from the trace pipe~%" n))))
  (lambda ()
    (bpf-unload! hello)))
