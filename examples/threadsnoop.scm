;;; threadsnoop.scm --- new threads as they start, after bpftrace's
;;; threadsnoop.bt.
;;;
;;; The bpftrace tool it ports:
;;;   uprobe:libpthread:pthread_create
;;;   { printf("%-10u %-6d %-16s %s\n", elapsed / 1e6, pid, comm,
;;;            usym(arg2)); }
;;;
;;; Shows: a uprobe named by library, "libc:pthread_create" -- the
;;; library found through the dynamic linker's cache, the symbol
;;; resolved to its default version (glibc has pthread_create@GLIBC_2.2.5
;;; and pthread_create@@GLIBC_2.34) -- an argument read from a register
;;; with (arg ctx 2), the thread's start routine, and events through a
;;; ring buffer.  The start routine is named with bpf-usym where this
;;; guile-ebpf has it, else printed as an address.
;;;
;;; It starts python3 itself, which creates --threads threads (default
;;; 5) and exits; the last line counts the threads that process made.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/threadsnoop.scm [--threads N]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 popen)
             (ice-9 rdelim))

(define options
  (getopt-long (command-line)
               '((threads (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: threadsnoop.scm [--threads N]\n")
  (exit 0))
(define n-threads (string->number (option-ref options 'threads "5")))

(defbpf-struct thread-event
  (pid u32) (comm (string 16)) (start u64) (ns u64))
(defbpf-map thread-events #:kind 'ringbuf #:value 'thread-event
  #:max-entries 65536)

;; pthread_create (thread, attr, start_routine, arg): the start routine
;; is argument 2.
(bpf-fn on-pthread-create (ctx)
  (emit! thread-events
         (make-thread-event #:pid (tgid) #:comm (comm) #:start (arg ctx 2)
                            #:ns (ktime-ns))))

(defbpf-program threadsnoop
  #:kind 'uprobe
  #:attach "libc:pthread_create"
  #:source on-pthread-create
  #:license "GPL")

;; bpf-usym, where this guile-ebpf has it: the symbol of a user address.
(define usym
  (let ((v (module-variable (resolve-interface '(ebpf)) 'bpf-usym)))
    (if v
        (lambda (pid addr) ((variable-ref v) pid addr))
        (lambda (pid addr) (format #f "0x~x" addr)))))

(define t0 #f)
(define workload-pid #f)
(define made 0)

(define (print-event e)
  (let ((pid (thread-event-pid e)))
    (unless t0 (set! t0 (thread-event-ns e)))
    (when (eqv? pid workload-pid) (set! made (+ made 1)))
    (format #t "~10a ~6a ~16a ~a~%"
            (quotient (- (thread-event-ns e) t0) 1000000) pid
            (thread-event-comm e) (usym pid (thread-event-start e)))
    (force-output)))

(define workload
  (string-append
   "import os, threading\n"
   "print(os.getpid(), flush=True)\n"
   "ts = [threading.Thread(target=int) for _ in range("
   (number->string n-threads) ")]\n"
   "for t in ts: t.start()\n"
   "for t in ts: t.join()\n"))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! threadsnoop)
    (format #t "~10a ~6a ~16a ~a~%" "TIME(ms)" "PID" "COMM" "FUNC")
    (let* ((child (open-pipe* OPEN_READ "/usr/bin/python3" "-c" workload))
           (pid (string->number (read-line child))))
      (set! workload-pid pid)
      (read-string child)
      (close-pipe child)
      ;; The child has exited: every event it caused is in the ring.
      (bpf-ringbuf-poll thread-events print-event #:timeout-ms 100)
      (bpf-ringbuf-poll thread-events print-event #:timeout-ms 0)
      (format #t "python3 (pid ~a) created ~a threads~%" pid made)))
  (lambda ()
    (bpf-unload! threadsnoop)))
