;;; bio-sizes.scm --- a histogram of block I/O request sizes.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:block:block_rq_issue { @bytes = hist(args.bytes); }'
;;;
;;; Shows: an integer field of a tracepoint read by name ((arg ctx
;;; 'bytes)), a log2 histogram map filled with hist!, and bpf-print-hist.
;;; The script makes its own I/O: it writes a temporary file in steps of
;;; 4 KiB to 1 MiB and fsyncs it after each write, so the block layer
;;; issues requests of several sizes.  The file goes in $TMPDIR or
;;; /var/tmp (give another directory with --dir); it is removed at the end.
;;; When no request was seen (a file system in memory, or a disk this
;;; machine does not trace) the script says so.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/bio-sizes.scm [--dir DIR] [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 binary-ports)
             (rnrs bytevectors))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (dir (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: bio-sizes.scm [--dir DIR] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))
(define dir (option-ref options 'dir (or (getenv "TMPDIR") "/var/tmp")))

(defbpf-map bytes #:kind 'histogram #:doc "Block request sizes, log2 buckets.")

(bpf-fn request-size (ctx)
  (hist! bytes (arg ctx 'bytes)))

(defbpf-program bio-sizes
  #:kind 'tracepoint
  #:attach "block:block_rq_issue"
  #:source request-size
  #:license "GPL")

(define file (format #f "~a/guile-ebpf-bio-sizes-~a" dir (getpid)))
(define sizes (map (lambda (k) (* 4096 k)) '(1 2 4 8 16 32 64 128 256)))

(define (write-and-sync! port size)
  (put-bytevector port (make-bytevector size (random 256)))
  (force-output port)
  (fsync port))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! bio-sizes)
    (format #t "Attaching 1 probe...  (writing and fsyncing ~a)~%" file)
    (let ((port (open-file file "wb"))
          (end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ((i 0))
        (when (< (get-internal-real-time) end)
          (write-and-sync! port (list-ref sizes (modulo i (length sizes))))
          (when (zero? (modulo (+ i 1) (length sizes)))
            (truncate-file port 0)
            (seek port 0 SEEK_SET))
          (usleep 20000)
          (loop (+ i 1))))
      (close-port port))
    (bpf-detach! bio-sizes)
    (newline)
    (if (null? (bpf-hist bytes))
        (format #t "No block I/O request was issued: the file system of ~a ~
                    is not on a block device here (tmpfs?), or this machine's ~
                    disk shows none.  Try --dir on a disk.~%" dir)
        (bpf-print-hist bytes)))
  (lambda ()
    (bpf-unload! bio-sizes)
    (false-if-exception (delete-file file))))
