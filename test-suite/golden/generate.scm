;;; Write the golden C files: guile -L test-suite -s test-suite/golden/generate.scm DIR
(use-modules (ebpf) (golden forms) (ice-9 match))
(define dir (cadr (command-line)))
(for-each (match-lambda
            ((name fn kind target)
             (call-with-output-file (string-append dir "/" name ".c")
               (lambda (port)
                 (display (bpf-fn->c fn #:kind kind #:target target) port)))))
          golden-cases)
