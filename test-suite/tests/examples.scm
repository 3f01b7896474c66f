;;; The examples run as scripts, by themselves, and print what they promise.
(use-modules (harness) (srfi srfi-64) (ice-9 popen) (ice-9 rdelim))

(harness-begin "examples" 'kernel)

(define (run-example file)
  ;; Returns (status . output) of `guile -s FILE` in the uninstalled tree.
  (let* ((port (open-pipe* OPEN_READ "sh" "-c"
                           (format #f "guile --no-auto-compile -s '~a/examples/~a' 2>&1"
                                   (srcdir) file)))
         (out (read-string port))
         (status (close-pipe port)))
    (cons (status:exit-val status) out)))

(let ((r (run-example "demo.scm")))
  (test-equal "demo exits 0" 0 (car r))
  (for-each
   (lambda (expected)
     (test-assert (format #f "demo prints ~s" expected)
                  (string-contains (cdr r) expected)))
   '("10.1.2.3        -> 1"
     "10.66.7.8       -> 2"
     "198.51.100.1    -> allowed"
     "@[10.0.0.3:443 -> 192.0.2.1]: 300"
     "total bytes: 600"
     "#<bpf-map syn-counter per-cpu-array key:4 value:8 fd:-"
     "ebpf-validation-error: "
     "Fix: give an exact integer in 0..65535")))

(harness-end)
