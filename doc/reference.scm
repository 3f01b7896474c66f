;;; doc/reference.scm --- the manual's procedure reference, from docstrings.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; (reference-texi SRCDIR) returns doc/reference.texi as it should be: one
;;; section per module that (ebpf) re-exports, one @deffn per exported
;;; procedure, whose body is the procedure's docstring -- written once,
;;; in C for primitives, in Scheme for the rest -- and whose heading (the
;;; argument names) is the first @deffn of that name in the chapters.
;;; `make reference' writes the file (guile -s doc/reference.scm SRCDIR);
;;; tests/manual.scm loads this file and checks the file is current.

(use-modules (ebpf) (srfi srfi-1) (ice-9 rdelim) (ice-9 regex) (ice-9 ftw))

(define reference-modules
  ;; In the order of (ebpf)'s re-exports.
  '((ebpf error) (ebpf types) (ebpf map) (ebpf features) (ebpf build)
    (ebpf packet) (ebpf fn) (ebpf program) (ebpf deploy) (ebpf policy)
    (ebpf bpfman) (ebpf events) (ebpf metrics) (ebpf repl)))

(define (joined-lines file)
  ;; FILE's text, with Texinfo's continued lines (ending in @) joined.
  (regexp-substitute/global #f " *@\n *" (call-with-input-file file read-string)
                            'pre " " 'post))

(define (chapter-headings srcdir)
  ;; name -> "{Category} name args" of its first @deffn/@deffnx in the
  ;; hand-written chapters, REPL commands left out.
  (let ((table (make-hash-table))
        (rx (make-regexp "^@deffnx? +((\\{[^}]*\\}|[^ ]+) +([^ \n]+)[^\n]*)"
                         regexp/newline))
        (dir (string-append srcdir "/doc")))
    (for-each
     (lambda (f)
       (for-each (lambda (m)
                   (let ((name (match:substring m 3)))
                     ;; A REPL command's heading is not the procedure's.
                     (unless (or (hash-ref table name)
                                 (string=? (match:substring m 2) "{REPL Command}"))
                       (hash-set! table name (match:substring m 1)))))
                 (list-matches rx (joined-lines (string-append dir "/" f)))))
     (scandir dir (lambda (f) (and (string-suffix? ".texi" f)
                                   (not (string=? f "reference.texi"))))))
    table))

(define (exported-procedures module)
  ;; (name . procedure) for each documented procedure MODULE exports,
  ;; sorted by name; a name another listed module exports first is left
  ;; to that module, as (ebpf) does.
  (sort (filter-map (lambda (name)
                      (let* ((v (module-variable (resolve-interface module) name))
                             (p (and v (variable-bound? v) (variable-ref v))))
                        (and (procedure? p) (not (macro? p))
                             (procedure-documentation p)
                             (cons name p))))
                    (module-map (lambda (n v) n) (resolve-interface module)))
        (lambda (a b) (string<? (symbol->string (car a)) (symbol->string (car b))))))

(define (reference-texi srcdir)
  (let ((headings (chapter-headings srcdir))
        (seen (make-hash-table)))
    (call-with-output-string
      (lambda (port)
        (display "@c Generated from the docstrings by doc/reference.scm (make reference).
@c Do not edit: change the docstring, then run make reference.

@node Procedure Reference
@appendix Procedure Reference

Every procedure @code{(ebpf)} exports, with its documentation as
@code{procedure-documentation} and the REPL's @code{,describe} show it,
grouped by the module that defines it.
" port)
        (for-each
         (lambda (module)
           (let ((procs (remove (lambda (p) (hashq-ref seen (car p)))
                                (exported-procedures module))))
             (unless (null? procs)
               (format port "~%@appendixsec @code{~a}~%" module)
               (for-each
                (lambda (p)
                  (let ((name (symbol->string (car p))))
                    (hashq-set! seen (car p) #t)
                    (format port "~%@deffn ~a~%~a~%@end deffn~%"
                            (or (hash-ref headings name)
                                (string-append "{Scheme Procedure} " name))
                            (string-trim-both (procedure-documentation (cdr p))))))
                procs))))
         reference-modules)))))

;; Run as a script: print the reference of the tree at the first argument.
(when (and (= 2 (length (command-line)))
           (string-suffix? "reference.scm" (car (command-line))))
  (display (reference-texi (cadr (command-line)))))
