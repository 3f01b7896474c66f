;;; profile.scm --- on-CPU kernel stacks sampled at 99 Hertz.
;;;
;;; The bpftrace one-liner it ports:
;;;   bpftrace -e 'profile:hz:99 { @[kstack] = count(); }'
;;;
;;; Shows: a perf-event program (#:attach '(#:frequency 99)) sampling
;;; every CPU, (stack-id ctx STACKMAP) recording the kernel stack of each
;;; sample in a stack-trace map, a hash map counting samples by stack id,
;;; and bpf-stack-symbols naming the frames from /proc/kallsyms.  The
;;; busiest stacks are printed as bpftrace prints them.  The script keeps
;;; a CPU busy in the kernel (reading /dev/zero, stat) while it samples.
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/profile.scm [--top N] [--duration SECONDS]
;;; Default: the 5 busiest stacks after 3 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 binary-ports)
             (srfi srfi-1))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (top (single-char #\n) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: profile.scm [--top N] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "3")))
(define top (string->number (option-ref options 'top "5")))

(define stack-entries 4096)
(defbpf-map kstacks #:kind 'stack-trace #:max-entries stack-entries
  #:doc "Kernel stacks of the samples.")
(defbpf-map samples #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 4096
  #:doc "Samples by kernel stack id.")

(bpf-fn sample (ctx)
  (let ((id (stack-id ctx kstacks)))
    ;; A valid id indexes the stack map; a sample taken in user mode has
    ;; no kernel stack, and stack-id returns a negative errno for it.
    (when (and (>= id 0) (< id ,stack-entries))
      (map-increment! samples id))))

(defbpf-program profile
  #:kind 'perf-event
  #:attach '(#:frequency 99)
  #:source sample
  #:license "GPL")

(define (print-stacks stackmap counts top)
  ;; The TOP stacks with the most samples, the busiest last, as bpftrace.
  (let* ((entries (sort (bpf-map->alist counts) (lambda (a b) (< (cdr a) (cdr b)))))
         (shown (take-right entries (min top (length entries)))))
    (for-each (lambda (e)
                (format #t "@[~%")
                (for-each (lambda (frame) (format #t "        ~a~%" frame))
                          (bpf-stack-symbols stackmap (car e)))
                (format #t "]: ~a~%~%" (cdr e)))
              shown)
    (format #t "~a samples in ~a distinct kernel stacks~%"
            (fold + 0 (map cdr entries)) (length entries))))

(define zero (open-input-file "/dev/zero" #:binary #t))
(setvbuf zero 'none)

(sigaction SIGINT (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (bpf-attach! profile)
    (format #t "Sampling kernel stacks at 99 Hz for ~a s...~%" duration)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      (let loop ()
        (when (< (get-internal-real-time) end)
          (get-bytevector-n zero 262144)
          (stat "/")
          (loop))))
    (bpf-detach! profile)
    (newline)
    (print-stacks kstacks samples top))
  (lambda ()
    (bpf-unload! profile)
    (close-port zero)))
