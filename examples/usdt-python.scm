;;; usdt-python.scm --- Python function calls counted by name through
;;; python3's USDT probe.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -p PID -e 'usdt:/usr/bin/python3:python:function__entry
;;;                       { @[str(arg1)] = count(); }'
;;;
;;; Shows: a usdt program ("LIB:PROVIDER:NAME" in #:attach), #:pid to
;;; watch one process, (usdt-arg ctx N) reading the probe's arguments
;;; (function__entry passes file name, function name, line number), and
;;; read-user-str on the function name.  The probe has a semaphore: the
;;; interpreter only fires it while someone is attached, which libbpf
;;; arranges.  Python 3.11 fires it in its tracing mode only, so the
;;; workload turns that on with sys.setprofile.
;;;
;;; It starts python3 itself, waits until the probe is attached, lets it
;;; call a function --calls times (default 100), and prints the counts
;;; by function name, as bpftrace prints @[...].
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/usdt-python.scm [--calls N]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 popen)
             (ice-9 rdelim) (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((calls (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: usdt-python.scm [--calls N]\n")
  (exit 0))
(define n-calls (string->number (option-ref options 'calls "100")))

(defbpf-map calls-by-name #:kind 'hash #:key '(string 32) #:value 'u64
  #:max-entries 4096 #:doc "Function entries by function name.")

;; function__entry (filename, funcname, lineno)
(bpf-fn count-entry (ctx)
  (map-increment! calls-by-name (read-user-str (usdt-arg ctx 1) 32)))

;; The workload: says its pid, waits for a line, then calls
;; guile_ebpf_demo_fn N times with Python's tracing mode on.
(define workload
  (string-append
   "import os, sys\n"
   "def guile_ebpf_demo_fn(): pass\n"
   "print(os.getpid(), flush=True)\n"
   "sys.stdin.readline()\n"
   "sys.setprofile(lambda *a: None)\n"
   "for _ in range(" (number->string n-calls) "): guile_ebpf_demo_fn()\n"
   "sys.setprofile(None)\n"))

(define child (open-pipe* OPEN_BOTH "/usr/bin/python3" "-c" workload))
(define child-pid (string->number (read-line child)))

(defbpf-program python-calls
  #:kind 'usdt
  #:attach "/usr/bin/python3:python:function__entry"
  #:pid child-pid
  #:source count-entry
  #:license "GPL")

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! python-calls)
    (format #t "Attached to ~a in pid ~a.~%"
            (bpf-probe-name python-calls 0) child-pid)
    (write-line "go" child)
    (force-output child)
    (read-string child)
    (close-pipe child)
    (newline)
    (for-each (lambda (e) (format #t "@[~a]: ~a~%" (car e) (cdr e)))
              (sort (bpf-map->alist calls-by-name)
                    (lambda (a b) (< (cdr a) (cdr b))))))
  (lambda ()
    (bpf-unload! python-calls)))
