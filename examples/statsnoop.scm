;;; statsnoop.scm --- stat(2) calls and their results, after libbpf-tools'
;;; statsnoop.
;;;
;;; Shows: one program attached to a list of tracepoints whose field is
;;; not at the same place: filename is at offset 16 in sys_enter_newstat
;;; and sys_enter_newlstat, at 24 in sys_enter_newfstatat and
;;; sys_enter_statx (after dfd).  (arg ctx 'filename) reads it at the
;;; offset of the probe that fired.  The path's address is kept by
;;; thread id until the exit, where the pointer map-get gives is the
;;; address read-user-str reads (the C tool's *pathp).
;;;
;;; Output as libbpf-tools' statsnoop: PID COMM RET ERR PATH.
;;;
;;; Options (as the original):
;;;   -p, --pid PID       trace this process only
;;;   -x, --failed        only failed calls
;;;   -d, --duration S    trace for S seconds (default 2), then exit
;;;
;;; The script stats /etc/hostname and a path that does not exist,
;;; through stat, lstat, fstatat and statx (python3 calls them).
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/statsnoop.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (failed (single-char #\x))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: statsnoop.scm [-p PID] [-x] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

;;; ---- maps and programs ---------------------------------------------

(defbpf-struct stat-event
  (pid u32) (ret i32) (comm (string 16)) (path (string 128)))

(defbpf-map paths #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240
  #:doc "The path argument of each thread's stat call in flight.")
;; Stat calls come in bursts (a program starting stats every directory
;; of its search paths): a roomy ring, drained by a background thread.
(defbpf-map stat-events #:kind 'ringbuf #:value 'stat-event
  #:max-entries 4194304)

(define calls '("newstat" "newlstat" "newfstatat" "statx"))

(bpf-fn on-enter (ctx)
  (when (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
    (map-set! paths (tid) (arg ctx 'filename))))

(bpf-fn on-exit (ctx)
  (let ((path (map-get paths (tid))))
    (when (and path (or (= (const failed-only) 0) (< (retval ctx) 0)))
      (emit! stat-events
             (make-stat-event #:pid (tgid) #:ret (retval ctx) #:comm (comm)
                              #:path (read-user-str path 128))))
    (map-delete! paths (tid))))

(define constants
  `((targ-pid . ,(string->number (option-ref options 'pid "0")))
    (failed-only . ,(if (option-ref options 'failed #f) 1 0))))

(defbpf-program statsnoop-enter
  #:kind 'tracepoint
  #:attach (map (lambda (c) (string-append "syscalls:sys_enter_" c)) calls)
  #:source on-enter #:constants constants #:license "GPL")
(defbpf-program statsnoop-exit
  #:kind 'tracepoint
  #:attach (map (lambda (c) (string-append "syscalls:sys_exit_" c)) calls)
  #:source on-exit #:constants constants #:license "GPL")

(define programs (list statsnoop-enter statsnoop-exit))

;;; ---- output ----------------------------------------------------------

(define (print-event e)
  (let ((ret (stat-event-ret e)))
    (format #t "~7a ~16a ~4a ~4a ~a~%" (stat-event-pid e) (stat-event-comm e)
            ret (if (< ret 0) (- ret) 0) (stat-event-path e)))
  (force-output))

;;; ---- activity: stat calls of every kind -------------------------------

(define stat-all
  (string-append
   "import ctypes, os\n"
   "libc = ctypes.CDLL(None, use_errno=True)\n"
   "buf = ctypes.create_string_buffer(512)\n"
   "for p in (b'/etc/hostname', b'/nonexistent/guile-ebpf-statsnoop'):\n"
   "    libc.syscall(4, p, buf)\n"                   ; stat
   "    libc.syscall(6, p, buf)\n"                   ; lstat
   "    libc.syscall(262, -100, p, buf, 0)\n"        ; newfstatat
   "    libc.syscall(332, -100, p, 0, 0x7ff, buf)\n")) ; statx

(define (stat-everything!)
  ;; x86-64 system call numbers; elsewhere, Guile's stat (newfstatat or
  ;; statx, as libc chooses).
  (if (string=? (utsname:machine (uname)) "x86_64")
      (system* "python3" "-c" stat-all)
      (begin
        (stat "/etc/hostname")
        (false-if-exception (stat "/nonexistent/guile-ebpf-statsnoop")))))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "~7a ~16a ~4a ~4a ~a~%" "PID" "COMM" "RET" "ERR" "PATH")
    (bpf-ringbuf-start! stat-events print-event)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (stat-everything!)
          (usleep 500000)
          (loop)))))
  (lambda ()
    (bpf-ringbuf-stop! stat-events)
    (for-each bpf-unload! programs)))
