;;; syscount.scm --- system call counts and latencies, after libbpf-tools' syscount.
;;;
;;; Shows: the raw_syscalls tracepoints (every system call of the
;;; machine), counting by syscall number or by process in hash maps,
;;; latency from a time stashed at entry by thread id, filters and modes
;;; set before load through #:constants, and the maps read, sorted and
;;; cleared from Scheme at each interval.  Syscall names come from the
;;; kernel headers' <asm/unistd_64.h>.
;;;
;;; Options (as the original):
;;;   -p, --pid PID        trace this process only
;;;   -T, --top N          print only the top N rows (default 10)
;;;   -x, --failures       count only failed syscalls
;;;   -e, --errno ERRNO    count only syscalls failing with ERRNO (ENOENT or 2)
;;;   -L, --latency        measure and sort by latency
;;;   -m, --milliseconds   show latency in milliseconds (default microseconds)
;;;   -P, --process        count by process, not by syscall
;;;   -i, --interval S     print a summary every S seconds
;;;   -d, --duration S     trace for S seconds in all (default 2), then exit
;;;   -l, --list           list the syscalls this script can name, and exit
;;;
;;; The script makes system calls of its own (getpid, stat, read, and an
;;; open that fails), so it always has something to count.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/syscount.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 rdelim)
             (ice-9 regex) (ice-9 binary-ports) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (top (single-char #\T) (value #t))
                 (failures (single-char #\x))
                 (errno (single-char #\e) (value #t))
                 (latency (single-char #\L))
                 (milliseconds (single-char #\m))
                 (process (single-char #\P))
                 (interval (single-char #\i) (value #t))
                 (duration (single-char #\d) (value #t))
                 (list (single-char #\l))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: syscount.scm [-p PID] [-T TOP] [-x] [-e ERRNO] [-L] [-m] [-P] [-i INTERVAL] [-d DURATION] [-l]\n")
  (exit 0))

(define (number-option name default)
  (let ((v (option-ref options name #f)))
    (if v
        (or (string->number v)
            (begin (format (current-error-port) "invalid ~a: ~a~%" name v)
                   (exit 2)))
        default)))

(define duration (number-option 'duration 2))
(define interval (number-option 'interval duration))
(define top (number-option 'top 10))
(define latency? (option-ref options 'latency #f))
(define by-process? (option-ref options 'process #f))
(define msecs? (option-ref options 'milliseconds #f))

(define errno-filter
  ;; A number, or an errno name Guile knows (ENOENT, EPERM ...).
  (let ((e (option-ref options 'errno #f)))
    (cond ((not e) 0)
          ((string->number e) => identity)
          ((and (module-defined? the-root-module (string->symbol e))
                (integer? (module-ref the-root-module (string->symbol e))))
           (module-ref the-root-module (string->symbol e)))
          (else (format (current-error-port) "invalid errno: ~a~%" e)
                (exit 2)))))

;;; ---- syscall names --------------------------------------------------

(define syscall-names
  ;; number -> name, from the kernel headers this machine has.
  (let ((table (make-hash-table))
        (file (find file-exists?
                    (list (format #f "/usr/include/~a-linux-gnu/asm/unistd_64.h"
                                  (utsname:machine (uname)))
                          "/usr/include/asm/unistd_64.h"
                          "/usr/include/asm-generic/unistd.h")))
        (rx (make-regexp "^#define __NR_([a-z0-9_]+)[ \t]+([0-9]+)")))
    (when file
      (call-with-input-file file
        (lambda (port)
          (let loop ()
            (let ((line (read-line port)))
              (unless (eof-object? line)
                (let ((m (regexp-exec rx line)))
                  (when m
                    (hashv-set! table (string->number (match:substring m 2))
                                (match:substring m 1))))
                (loop)))))))
    table))

(define (syscall-name n)
  (or (hashv-ref syscall-names n) (format #f "[unknown: ~a]" n)))

(when (option-ref options 'list #f)
  (for-each (lambda (e) (format #t "~3d: ~a~%" (car e) (cdr e)))
            (sort (hash-map->list cons syscall-names) (lambda (a b) (< (car a) (car b)))))
  (exit 0))

;;; ---- maps and programs --------------------------------------------

(defbpf-map calls #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 1024
  #:doc "System calls by number (or by process with -P).")
(defbpf-map call-ns #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 1024
  #:doc "Time spent in them, ns.")
(defbpf-map call-comms #:kind 'hash #:key 'u32 #:value '(string 16) #:max-entries 1024
  #:doc "Process names, with -P.")
(defbpf-map entered #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240
  #:doc "When each thread entered its system call, with -L.")

(bpf-fn on-sys-enter (ctx)
  (when (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
    (map-set! entered (tid) (ktime-ns))))

(bpf-fn on-sys-exit (ctx)
  (when (and (or (= (const targ-pid) 0) (= (tgid) (const targ-pid)))
             (or (= (const failures) 0) (< (arg ctx 'ret) 0))
             (or (= (const errno) 0) (= (+ (arg ctx 'ret) (const errno)) 0)))
    (let ((key (if (= (const by-process) 1) (tgid) (arg ctx 'id))))
      (map-increment! calls key)
      (when (= (const by-process) 1)
        (map-set! call-comms key (comm)))
      (when (= (const latency) 1)
        (when (map-get entered (tid))
          (map-increment! call-ns key (- (ktime-ns) (map-ref entered (tid))))
          (map-delete! entered (tid)))))))

(define targ-pid (number-option 'pid 0))

(defbpf-program syscount-enter
  #:kind 'tracepoint #:attach "raw_syscalls:sys_enter"
  #:source on-sys-enter #:constants `((targ-pid . ,targ-pid)) #:license "GPL")
(defbpf-program syscount-exit
  #:kind 'tracepoint #:attach "raw_syscalls:sys_exit"
  #:source on-sys-exit
  #:constants `((targ-pid . ,targ-pid)
                (failures . ,(if (option-ref options 'failures #f) 1 0))
                (errno . ,errno-filter)
                (by-process . ,(if by-process? 1 0))
                (latency . ,(if latency? 1 0)))
  #:license "GPL")

;; As the original, the entry program runs only when latency is measured.
(define programs
  (if latency? (list syscount-enter syscount-exit) (list syscount-exit)))

;;; ---- output -------------------------------------------------------

(define (row-name key)
  (if by-process?
      (format #f "~6a ~15a" key (or (bpf-map-ref call-comms key) "?"))
      (syscall-name key)))

(define (print-summary)
  (let* ((rows (map (lambda (e)
                      (list (car e) (cdr e) (or (bpf-map-ref call-ns (car e)) 0)))
                    (bpf-map->alist calls)))
         (sorted (sort rows (if latency?
                                (lambda (a b) (> (caddr a) (caddr b)))
                                (lambda (a b) (> (cadr a) (cadr b))))))
         (shown (take sorted (min top (length sorted)))))
    (format #t "[~a]~%" (strftime "%H:%M:%S" (localtime (current-time))))
    (if latency?
        (format #t "~22a ~8@a ~16@a~%" (if by-process? "PID    COMM" "SYSCALL")
                "COUNT" (if msecs? "TIME (ms)" "TIME (us)"))
        (format #t "~22a ~8@a~%" (if by-process? "PID    COMM" "SYSCALL") "COUNT"))
    (for-each (lambda (r)
                (if latency?
                    (format #t "~22a ~8@a ~16,3f~%" (row-name (car r)) (cadr r)
                            (/ (caddr r) (if msecs? 1e6 1e3)))
                    (format #t "~22a ~8@a~%" (row-name (car r)) (cadr r))))
              shown)
    (newline)
    ;; Start the next interval from zero: delete the rows just read (the
    ;; programs keep running and adding rows meanwhile).
    (for-each (lambda (r)
                (for-each (lambda (m) (bpf-map-delete! m (car r)))
                          (list calls call-ns call-comms)))
              rows)))

;;; ---- activity -----------------------------------------------------

(define zero (open-input-file "/dev/zero" #:binary #t))
(setvbuf zero 'none)

(define (busy-for! seconds)
  (let ((end (+ (get-internal-real-time)
                (* seconds internal-time-units-per-second))))
    (let loop ((i 0))
      (when (< (get-internal-real-time) end)
        (getpid)
        (when (zero? (modulo i 2)) (stat "/"))
        (when (zero? (modulo i 4)) (get-bytevector-n zero 512))
        (when (zero? (modulo i 8))
          (false-if-exception (close-port (open-input-file "/nonexistent/guile-ebpf"))))
        (usleep 500)
        (loop (+ i 1))))))

;;; ---- run ----------------------------------------------------------

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each bpf-attach! programs)
    (format #t "Tracing syscalls, printing top ~a... Ctrl+C to quit.~%" top)
    (let loop ((left duration))
      (when (> left 0)
        (busy-for! (min interval left))
        (print-summary)
        (loop (- left interval)))))
  (lambda ()
    (for-each bpf-unload! programs)
    (close-port zero)))
