;;; Every name (ebpf) exports has a @deffn (or @deffnx) in the manual.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 regex) (ice-9 ftw))

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

(define lazy-modules '((ebpf metrics) (ebpf repl)))

;; (ebpf) loads these when one of their names is first used: every name
;; they export must be reachable through (ebpf) all the same.
(for-each
 (lambda (mod)
   (for-each
    (lambda (n)
      (test-assert (format #f "(ebpf) gives ~a of ~a" n mod)
        (module-variable (resolve-interface '(ebpf)) n)))
    (exports mod)))
 lazy-modules)

(define names
  (sort (delete-duplicates
         (map symbol->string
              (append (exports '(ebpf)) (append-map exports lazy-modules))))
        string<?))

(test-assert "the manual documents some names" (> (length documented) 100))
(test-assert "(ebpf) exports some names" (> (length names) 100))
(for-each
 (lambda (n)
   (test-assert (format #f "~a is documented" n) (member n documented)))
 names)

(harness-end)
