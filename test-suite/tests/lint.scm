;;; Lint: every C primitive and every exported Scheme procedure is documented.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 regex)
             (ice-9 rdelim) (ice-9 ftw))

(harness-begin "lint")

(define (read-file f) (call-with-input-file f read-string))

(define (c-files-in dir)
  (map (lambda (f) (string-append dir "/" f))
       (scandir dir (lambda (f) (string-suffix? ".c" f)))))
(define c-files
  (append (c-files-in (string-append (srcdir) "/csrc"))
          (c-files-in (string-append (srcdir) "/csrc/lower"))))

;; SCM_DEFINE[_STATIC] (c_name, "scheme-name", req, opt, rest, (args), "doc"
(define define-rx
  (make-regexp "SCM_DEFINE(_STATIC)? \\(([a-z_0-9]+), \"([^\"]+)\",[^(]*\\([^)]*\\),[ \t\n]*\"([^\"]*)\""))

(define primitives
  (append-map (lambda (f)
                (map (lambda (m) (list (match:substring m 3) (match:substring m 4) f))
                     (list-matches define-rx (read-file f))))
              c-files))

(test-assert "found the C primitives" (> (length primitives) 20))
(for-each
 (lambda (p)
   (test-assert (format #f "~a has a docstring" (car p))
                (> (string-length (cadr p)) 15)))
 primitives)
(test-equal "every SCM_DEFINE matched the lint pattern"
            (length primitives)
            (apply + (map (lambda (f)
                            (length (list-matches "SCM_DEFINE(_STATIC)? \\(" (read-file f))))
                          c-files)))

(define (all-exports mod)
  ;; (ebpf) re-exports through its interface's uses.
  (append-map (lambda (i) (module-map (lambda (n v) (cons n v)) i))
              (cons (module-public-interface mod)
                    (module-uses (module-public-interface mod)))))
(define c-names (map car primitives))
(for-each
 (lambda (p)
   (let ((name (car p))
         (val (false-if-exception (variable-ref (cdr p)))))
     (when (and (procedure? val) (not (macro? val))
                (not (member (symbol->string name) c-names)))
       (test-assert (format #f "~a has a docstring" name)
                    (procedure-documentation val)))))
 (all-exports (resolve-module '(ebpf))))

(harness-end)
