;;; The ebpf-error family: keys, argument shape, printing, predicates.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 exceptions))

(harness-begin "errors")

(define (caught thunk)
  (catch #t thunk (lambda (k . args) (cons k args))))

(let ((e (caught (lambda () (bpf-type 'nope)))))
  (test-eq "key" 'ebpf-validation-error (car e))
  (test-equal "subr" "bpf-type" (ebpf-error-subr (cdr e)))
  (test-assert "message names the culprit" (string-contains (ebpf-error-message (cdr e)) "nope"))
  (test-assert "message has a Fix" (string-contains (ebpf-error-message (cdr e)) "Fix: "))
  (test-equal "details is an alist" '() (ebpf-error-details (cdr e))))

(test-assert "ebpf-error? on every key"
             (every ebpf-error? ebpf-error-keys))
(test-assert "ebpf-error? on others" (not (ebpf-error? 'misc-error)))
(test-equal "family" '(ebpf-error ebpf-validation-error ebpf-map-error
                       ebpf-permission-error ebpf-lower-error
                       ebpf-compile-error ebpf-verifier-error ebpf-attach-error)
            ebpf-error-keys)

(test-equal "guard sees an exception object in the family" "bpf-type"
            (guard (e ((ebpf-error? e) (ebpf-error-subr e)))
              (bpf-type 'nope)))
(test-equal "guard message" #t
            (guard (e ((ebpf-error? e) (and (string-contains (ebpf-error-message e) "nope") #t)))
              (bpf-type 'nope)))

(let ((e (caught (lambda () (raise-ebpf-error 'ebpf-attach-error 'my-proc
                                              "interface veth9 is missing"
                                              #:fix "create it"
                                              #:details '((ifname . "veth9")))))))
  (test-eq "raise-ebpf-error key" 'ebpf-attach-error (car e))
  (test-equal "raise-ebpf-error message"
              "interface veth9 is missing. Fix: create it"
              (ebpf-error-message (cdr e)))
  (test-equal "raise-ebpf-error details" '((ifname . "veth9"))
              (ebpf-error-details (cdr e))))

(test-equal "tilde survives printing"
            "x: ebpf-error: 100~ sure. Fix: relax\n"
            (call-with-output-string
              (lambda (port)
                (catch #t
                  (lambda () (raise-ebpf-error 'ebpf-error 'x "100~ sure" #:fix "relax"))
                  (lambda (k . args) (print-exception port #f k args))))))

(test-equal "call-with-ebpf-errors" 'ebpf-validation-error
            (call-with-ebpf-errors (lambda () (bpf-type 'nope))
                                   (lambda (key msg details) key)))
(test-equal "call-with-ebpf-errors passes others" 'other
            (catch 'other
              (lambda () (call-with-ebpf-errors (lambda () (throw 'other 1))
                                                (lambda _ 'wrong)))
              (lambda _ 'other)))
(test-ebpf-error "raise refuses foreign keys" 'ebpf-validation-error ("not-ours")
                 (raise-ebpf-error 'not-ours 'x "y"))

(harness-end)
