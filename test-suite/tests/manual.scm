;;; Every name (ebpf) exports has a @deffn (or @deffnx) in the manual, and
;;; the manual's procedure reference is the docstrings, as generated now.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 regex) (ice-9 ftw) (ice-9 popen))

(harness-begin "manual")

(define doc-dir (string-append (srcdir) "/doc"))
(define texts
  (map (lambda (f) (call-with-input-file (string-append doc-dir "/" f) read-string))
       (scandir doc-dir (lambda (f) (string-suffix? ".texi" f)))))

;; @deffn {Scheme Procedure} name args / @deffnx {Scheme Syntax} name ...
(define documented
  (let ((rx (make-regexp "^@def(fn|tp|vr|var|ivar)x? *(\\{[^}]*\\}|[^ ]+) +([^ \n]+)" regexp/newline)))
    (delete-duplicates
     (append-map (lambda (t)
                   (map (lambda (m) (match:substring m 3)) (list-matches rx t)))
                 texts))))

(define (exports mod)
  (let ((iface (module-public-interface (resolve-module mod))))
    (append (module-map (lambda (name var) name) iface)
            (append-map (lambda (i) (module-map (lambda (n v) n) i))
                        (module-uses iface)))))

;; (ebpf)'s %lazy-modules, ((MODULE NAME ...) ...), and the names
;; submodules export for each other only.
(define lazy-lists (ebpf-scm-definition '%lazy-modules))
(define internal (ebpf-scm-definition 'internal))
(define lazy-modules (map car lazy-lists))
(define (public-exports mod)
  (lset-difference eq? (exports mod) (or (assoc-ref internal mod) '())))
(test-assert "(ebpf) loads some modules lazily"
             (member '(ebpf events) lazy-modules))

;; (ebpf) loads these when one of their names is first used: every name
;; they export must be listed, and so reachable through (ebpf) all the
;; same, and every name listed must be theirs.
(for-each
 (lambda (entry)
   (let ((mod (car entry)))
     (test-equal (format #f "(ebpf) lists the exports of ~a" mod)
                 '()
                 (lset-xor eq? (cdr entry) (public-exports mod)))
     (for-each
      (lambda (n)
        (test-assert (format #f "(ebpf) gives ~a of ~a" n mod)
          (module-variable (resolve-interface '(ebpf)) n)))
      (public-exports mod))))
 lazy-lists)

(test-equal "(use-modules (ebpf)) loads none of them" '()
            (let* ((p (open-pipe* OPEN_READ "guile" "--no-auto-compile" "-c"
                                  (format #f "(use-modules (ebpf))
                                              (write (filter (lambda (m)
                                                               (resolve-module m #f #:ensure #f))
                                                             '~s))"
                                          lazy-modules)))
                   (loaded (read p)))
              (close-pipe p)
              loaded))

(define names
  (sort (delete-duplicates
         (map symbol->string
              (append (exports '(ebpf)) (append-map public-exports lazy-modules))))
        string<?))

(test-assert "the manual documents some names" (> (length documented) 100))
(test-assert "(ebpf) exports some names" (> (length names) 100))
(for-each
 (lambda (n)
   (test-assert (format #f "~a is documented" n) (member n documented)))
 names)

;; The procedure reference (doc/reference.texi) is generated from the
;; docstrings; a docstring changed without `make reference' fails here.
(load (string-append (srcdir) "/doc/reference.scm"))
(define reference-file (string-append doc-dir "/reference.texi"))
(define generated (reference-texi (srcdir)))
(test-assert "the reference documents some procedures"
             (> (length (list-matches "\n@deffn " generated)) 100))
(test-assert "doc/reference.texi is current (run make reference)"
             (string=? generated
                       (call-with-input-file reference-file read-string)))
(let ((iface (module-public-interface (resolve-module '(ebpf)))))
  (for-each
   (lambda (n)
     (let ((v (module-variable iface (string->symbol n))))
       (when (and v (variable-bound? v) (procedure? (variable-ref v))
                  (not (macro? (variable-ref v))))
         (test-assert (format #f "~a is in the procedure reference" n)
                      (or (string-contains generated (string-append " " n " "))
                          (string-contains generated (string-append " " n "\n")))))))
   names))
(test-assert "the manual includes the reference"
             (string-contains
              (call-with-input-file (string-append doc-dir "/guile-ebpf.texi")
                read-string)
              "@include reference.texi"))

(harness-end)
