;;; doc/reference.scm --- the manual's procedure reference, from docstrings.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; (reference-texi SRCDIR) returns doc/reference.texi as it should be: one
;;; section per module that (ebpf) re-exports, one @deffn per exported
;;; procedure, whose body is the procedure's docstring -- written once,
;;; in C for primitives, in Scheme for the rest -- and whose heading (the
;;; argument names) is the first {Scheme Procedure} @deffn of that name in
;;; the chapters.  `make reference' writes the file (guile -s
;;; doc/reference.scm SRCDIR); tests/manual.scm loads this file and checks
;;; the file is current, tests/deffn.scm reads the chapters' @deffn lines
;;; with it and checks them (and the headings) against the code.

(use-modules (ebpf) (srfi srfi-1) (srfi srfi-9) (ice-9 rdelim) (ice-9 regex)
             (ice-9 ftw))

(define reference-modules
  ;; In the order of (ebpf)'s re-exports.
  '((ebpf error) (ebpf types) (ebpf map) (ebpf features) (ebpf build)
    (ebpf packet) (ebpf fn) (ebpf program) (ebpf deploy) (ebpf policy)
    (ebpf bpfman) (ebpf events) (ebpf metrics) (ebpf repl)))

;; A @deffn or @deffnx line of the chapters: where it is, its category
;; (without braces), the name and the argument text as written.
(define-record-type <deffn-line>
  (make-deffn-line file line category name args)
  deffn-line?
  (file deffn-line-file)                ; "doc/maps.texi"
  (line deffn-line-line)                ; its first line, from 1
  (category deffn-line-category)        ; "Scheme Procedure"
  (name deffn-line-name)
  (args deffn-line-args))               ; "map key [default]"

(define deffn-rx
  (make-regexp "^@deffnx? +(\\{([^}]*)\\}|([^ ]+)) +([^ ]+) *(.*)$"))

(define (file-deffns dir f)
  ;; The @deffn/@deffnx lines of DIR/F in order, Texinfo's continued
  ;; lines (ending in @) joined.
  (call-with-input-file (string-append dir "/" f)
    (lambda (port)
      (let loop ((n 1) (acc '()))
        (let ((l (read-line port)))
          (if (eof-object? l)
              (reverse acc)
              (let join ((l l) (next (+ n 1)))
                (if (and (string-suffix? "@" l)
                         (not (string-suffix? "@@" l))
                         (string-prefix? "@deffn" l))
                    (let ((more (read-line port)))
                      (join (string-append (string-trim-right (string-drop-right l 1))
                                           " "
                                           (if (eof-object? more) ""
                                               (string-trim more)))
                            (+ next 1)))
                    (let ((m (regexp-exec deffn-rx l)))
                      (loop next
                            (if m
                                (cons (make-deffn-line
                                       (string-append "doc/" f) n
                                       (or (match:substring m 2)
                                           (match:substring m 3))
                                       (match:substring m 4)
                                       (match:substring m 5))
                                      acc)
                                acc)))))))))))

(define (manual-deffns srcdir)
  ;; Every @deffn/@deffnx line of the hand-written chapters, in reading
  ;; order.
  (let ((dir (string-append srcdir "/doc")))
    (append-map (lambda (f) (file-deffns dir f)) (manual-files dir))))

(define (chapter-headings srcdir)
  ;; name -> "{Scheme Procedure} name args" of its first {Scheme
  ;; Procedure} @deffn/@deffnx in the hand-written chapters: the one
  ;; tests/deffn.scm checks against the procedure.  (A REPL command or
  ;; bpf-fn form of the same name is not the procedure.)
  (let ((table (make-hash-table)))
    (for-each (lambda (d)
                (when (and (string=? (deffn-line-category d) "Scheme Procedure")
                           (not (hash-ref table (deffn-line-name d))))
                  (hash-set! table (deffn-line-name d)
                             (string-append "{Scheme Procedure} "
                                            (deffn-line-name d)
                                            (if (string-null? (deffn-line-args d))
                                                ""
                                                (string-append
                                                 " " (deffn-line-args d)))))))
              (manual-deffns srcdir))
    table))

(define (manual-files dir)
  ;; The manual's files in reading order (guile-ebpf.texi, each @include
  ;; where it stands), then any other .texi in DIR; reference.texi left
  ;; out.
  (define include-rx (make-regexp "^@include +([^ \n]+)" regexp/newline))
  (define (walk f acc)
    (if (or (member f acc) (string=? f "reference.texi")
            (not (file-exists? (string-append dir "/" f))))
        acc
        (fold walk (cons f acc)
              (map (lambda (m) (match:substring m 1))
                   (list-matches include-rx
                                 (call-with-input-file (string-append dir "/" f)
                                   read-string))))))
  (let ((ordered (reverse (walk "guile-ebpf.texi" '()))))
    (append ordered
            (scandir dir (lambda (f) (and (string-suffix? ".texi" f)
                                          (not (string=? f "reference.texi"))
                                          (not (member f ordered))))))))

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
