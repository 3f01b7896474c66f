;;; The ebpf-error family: keys, argument shape, printing, predicates.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 exceptions)
             (ice-9 match) (rnrs bytevectors))

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

(test-equal "raise-ebpf-error never shows a %-primitive" "bpf-thing"
            (ebpf-error-subr (cdr (caught (lambda ()
                                            (raise-ebpf-error 'ebpf-error '%bpf-thing "x"))))))

;; A raw primitive raising for a public procedure names the procedure.
(let ((e (caught (lambda () (bpf-object-attach #f #:kind 'tracepoint
                                               #:target "syscalls/sys_enter_getpid")))))
  (test-eq "primitive's error: key" 'ebpf-validation-error (car e))
  (test-equal "primitive's error: who is the public procedure"
              "bpf-object-attach" (ebpf-error-subr (cdr e))))

;;; Range errors state the range.
(test-ebpf-error "u32 range" 'ebpf-validation-error ("-1" "between 0 and 2^32-1")
                 (bpf-encode (bpf-type 'u32) -1))
(test-ebpf-error "u16 range" 'ebpf-validation-error ("70000" "between 0 and 65535")
                 (bpf-encode (bpf-type 'u16) 70000))
(test-ebpf-error "i32 range" 'ebpf-validation-error ("between -2^31 and 2^31-1")
                 (bpf-encode (bpf-type 'i32) (expt 2 31)))
(test-ebpf-error "u64 range" 'ebpf-validation-error ("between 0 and 2^64-1")
                 (bpf-encode (bpf-type 'u64) (expt 2 64)))
(test-ebpf-error "max-entries range" 'ebpf-validation-error
                 ("#:max-entries" "between 1 and 2^32-1")
                 (make-bpf-map '((name . "errs_range") (kind . hash) (key . u32)
                                 (value . u64) (max-entries . 0))))
(defbpf-map errs_u8 #:kind 'hash #:key 'u32 #:value 'u8)
(test-ebpf-error "literal range in a bpf-fn" 'ebpf-lower-error
                 ("out of range" "u8" "between 0 and 255")
                 (bpf-fn->c (bpf-fn errs-lit (ctx) (map-set! errs_u8 1 300))
                            #:kind 'xdp))

;;; Against the kernel: verifier headlines, libbpf's codes, dispatchers.

(define kernel-problem (kernel-tier-problem))
(define clang-missing (not (assq-ref (bpf-features) 'clang-version)))
(cond
 ((or kernel-problem clang-missing)
  (if (ci?)
      (test-assert (format #f "kernel tests cannot run: ~a"
                           (or kernel-problem "no clang"))
                   #f)
      (format #t "# SKIP kernel part: ~a~%" (or kernel-problem "no clang"))))
 (else
  (let* ((obj (bpf-build-file (string-append (srcdir)
                                             "/test-suite/bpf/loop.bpf.c")))
         (e (caught (lambda () (bpf-object-load obj))))
         (msg (ebpf-error-message (cdr e)))
         (head (car (string-split msg #\newline))))
    (test-eq "infinite loop: verifier error" 'ebpf-verifier-error (car e))
    (test-assert "headline is the verifier's reason"
                 (string-contains head ": infinite loop detected at insn"))
    (test-assert "headline is not a state dump"
                 (not (string-contains head "state:")))
    (test-assert "the fix fits the reason"
                 (string-contains msg "Fix: bound every loop"))
    (test-assert "the whole log is one accessor away"
                 (string-contains (assq-ref (ebpf-error-details (cdr e)) 'log)
                                  "old state:"))
    (test-equal "verifier error: who" "bpf-object-load"
                (ebpf-error-subr (cdr e))))

  ;; An object file that is not ELF: libbpf answers with its own code
  ;; (LIBBPF_ERRNO__FORMAT, 4001), which strerror does not know.
  (let* ((bogus (string-append "/tmp/gebpf-errors-" (number->string (getpid)) ".o"))
         (_ (call-with-output-file bogus (lambda (p) (display "not ELF\n" p))))
         (e (caught (lambda () (bpf-object-load bogus))))
         (msg (ebpf-error-message (cdr e)))
         (details (ebpf-error-details (cdr e))))
    (delete-file bogus)
    (test-assert "libbpf code: libbpf's text, not \"Unknown error\""
                 (and (string-contains msg "BPF object format invalid")
                      (not (string-contains msg "Unknown error"))))
    (test-equal "libbpf code: named" '(4001 . LIBBPF_ERRNO__FORMAT)
                (cons (assq-ref details 'errno) (assq-ref details 'errno-name))))

  ;; A uprobe on a file that is not ELF.  The program goes through a
  ;; dispatcher, whose name must not show.
  (let* ((bogus (string-append "/tmp/gebpf-errors-" (number->string (getpid))))
         (_ (call-with-output-file bogus (lambda (p) (display "not ELF\n" p))))
         (prog (make-bpf-program
                `((name . ,(string-append "errs_up_" (number->string (getpid))))
                  (kind . uprobe) (attach . ,(string-append bogus ":main"))
                  (source . ,(bpf-fn errs-up (ctx) 0)))))
         (e (caught (lambda () (bpf-attach! prog))))
         (msg (ebpf-error-message (cdr e))))
    (delete-file bogus)
    (bpf-unload! prog)
    (test-eq "uprobe on a non-ELF file: attach error" 'ebpf-attach-error (car e))
    (test-assert "uprobe on a non-ELF file: says so"
                 (string-contains msg "is not an ELF file"))
    (test-equal "dispatched attach: who is the procedure called" "bpf-attach!"
                (ebpf-error-subr (cdr e)))
    (test-assert "dispatched attach: names the user's program"
                 (string-contains msg (bpf-program-name prog)))
    (test-assert "dispatched attach: no internal name"
                 (not (string-contains msg "gebpf_slot"))))

;; BPF_PROG_TEST_RUN of a tracepoint program: the kernel answers with
  ;; its internal ENOTSUPP (524), which strerror does not know.
  (let* ((prog (make-bpf-program
                `((name . "errs_tr") (kind . tracepoint)
                  (attach . "syscalls/sys_enter_getpid")
                  (source . ,(bpf-fn errs-tr (ctx) 0)))))
         (e (caught (lambda () (bpf-test-run prog (make-bytevector 64 0)))))
         (msg (ebpf-error-message (cdr e))))
    (bpf-unload! prog)
    (test-equal "ENOTSUPP: named" '(524 . ENOTSUPP)
                (let ((d (ebpf-error-details (cdr e))))
                  (cons (assq-ref d 'errno) (assq-ref d 'errno-name))))
    (test-assert "ENOTSUPP: explained, not \"Unknown error 524\""
                 (and (string-contains msg "does not support")
                      (not (string-contains msg "Unknown error"))))
    (test-equal "ENOTSUPP: who" "bpf-test-run" (ebpf-error-subr (cdr e))))

  (let ((e (caught (lambda ()
                     (bpf-attach! (make-bpf-program
                                   `((name . "errs_tp") (kind . tracepoint)
                                     (attach . "syscalls/sys_enter_gebpf_none")
                                     (source . ,(bpf-fn errs-tp (ctx) 0)))))))))
    (test-eq "missing tracepoint: key" 'ebpf-attach-error (car e))
    (test-equal "missing tracepoint: who is bpf-attach!, not the primitive"
                "bpf-attach!" (ebpf-error-subr (cdr e))))))

(harness-end)
