;;; The examples run as scripts, by themselves, and print what they promise.
(use-modules (harness) (srfi srfi-64) (ice-9 popen) (ice-9 rdelim))

(harness-begin "examples" 'kernel)

(define (run-example file)
  ;; Returns (status . output) of `guile -s FILE` in the uninstalled tree.
  (let* ((port (open-pipe* OPEN_READ "sh" "-c"
                           (format #f "guile --no-auto-compile -s ~a/examples/~a 2>&1"
                                   (srcdir) file)))
         (out (read-string port))
         (status (close-pipe port)))
    (cons (status:exit-val status) out)))

(let ((r (run-example "demo.scm --duration 1")))
  (test-equal "demo exits 0" 0 (car r))
  (for-each
   (lambda (expected)
     (test-assert (format #f "demo prints ~s" expected)
                  (string-contains (cdr r) expected)))
   '("== Compiling, verifying and attaching three programs =="
     "count-syscalls         raw-tracepoint"
     "@syscalls[guile]: "
     "@read-latency:"
     "|@@@@"
     "TCP SYN 10.0.0.1 -> :80      -> xdp-drop"
     "TCP SYN 2001:db8::1 -> :80   -> xdp-drop"
     "UDP 10.0.0.1 -> :53          -> xdp-pass"
     "ARP request                  -> xdp-pass"
     "ebpf-lower-error: bpf-fn oops: "
     "Fix: read a field first")))

(harness-end)
