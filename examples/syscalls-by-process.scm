;;; syscalls-by-process.scm --- system calls counted by process name.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }'
;;;
;;; Shows: a hash map keyed by a string type ((string 16), the size of a
;;; task's comm), map-increment! from a tracepoint on every system call
;;; of the machine, and bpf-print-map printing the map as bpftrace prints
;;; its maps (@[comm]: count, by increasing count).  The script makes
;;; system calls of its own (getpid, stat) while it counts, so its own
;;; name, guile, is always in the table.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/syscalls-by-process.scm [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: syscalls-by-process.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

(defbpf-map syscalls #:kind 'hash #:key '(string 16) #:value 'u64 #:max-entries 10240
  #:doc "System calls entered, by the comm of the calling task.")

(bpf-fn count-syscall (ctx)
  (map-increment! syscalls (comm)))

(defbpf-program syscalls-by-process
  #:kind 'tracepoint
  #:attach "raw_syscalls:sys_enter"
  #:source count-syscall
  #:license "GPL")

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! syscalls-by-process)
    (format #t "Attaching 1 probe...~%")
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (getpid)
          (stat "/")
          (usleep 1000)
          (loop))))
    (bpf-detach! syscalls-by-process)
    (newline)
    (bpf-print-map syscalls #:name "@"))
  (lambda ()
    (bpf-unload! syscalls-by-process)))
