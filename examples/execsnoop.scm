;;; execsnoop.scm --- trace exec() calls, after libbpf-tools' execsnoop.
;;;
;;; Shows: two tracepoint programs sharing a hash map (the path stashed
;;; at sys_enter_execve, keyed by thread id, picked up at sys_exit_execve
;;; with the result), filters set before load through #:constants and
;;; read in the body with (const NAME), CO-RE reads of the current task
;;; (its parent's pid), the argv pointer array walked in user memory by
;;; a bounded loop (read-user of each pointer, read-user-str of each
;;; argument), and events through ring buffers decoded into
;;; defbpf-struct records.
;;;
;;; Output as libbpf-tools' execsnoop: PCOMM PID PPID RET ARGS, where
;;; ARGS is the path that was executed and the arguments after argv[0]
;;; (at most 19, each up to 63 bytes).
;;;
;;; Options (as the original, plus a pid filter):
;;;   -x, --fails        include failed exec()s
;;;   -u, --uid UID      trace this UID only
;;;   -p, --pid PID      trace only PID and the processes whose parent is PID
;;;   -n, --name NAME    only print commands whose name contains NAME
;;;   -T, --time         include a time column (HH:MM:SS)
;;;   -t, --timestamp    include a timestamp column (seconds since start)
;;;   -U, --print-uid    include a UID column
;;;       --duration S   trace for S seconds (default 5), then exit
;;;
;;; It runs `true', `true guile-ebpf-argv one two' (and one exec that
;;; fails) itself now and then, so there is always something to see.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/execsnoop.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((fails (single-char #\x))
                 (uid (single-char #\u) (value #t))
                 (pid (single-char #\p) (value #t))
                 (name (single-char #\n) (value #t))
                 (time (single-char #\T))
                 (timestamp (single-char #\t))
                 (print-uid (single-char #\U))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))

(when (option-ref options 'help #f)
  (display "Usage: execsnoop.scm [-x] [-u UID] [-p PID] [-n NAME] [-T] [-t] [-U] [--duration SECONDS]\n")
  (exit 0))

(define (number-option name default)
  (let ((v (option-ref options name #f)))
    (if v
        (or (string->number v)
            (begin (format (current-error-port) "invalid ~a: ~a~%" name v)
                   (exit 2)))
        default)))

(define duration (number-option 'duration 5))
(define target-uid (number-option 'uid -1))
(define target-pid (number-option 'pid 0))
(define name-filter (option-ref options 'name #f))

;;; ---- maps and programs --------------------------------------------

(defbpf-struct exec-start (uid u32) (ts u64) (path (string 64)))
(defbpf-struct exec-event
  (pid u32) (ppid u32) (uid u32) (ret i32) (ts u64) (comm (string 16))
  (path (string 64)))

(defbpf-map execs #:kind 'hash #:key 'u32 #:value 'exec-start #:max-entries 10240
  #:doc "exec() calls in flight, by thread id.")
(defbpf-map exec-events #:kind 'ringbuf #:value 'exec-event #:max-entries 262144)
;; One record per argument, before the exec's own event; PID and TS (the
;; time the exec started, also in its event) tell which exec it is.
(defbpf-struct exec-arg (pid u32) (index u32) (ts u64) (arg (string 64)))
(defbpf-map exec-args #:kind 'ringbuf #:value 'exec-arg #:max-entries 262144)
(define max-args 20)                    ; libbpf-tools' DEFAULT_MAXARGS

(define-bpf-inline (wanted)
  ;; The uid and pid filters, both set through #:constants.
  (and (or (= (const filter-uid) 0) (= (uid) (const targ-uid)))
       (or (= (const targ-pid) 0)
           (= (tgid) (const targ-pid))
           (= (core-read (current-task) 'real_parent 'tgid) (const targ-pid)))))

(bpf-fn execve-enter (ctx)
  (when (wanted)
    (map-set! execs (tid)
              (make-exec-start #:uid (uid) #:ts (ktime-ns)
                               #:path (read-user-str (arg ctx 'filename) 64)))
    ;; argv is a NULL-terminated array of user pointers: a bounded loop
    ;; reads each pointer, stopping at the NULL (what follows it is the
    ;; environment).
    (let ((argv (arg ctx 'argv))
          (ts (exec-start-ts (map-ref execs (tid))))
          (done 0))
      (do-times (i ,max-args)
        (when (zero? done)
          (let ((p (read-user (+ argv (* i 8)) 'u64)))
            (if (zero? p)
                (set! done 1)
                (emit! exec-args
                       (make-exec-arg #:pid (tgid) #:index i #:ts ts
                                      #:arg (read-user-str p 64))))))))))

(bpf-fn execve-exit (ctx)
  (let ((start (map-get execs (tid))))
    (when start
      (when (or (= (const fails) 1) (>= (retval ctx) 0))
        (emit! exec-events
               (make-exec-event #:pid (tgid)
                                #:ppid (core-read (current-task) 'real_parent 'tgid)
                                #:uid (exec-start-uid start)
                                #:ret (retval ctx)
                                #:ts (exec-start-ts start)
                                #:comm (comm)
                                #:path (exec-start-path start))))
      (map-delete! execs (tid)))))

(define filter-constants
  `((filter-uid . ,(if (>= target-uid 0) 1 0))
    (targ-uid . ,(max target-uid 0))
    (targ-pid . ,target-pid)))

(defbpf-program execsnoop-enter
  #:kind 'tracepoint #:attach "syscalls:sys_enter_execve"
  #:source execve-enter #:constants filter-constants #:license "GPL")
(defbpf-program execsnoop-exit
  #:kind 'tracepoint #:attach "syscalls:sys_exit_execve"
  #:source execve-exit
  #:constants `((fails . ,(if (option-ref options 'fails #f) 1 0)))
  #:license "GPL")

;;; ---- output -------------------------------------------------------

(define start-time (get-internal-real-time))

(define (print-header)
  (when (option-ref options 'time #f) (format #t "~9a" "TIME"))
  (when (option-ref options 'timestamp #f) (format #t "~8a " "TIME(s)"))
  (when (option-ref options 'print-uid #f) (format #t "~6a " "UID"))
  (format #t "~16a ~6a ~6a ~3@a ~a~%" "PCOMM" "PID" "PPID" "RET" "ARGS"))

(define pending-args (make-hash-table))   ; (pid . ts) -> ((index . arg) ...)

(define (stash-arg a)
  (let ((k (cons (exec-arg-pid a) (exec-arg-ts a))))
    (hash-set! pending-args k (cons (cons (exec-arg-index a) (exec-arg-arg a))
                                    (hash-ref pending-args k '())))))

(define (take-args! pid ts)
  ;; The arguments after argv[0] of PID's exec started at TS, in order;
  ;; those of PID's earlier execs (failed ones not shown) are dropped.
  (let ((args (hash-ref pending-args (cons pid ts) '())))
    (for-each (lambda (k) (hash-remove! pending-args k))
              (hash-fold (lambda (k v acc)
                           (if (and (= (car k) pid) (<= (cdr k) ts))
                               (cons k acc)
                               acc))
                         '() pending-args))
    (map cdr (sort (filter (lambda (a) (> (car a) 0)) args)
                   (lambda (a b) (< (car a) (car b)))))))

(define (print-event e)
  ;; Its arguments were emitted before it: read them first.
  (bpf-ringbuf-poll exec-args stash-arg #:timeout-ms 0)
  (print-exec e (take-args! (exec-event-pid e) (exec-event-ts e))))

(define (print-exec e args)
  (when (or (not name-filter) (string-contains (exec-event-comm e) name-filter))
    (when (option-ref options 'time #f)
      (format #t "~8a " (strftime "%H:%M:%S" (localtime (current-time)))))
    (when (option-ref options 'timestamp #f)
      (format #t "~8a" (format #f "~,3f" (/ (- (get-internal-real-time) start-time)
                                            internal-time-units-per-second 1.0))))
    (when (option-ref options 'print-uid #f)
      (format #t "~6a" (exec-event-uid e)))
    (format #t "~16a ~6a ~6a ~3@a ~a~%"
            (exec-event-comm e) (exec-event-pid e) (exec-event-ppid e)
            (exec-event-ret e)
            (string-join (cons (exec-event-path e) args) " "))
    (force-output)))

;;; ---- activity -----------------------------------------------------

(define (run-true!)
  ;; Fork and exec `true'; the child's parent is this process.
  (system* "true"))
(define (run-true-with-args!)
  (system* "true" "guile-ebpf-argv" "one" "two"))
(define (run-missing!)
  ;; An exec that fails (shown with -x): the child's execve returns -ENOENT.
  (false-if-exception (system* "/nonexistent/guile-ebpf-execsnoop")))

;;; ---- run ----------------------------------------------------------

(define programs (list execsnoop-enter execsnoop-exit))
(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (print-header)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (when (zero? (modulo i 5))
            (run-true!)
            (run-true-with-args!)
            (when (zero? (modulo i 10)) (run-missing!)))
          (bpf-ringbuf-poll exec-events print-event #:timeout-ms 100)
          (loop (+ i 1)))))
    (bpf-ringbuf-poll exec-events print-event #:timeout-ms 0))
  (lambda ()
    (for-each bpf-unload! programs)))
