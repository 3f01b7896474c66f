;;; exitsnoop.scm --- trace process exits, after libbpf-tools' exitsnoop.
;;;
;;; Shows: the sched:sched_process_exit tracepoint, CO-RE reads of the
;;; exiting task (its exit code, start time and parent) with core-read
;;; on (current-task), filters set before load through #:constants, and
;;; events through a ring buffer decoded into a defbpf-struct record.
;;;
;;; Output as libbpf-tools' exitsnoop: PCOMM PID PPID TID AGE(s)
;;; EXIT_CODE, where EXIT_CODE is 0, "code N", or "signal N (NAME)".
;;;
;;; Options (as the original):
;;;   -p, --pid PID      trace this process only
;;;   -x, --failed       trace only processes that failed (exit code or signal)
;;;   -T, --threaded     trace every thread's exit, not only processes'
;;;   -t, --timestamp    include a timestamp column
;;;       --duration S   trace for S seconds (default 3), then exit
;;;
;;; It runs `true', `false' and a shell that kills itself with SIGTERM
;;; now and then, so there is always something to see.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/exitsnoop.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (failed (single-char #\x))
                 (threaded (single-char #\T))
                 (timestamp (single-char #\t))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: exitsnoop.scm [-p PID] [-x] [-T] [-t] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "3")))

;;; ---- maps and program ---------------------------------------------

(defbpf-struct exit-event
  (age-ns u64) (pid u32) (tid u32) (ppid u32) (exit-code u32) (comm (string 16)))
(defbpf-map exits #:kind 'ringbuf #:value 'exit-event #:max-entries 262144)

(bpf-fn on-exit (ctx)
  (let ((code (core-read (current-task) 'exit_code)))
    (when (and (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
               (or (= (const threaded) 1) (= (tgid) (tid)))
               (or (= (const failed-only) 0) (!= code 0)))
      (emit! exits
             (make-exit-event
              #:age-ns (- (ktime-ns) (core-read (current-task) 'start_time))
              #:pid (tgid) #:tid (tid)
              #:ppid (core-read (current-task) 'real_parent 'tgid)
              #:exit-code code
              #:comm (comm))))))

(defbpf-program exitsnoop
  #:kind 'tracepoint
  #:attach "sched:sched_process_exit"
  #:source on-exit
  #:constants `((targ-pid . ,(string->number (option-ref options 'pid "0")))
                (threaded . ,(if (option-ref options 'threaded #f) 1 0))
                (failed-only . ,(if (option-ref options 'failed #f) 1 0)))
  #:license "GPL")

;;; ---- output -------------------------------------------------------

(define signal-names
  '((1 . "Hangup") (2 . "Interrupt") (3 . "Quit") (4 . "Illegal instruction")
    (6 . "Aborted") (8 . "Floating point exception") (9 . "Killed")
    (11 . "Segmentation fault") (13 . "Broken pipe") (14 . "Alarm clock")
    (15 . "Terminated")))

(define (exit-status code)
  ;; The kernel's exit_code: the exit status in bits 8-15, the signal
  ;; in bits 0-6, bit 7 set when a core was dumped.
  (let ((status (ash code -8))
        (sig (logand code #x7f))
        (core? (logbit? 7 code)))
    (cond ((and (zero? sig) (zero? status)) "0")
          ((zero? sig) (format #f "code ~a" status))
          (else (format #f "signal ~a (~a)~a" sig
                        (or (assv-ref signal-names sig) "?")
                        (if core? ", core dumped" ""))))))

(define start-time (get-internal-real-time))

(define (print-event e)
  (when (option-ref options 'timestamp #f)
    (format #t "~8a " (strftime "%H:%M:%S" (localtime (current-time)))))
  (format #t "~16a ~7a ~7a ~7a ~7a ~a~%"
          (exit-event-comm e) (exit-event-pid e) (exit-event-ppid e)
          (exit-event-tid e)
          (format #f "~,2f" (/ (exit-event-age-ns e) 1e9))
          (exit-status (exit-event-exit-code e)))
  (force-output))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! exitsnoop)
    (when (option-ref options 'timestamp #f) (format #t "~8a " "TIME(s)"))
    (format #t "~16a ~7a ~7a ~7a ~7a ~a~%"
            "PCOMM" "PID" "PPID" "TID" "AGE(s)" "EXIT_CODE")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (case (modulo i 10)
            ((0) (system* "true"))
            ((3) (system* "false"))
            ((6) (system* "sh" "-c" "kill -TERM $$")))
          (bpf-ringbuf-poll exits print-event #:timeout-ms 100)
          (loop (+ i 1)))))
    (bpf-ringbuf-poll exits print-event #:timeout-ms 0))
  (lambda ()
    (bpf-unload! exitsnoop)))
