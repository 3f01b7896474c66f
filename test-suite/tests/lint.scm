;;; Lint: every C primitive and every exported Scheme procedure is documented;
;;; the Scheme modules reach the C core through (ebpf core) alone; the build
;;; knows the order the modules compile in.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 regex)
             (ice-9 rdelim) (ice-9 ftw) (ice-9 match) (ice-9 popen))

(harness-begin "lint")

(define (read-file f) (call-with-input-file f read-string))

(define (c-files-in dir)
  (map (lambda (f) (string-append dir "/" f))
       (scandir dir (lambda (f) (string-suffix? ".c" f)))))
(define c-files
  (append (c-files-in (string-append (srcdir) "/csrc"))
          (c-files-in (string-append (srcdir) "/csrc/kernel"))
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

;; (ebpf) loads some modules when one of their names is first used: use
;; one of each, so that their interfaces are among (ebpf)'s uses below.
(for-each (lambda (entry)
            (module-variable (resolve-interface '(ebpf)) (cadr entry)))
          (ebpf-scm-definition '%lazy-modules))

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

;; The modules themselves import what they use: no @@ at all.
(define at-at (make-regexp (string-append "\\(@" "@ +\\(ebpf")))
(test-equal "no module reaches into another with @@" '()
            (filter (lambda (f) (regexp-exec at-at (read-file f)))
                    (scheme-files "module")))

;; The shared library exports its entry point and nothing else.
(define library
  (string-append (or (getenv "abs_top_builddir") ".")
                 "/csrc/.libs/libguile-ebpf.so"))
(test-equal "libguile-ebpf exports only gebpf_init" '("gebpf_init")
            (let* ((port (open-pipe* OPEN_READ "nm" "-D" "--defined-only" library))
                   (lines (let loop ((acc '()))
                            (let ((l (read-line port)))
                              (if (eof-object? l) (reverse acc) (loop (cons l acc))))))
                   (status (close-pipe port)))
              (and (zero? status)
                   (filter-map (lambda (l)
                                 (let ((f (string-tokenize l)))
                                   (and (= 3 (length f)) (caddr f))))
                               lines))))

;;; Build order: Makefile.am makes each module's .go depend on the .go of
;;; every (ebpf ...) module its define-module uses, no more and no less.

(define (module-file->go f)
  ;; module/ebpf/map.scm -> "module/ebpf/map.go"
  (string-append (string-drop-right f 4) ".go"))

(define (ebpf-uses file)
  ;; The .go files of the (ebpf ...) modules FILE's define-module uses.
  (let ((form (call-with-input-file (string-append (srcdir) "/" file) read)))
    (let loop ((args (cddr form)) (acc '()))
      (match args
        ((#:use-module spec . rest)
         (let ((name (if (pair? (car spec)) (car spec) spec)))
           (loop rest
                 (if (eq? (car name) 'ebpf)
                     (cons (if (null? (cdr name))
                               "module/ebpf.go"
                               (format #f "module/ebpf/~a.go" (cadr name)))
                           acc)
                     acc))))
        ((#:autoload _ _ . rest) (loop rest acc))
        ((_ _ . rest) (loop rest acc))
        (_ (sort (delete-duplicates acc) string<?))))))

(define makefile-deps
  ;; target -> sorted prerequisites, from the "module/....go: ..." rules.
  (let* ((text (regexp-substitute/global
                #f "\\\\\n" (read-file (string-append (srcdir) "/Makefile.am"))
                'pre " " 'post))
         (rx (make-regexp "^(module/[a-z/-]+\\.go): *([^\n]*)$" regexp/newline)))
    (map (lambda (m)
           (cons (match:substring m 1)
                 (sort (string-tokenize (match:substring m 2)) string<?)))
         (list-matches rx text))))

(for-each
 (lambda (file)
   (let ((go (module-file->go file)))
     (test-equal (format #f "Makefile.am: ~a depends on what it uses" go)
                 (ebpf-uses file)
                 (or (assoc-ref makefile-deps go) '()))))
 (cons "module/ebpf.scm"
       (map (lambda (f) (string-append "module/ebpf/" f))
            (scandir (string-append (srcdir) "/module/ebpf")
                     (lambda (f) (string-suffix? ".scm" f))))))

;; No module that (ebpf) imports looks up (ebpf) at run time: that would
;; be a cycle.  (A module importing (ebpf) itself, as (ebpf script) does,
;; may.)
(define resolve-top
  (make-regexp "resolve-(interface|module) +'\\(ebpf\\)"))
(test-equal "no module (ebpf) depends on resolves (ebpf) at run time" '()
            (filter (lambda (f)
                      (and (regexp-exec resolve-top (read-file f))
                           (not (member "module/ebpf.go"
                                        (ebpf-uses (string-drop f (+ 1 (string-length (srcdir)))))))))
                    (scheme-files "module/ebpf")))

(harness-end)
