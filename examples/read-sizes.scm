;;; read-sizes.scm --- a histogram of read() sizes for one process.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:syscalls:sys_exit_read /pid == $1/ {
;;;                  @bytes = hist(args.ret); }'
;;;
;;; Shows: a sys_exit tracepoint's return value ((retval ctx)), a pid
;;; filter set before load with #:constants (the libbpf-tools idiom:
;;; changing it reloads the cached object, it does not recompile), a
;;; log2 histogram map filled with hist!, and bpf-print-hist drawing it
;;; as bpftrace does.
;;;
;;; With --pid PID it watches that process; by default it watches
;;; itself, and reads /dev/zero in sizes from 1 byte to 64 KiB so the
;;; histogram has something in it.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/read-sizes.scm [--pid PID] [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 binary-ports))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (pid (single-char #\p) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: read-sizes.scm [--pid PID] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))
(define target (string->number (option-ref options 'pid (number->string (getpid)))))

(defbpf-map bytes #:kind 'histogram #:doc "read() return values, log2 buckets.")

(bpf-fn read-size (ctx)
  (when (and (= (tgid) (const target)) (>= (retval ctx) 0))
    (hist! bytes (retval ctx))))

(defbpf-program read-sizes
  #:kind 'tracepoint
  #:attach "syscalls:sys_exit_read"
  #:source read-size
  #:constants `((target . ,target))
  #:license "GPL")

(define zero (open-input-file "/dev/zero" #:binary #t))
(setvbuf zero 'none)                    ; one read(2) per request, its size
(define sizes '(1 3 8 20 100 300 1000 4096 5000 16384 65536))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! read-sizes)
    (format #t "Attaching 1 probe...  (pid ~a)~%" target)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (when (= target (getpid))
            ;; Small reads more often than large ones.
            (for-each (lambda (n)
                        (when (zero? (modulo i (max 1 (integer-length n))))
                          (get-bytevector-n zero n)))
                      sizes))
          (usleep 10000)
          (loop (+ i 1)))))
    (bpf-detach! read-sizes)
    (newline)
    (bpf-print-hist bytes))
  (lambda ()
    (bpf-unload! read-sizes)
    (close-port zero)))
