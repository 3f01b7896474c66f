;;; opensnoop.scm --- trace open() calls, after libbpf-tools' opensnoop.
;;;
;;; Shows: one bpf-fn attached to two tracepoints (open and openat: the
;;; same body is lowered for each, reading the `filename' and `flags'
;;; fields at their own offsets), the path and flags stashed at entry in
;;; a hash map keyed by thread id and picked up at exit with the result,
;;; filters set before load through #:constants, and events through a
;;; ring buffer decoded into a defbpf-struct record.
;;;
;;; Output as libbpf-tools' opensnoop: PID COMM FD ERR PATH (paths up
;;; to 63 bytes).
;;;
;;; Options (as the original):
;;;   -p, --pid PID       trace this process only
;;;   -t, --tid TID       trace this thread only
;;;   -u, --uid UID       trace this UID only
;;;   -x, --failed        show only failed opens
;;;   -n, --name NAME     only print processes whose name contains NAME
;;;   -e, --extended-fields  show the open flags (octal)
;;;   -T, --timestamp     include a timestamp column
;;;   -U, --print-uid     include a UID column
;;;   -d, --duration S    trace for S seconds (default 3), then exit
;;;
;;; The script opens a few files of its own (one that does not exist)
;;; every tenth of a second, so there is always something to see.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/opensnoop.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (tid (single-char #\t) (value #t))
                 (uid (single-char #\u) (value #t))
                 (failed (single-char #\x))
                 (name (single-char #\n) (value #t))
                 (extended-fields (single-char #\e))
                 (timestamp (single-char #\T))
                 (print-uid (single-char #\U))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: opensnoop.scm [-p PID] [-t TID] [-u UID] [-x] [-n NAME] [-e] [-T] [-U] [-d SECONDS]\n")
  (exit 0))

(define (number-option name default)
  (let ((v (option-ref options name #f)))
    (if v
        (or (string->number v)
            (begin (format (current-error-port) "invalid ~a: ~a~%" name v)
                   (exit 2)))
        default)))

(define duration (number-option 'duration 3))
(define name-filter (option-ref options 'name #f))
(define extended? (option-ref options 'extended-fields #f))

;;; ---- maps and programs --------------------------------------------

(defbpf-struct open-start (flags u32) (path (string 64)))
(defbpf-struct open-event
  (ts u64) (pid u32) (uid u32) (ret i32) (flags u32) (comm (string 16)) (path (string 64)))

(defbpf-map opening #:kind 'hash #:key 'u32 #:value 'open-start #:max-entries 10240
  #:doc "open() calls in flight, by thread id.")
(defbpf-map open-events #:kind 'ringbuf #:value 'open-event #:max-entries 262144)

(bpf-fn open-enter (ctx)
  (when (and (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
             (or (= (const targ-tid) 0) (= (tid) (const targ-tid)))
             (or (= (const filter-uid) 0) (= (uid) (const targ-uid))))
    (map-set! opening (tid)
              (make-open-start #:flags (arg ctx 'flags)
                               #:path (read-user-str (arg ctx 'filename) 64)))))

(bpf-fn open-exit (ctx)
  (let ((start (map-get opening (tid))))
    (when start
      (when (or (= (const failed-only) 0) (< (retval ctx) 0))
        (emit! open-events
               (make-open-event #:ts (ktime-ns) #:pid (tgid) #:uid (uid)
                                #:ret (retval ctx)
                                #:flags (open-start-flags start)
                                #:comm (comm)
                                #:path (open-start-path start))))
      (map-delete! opening (tid)))))

(define filter-constants
  (let ((uid (number-option 'uid #f)))
    `((targ-pid . ,(number-option 'pid 0))
      (targ-tid . ,(number-option 'tid 0))
      (filter-uid . ,(if uid 1 0))
      (targ-uid . ,(or uid 0)))))
(define exit-constants
  `((failed-only . ,(if (option-ref options 'failed #f) 1 0))))

(defbpf-program opensnoop-enter-open
  #:kind 'tracepoint #:attach "syscalls:sys_enter_open"
  #:source open-enter #:constants filter-constants #:license "GPL")
(defbpf-program opensnoop-enter-openat
  #:kind 'tracepoint #:attach "syscalls:sys_enter_openat"
  #:source open-enter #:constants filter-constants #:license "GPL")
(defbpf-program opensnoop-exit-open
  #:kind 'tracepoint #:attach "syscalls:sys_exit_open"
  #:source open-exit #:constants exit-constants #:license "GPL")
(defbpf-program opensnoop-exit-openat
  #:kind 'tracepoint #:attach "syscalls:sys_exit_openat"
  #:source open-exit #:constants exit-constants #:license "GPL")

(define programs (list opensnoop-enter-open opensnoop-enter-openat
                       opensnoop-exit-open opensnoop-exit-openat))

;;; ---- output -------------------------------------------------------

(define first-ts #f)

(define (print-header)
  (when (option-ref options 'timestamp #f) (format #t "~8a " "TIME"))
  (when (option-ref options 'print-uid #f) (format #t "~7a " "UID"))
  (format #t "~6a ~16a ~3@a ~3@a " "PID" "COMM" "FD" "ERR")
  (when extended? (format #t "~8a " "FLAGS"))
  (format #t "PATH~%"))

(define (print-event e)
  (when (or (not name-filter) (string-contains (open-event-comm e) name-filter))
    (let ((ret (open-event-ret e)))
      (unless first-ts (set! first-ts (open-event-ts e)))
      (when (option-ref options 'timestamp #f)
        (format #t "~8a " (format #f "~,3f" (/ (- (open-event-ts e) first-ts) 1e9))))
      (when (option-ref options 'print-uid #f)
        (format #t "~7a " (open-event-uid e)))
      (format #t "~6a ~16a ~3@a ~3@a "
              (open-event-pid e) (open-event-comm e)
              (if (>= ret 0) ret -1) (if (>= ret 0) 0 (- ret)))
      (when extended?
        (format #t "~8,'0o " (open-event-flags e)))
      (format #t "~a~%" (open-event-path e))
      (force-output))))

;;; ---- run ----------------------------------------------------------

(define my-files '("/etc/hostname" "/etc/passwd" "/nonexistent/guile-ebpf-opensnoop"))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (print-header)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (for-each (lambda (f) (false-if-exception (close-port (open-input-file f))))
                    my-files)
          (bpf-ringbuf-poll open-events print-event #:timeout-ms 100)
          (loop))))
    (bpf-ringbuf-poll open-events print-event #:timeout-ms 0))
  (lambda ()
    (for-each bpf-unload! programs)))
