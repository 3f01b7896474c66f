;;; file-opens.scm --- files opened, with the process name, via a ring buffer.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'tracepoint:syscalls:sys_enter_openat {
;;;                  printf("%s %s\n", comm, str(args.filename)); }'
;;;
;;; Shows: a defbpf-struct as the record type of a ringbuf map, a
;;; tracepoint field read by name ((arg ctx 'filename)) and copied from
;;; user memory with read-user-str, emit! on the kernel side, and on the
;;; Scheme side a background consumer (bpf-ringbuf-start!) that hands
;;; each decoded record to a procedure while the script goes on with its
;;; own work -- here, opening a few files every tenth of a second so the
;;; output is never empty.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/file-opens.scm [--duration SECONDS]
;;; Default 2 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: file-opens.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "2")))

(defbpf-struct open-event (pid u32) (comm (string 16)) (filename (string 64)))
(defbpf-map opens #:kind 'ringbuf #:value 'open-event #:max-entries 262144)

(bpf-fn on-openat (ctx)
  (emit! opens (make-open-event #:pid (tgid)
                                #:comm (comm)
                                #:filename (read-user-str (arg ctx 'filename) 64))))

(defbpf-program file-opens
  #:kind 'tracepoint
  #:attach "syscalls:sys_enter_openat"
  #:source on-openat
  #:license "GPL")

(define (print-open e)
  (format #t "~16a ~7a ~a~%" (open-event-comm e) (open-event-pid e)
          (open-event-filename e)))

(define my-files '("/etc/hostname" "/etc/passwd" "/proc/self/stat"
                   "/nonexistent/guile-ebpf-example"))

(define (open-some-files!)
  (for-each (lambda (f) (false-if-exception (close-port (open-input-file f))))
            my-files))

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! file-opens)
    (format #t "~16a ~7a ~a~%" "COMM" "PID" "FILENAME")
    (bpf-ringbuf-start! opens print-open)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (open-some-files!)
          (usleep 100000)
          (loop)))))
  (lambda ()
    (bpf-unload! file-opens)
    (bpf-ringbuf-stop! opens)))
