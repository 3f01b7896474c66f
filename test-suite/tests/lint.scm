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
;; C primitives included: their SCM_DEFINE docstring is attached at init.
(for-each
 (lambda (p)
   (let ((name (car p))
         (val (false-if-exception (variable-ref (cdr p)))))
     (when (and (procedure? val) (not (macro? val)))
       (test-assert (format #f "~a has a docstring" name)
                    (procedure-documentation val)))))
 (all-exports (resolve-module '(ebpf))))

;; Every primitive shows Guile the docstring written in C.
(define core (resolve-module '(ebpf core)))
(for-each
 (lambda (p)
   ;; The pattern above captures the docstring's first string literal.
   (test-assert (format #f "~a's documentation is its C docstring" (car p))
                (let ((doc (false-if-exception
                            (procedure-documentation
                             (module-ref core (string->symbol (car p)))))))
                  (and (string? doc) (string-prefix? (cadr p) doc)))))
 (filter (lambda (p) (not (string-index (cadr p) #\\))) primitives))

;;; One door into the C core: (ebpf core) exports every binding the
;;; extension defines, and nothing reaches into it with @@.

(test-equal "(ebpf core) exports every binding of the extension" '()
            (sort (filter (lambda (n)
                            (not (module-variable (module-public-interface core) n)))
                          (module-map (lambda (n v) n) core))
                  (lambda (a b) (string<? (symbol->string a) (symbol->string b)))))

(define (scheme-files dir)
  ;; Every .scm and .in file under DIR (relative to the source tree).
  (let ((root (string-append (srcdir) "/" dir)))
    (if (file-exists? root)
        (let walk ((d root))
          (append-map (lambda (f)
                        (let ((path (string-append d "/" f)))
                          (cond ((eq? 'directory (stat:type (stat path))) (walk path))
                                ((or (string-suffix? ".scm" f) (string-suffix? ".in" f)
                                     (string=? f "guile-ebpf") (string=? f "run"))
                                 (list path))
                                (else '()))))
                      (or (scandir d (lambda (f) (not (string-prefix? "." f)))) '())))
        '())))

(define at-at-core                      ;built so that this file does not match
  (make-regexp (string-append "\\(@" "@ +\\(ebpf +core\\)")))
(test-equal "nothing reaches into (ebpf core) with @@" '()
            (filter (lambda (f) (regexp-exec at-at-core (read-file f)))
                    (append-map scheme-files
                                '("module" "test-suite" "examples" "bench" "scripts"))))

(harness-end)
