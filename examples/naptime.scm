;;; naptime.scm --- show voluntary sleep calls, after bpftrace's naptime.bt.
;;;
;;; Shows: a pointer into user memory followed with read-user: the
;;; tracepoint's rqtp argument points at the caller's struct timespec,
;;; read whole as a defbpf-struct and taken apart with its accessors;
;;; (current-task) bound to a local and core-read through it (the
;;; parent's pid and comm); one bpf-fn loaded on two tracepoints
;;; (nanosleep and clock_nanosleep, where the field sits at another
;;; offset: each program locates it in its own format).
;;;
;;; Output as naptime.bt: TIME PPID PCOMM PID COMM SECONDS, the last
;;; as SEC.MSEC.
;;;
;;; Options:
;;;       --duration S   trace for S seconds (default 2), then exit
;;;
;;; It starts `sleep 0.25' and `sleep 1.042' itself, so there is always
;;; something to see.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/naptime.scm [--duration S]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: naptime.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

;;; ---- maps and programs --------------------------------------------

;; struct __kernel_timespec as user space passes it.
(defbpf-struct timespec (tv-sec i64) (tv-nsec i64))
(defbpf-struct nap
  (ppid u32) (pid u32) (pcomm (string 16)) (comm (string 16))
  (sec i64) (nsec i64))
(defbpf-map naps #:kind 'ringbuf #:value 'nap #:max-entries 65536)

(bpf-fn nap-enter (ctx)
  (let ((ts (read-user (arg ctx 'rqtp) 'timespec))
        (parent (core-read (current-task) 'real_parent)))
    ;; naptime.bt's filter: a zero sleep is a yield, not a nap.
    (when (!= (+ (timespec-tv-sec ts) (timespec-tv-nsec ts)) 0)
      (emit! naps (make-nap #:ppid (core-read parent 'tgid)
                            #:pid (tgid)
                            #:pcomm (core-read parent 'comm)
                            #:comm (comm)
                            #:sec (timespec-tv-sec ts)
                            #:nsec (timespec-tv-nsec ts))))))

(defbpf-program naptime-nanosleep
  #:kind 'tracepoint #:attach "syscalls:sys_enter_nanosleep"
  #:source nap-enter #:license "GPL")
(defbpf-program naptime-clock-nanosleep
  #:kind 'tracepoint #:attach "syscalls:sys_enter_clock_nanosleep"
  #:source nap-enter #:license "GPL")

;;; ---- output -------------------------------------------------------

(define (print-nap n)
  (format #t "~a ~6a ~16a ~6a ~16a ~d.~3,'0d~%"
          (strftime "%H:%M:%S" (localtime (current-time)))
          (nap-ppid n) (nap-pcomm n) (nap-pid n) (nap-comm n)
          (nap-sec n) (quotient (nap-nsec n) 1000000))
  (force-output))

;;; ---- run ----------------------------------------------------------

(define programs (list naptime-nanosleep naptime-clock-nanosleep))
(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (display "Tracing sleeps. Hit Ctrl-C to end.\n")
    (format #t "~8a ~6a ~16a ~6a ~16a ~a~%"
            "TIME" "PPID" "PCOMM" "PID" "COMM" "SECONDS")
    (system "sleep 1.042 &")
    (system* "sleep" "0.25")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (bpf-ringbuf-poll naps print-nap #:timeout-ms 100)
          (loop))))
    (bpf-ringbuf-poll naps print-nap #:timeout-ms 0))
  (lambda ()
    (for-each bpf-unload! programs)))
