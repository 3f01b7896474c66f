;;; killsnoop.scm --- kill(2) calls and their results, after libbpf-tools'
;;; killsnoop.
;;;
;;; Shows: two tracepoints cooperating through a per-thread hash map, as
;;; the C tool does: sys_enter_kill stashes the call's arguments (a
;;; defbpf-struct value) under the thread id, and sys_exit_kill looks
;;; them up with map-get, reads their fields through the pointer, adds
;;; the return value (signed: -3 is -ESRCH) and sends one record through
;;; a ring buffer.  Filters are #:constants.
;;;
;;; Output as libbpf-tools' killsnoop: TIME PID COMM SIG TPID RESULT.
;;;
;;; Options (as the original):
;;;   -p, --pid PID       trace this process only
;;;   -x, --failed        only failed kill calls
;;;   -s, --signal SIG    only this signal (a number)
;;;   -d, --duration S    trace for S seconds (default 2), then exit
;;;
;;; The script's children send signals: SIGUSR1 and SIGTERM to sleeping
;;; processes, and signal 0 to a process that does not exist (which
;;; fails with ESRCH).
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/killsnoop.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (failed (single-char #\x))
                 (signal (single-char #\s) (value #t))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: killsnoop.scm [-p PID] [-x] [-s SIGNAL] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

;;; ---- maps and programs ---------------------------------------------

(defbpf-struct kill-args (tpid i32) (sig i32))
(defbpf-struct kill-event
  (pid u32) (tpid i32) (sig i32) (ret i32) (comm (string 16)))

(defbpf-map pending #:kind 'hash #:key 'u32 #:value 'kill-args
  #:max-entries 10240 #:doc "Arguments of each thread's kill call in flight.")
(defbpf-map kill-events #:kind 'ringbuf #:value 'kill-event
  #:max-entries 262144)

(bpf-fn on-enter (ctx)
  (when (and (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
             (or (= (const targ-sig) 0) (= (arg ctx 'sig) (const targ-sig))))
    (map-set! pending (tid)
              (make-kill-args #:tpid (arg ctx 'pid) #:sig (arg ctx 'sig)))))

(bpf-fn on-exit (ctx)
  (let ((a (map-get pending (tid))))
    (when (and a (or (= (const failed-only) 0) (< (retval ctx) 0)))
      (emit! kill-events
             (make-kill-event #:pid (tgid) #:tpid (kill-args-tpid a)
                              #:sig (kill-args-sig a) #:ret (retval ctx)
                              #:comm (comm))))
    (map-delete! pending (tid))))

(define constants
  `((targ-pid . ,(string->number (option-ref options 'pid "0")))
    (targ-sig . ,(string->number (option-ref options 'signal "0")))
    (failed-only . ,(if (option-ref options 'failed #f) 1 0))))

(defbpf-program killsnoop-enter
  #:kind 'tracepoint #:attach "syscalls:sys_enter_kill"
  #:source on-enter #:constants constants #:license "GPL")
(defbpf-program killsnoop-exit
  #:kind 'tracepoint #:attach "syscalls:sys_exit_kill"
  #:source on-exit #:constants constants #:license "GPL")

(define programs (list killsnoop-enter killsnoop-exit))

;;; ---- output ----------------------------------------------------------

(define (print-event e)
  (format #t "~8a ~7a ~16a ~4a ~7a ~a~%"
          (strftime "%H:%M:%S" (localtime (current-time)))
          (kill-event-pid e) (kill-event-comm e) (kill-event-sig e)
          (kill-event-tpid e) (kill-event-ret e))
  (force-output))

;;; ---- activity: signals sent by this script's children -----------------

(define (send-signals!)
  ;; Shells that end a sleeping child with USR1 and with TERM, and one
  ;; kill -0 of no process.
  (system* "sh" "-c" "sleep 5 & kill -USR1 $!; wait")
  (system* "sh" "-c" "sleep 5 & kill -TERM $!; wait")
  (system* "sh" "-c" "kill -0 999999 2>/dev/null; true"))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "~8a ~7a ~16a ~4a ~7a ~a~%" "TIME" "PID" "COMM" "SIG" "TPID" "RESULT")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (when (zero? (modulo i 10))
            (send-signals!))
          (bpf-ringbuf-poll kill-events print-event #:timeout-ms 100)
          (loop (+ i 1)))))
    (bpf-ringbuf-poll kill-events print-event #:timeout-ms 0))
  (lambda ()
    (for-each bpf-unload! programs)))
