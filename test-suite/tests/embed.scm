;;; examples/embed: a C program embedding Guile and guile-ebpf applies a
;;; policy file's policy, reads a map, and removes the policy.
(use-modules (harness) (srfi srfi-64) (ice-9 popen) (ice-9 rdelim) (ice-9 regex))

(harness-begin "embed" 'kernel)

(define (builddir) (or (getenv "abs_top_builddir") (srcdir)))

(let* ((cmd (format #f "~a/examples/embed/embed ~a/examples/embed/policy.scm getpid-watch calls 1 2>&1"
                    (builddir) (srcdir)))
       (port (open-input-pipe cmd))
       (out (read-string port))
       (status (close-pipe port)))
  (test-equal "the embedding program exits 0" 0 (status:exit-val status))
  (test-assert "it printed the map with the getpid calls it made"
               (let ((m (string-match "calls: \\(\\(0 \\. ([0-9]+)\\)\\)" out)))
                 (and m (>= (string->number (match:substring m 1)) 10))))
  (test-assert "the policy was removed"
               (not (string-contains out "Error"))))

(let* ((port (open-input-pipe (format #f "~a/examples/embed/embed 2>&1" (builddir))))
       (out (read-string port))
       (status (close-pipe port)))
  (test-equal "usage errors exit 2" 2 (status:exit-val status))
  (test-assert "usage is printed" (string-contains out "usage:")))

(harness-end)
