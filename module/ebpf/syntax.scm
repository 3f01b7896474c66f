;;; (ebpf syntax) --- the argument rules shared by every defbpf-* form.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Declarations take keyword arguments written #:kind, or :kind (a symbol
;;; with the default reader, a keyword with (read-set! keywords 'prefix)).
;;; Arguments are ordinary expressions, with one rule that lets data read
;;; naturally: a colon-symbol (:xdp) or a literal list whose head is a
;;; keyword, colon-symbol, string or number is data, not a call.
;;;
;;; The name comes first as an identifier ((defbpf-map counts ...)) or as
;;; #:name.  The form is an expression (it may appear anywhere, e.g. in
;;; (define m (defbpf-map ...))); evaluating it binds the name in the
;;; current module, as written and in its kebab spelling.  Malformed
;;; argument lists are reported when the form is evaluated, as an
;;; ebpf-validation-error, so a surrounding catch sees them.
;;;
;;; Also here, written once for the modules that share them: the glob
;;; matcher of attach targets and probe listing, the JSON writer (the
;;; policy manifest, indented; the shell's -f json records, one line)
;;; and the module a user's Scheme file is loaded in.

(define-module (ebpf syntax)
  #:use-module (ebpf error)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 format)
  #:export (colon-symbol?
            declaration-key
            data-form?
            define-declaration-syntax
            declaration-ref
            check-declaration-keys
            bind-declaration!
            normalize-name
            declare-placeholder!
            glob->regexp
            write-json-string
            write-json
            set-user-interface!
            make-user-module))

(define (colon-symbol? d)
  (and (symbol? d)
       (let ((s (symbol->string d)))
         (and (> (string-length s) 1) (char=? (string-ref s 0) #\:)))))

(define (declaration-key d)
  "The field name symbol of a keyword or colon-symbol @var{d}, else #f."
  (cond ((keyword? d) (keyword->symbol d))
        ((colon-symbol? d) (string->symbol (substring (symbol->string d) 1)))
        (else #f)))

(define (data-form? d)
  (or (colon-symbol? d)
      (and (pair? d)
           (let ((h (car d)))
             (or (keyword? h) (colon-symbol? h) (string? h) (number? h))))))

(define (normalize-name x)
  "The name @var{x} (string, symbol or keyword) as a string with '_' as '-'."
  (let ((s (cond ((string? x) x)
                 ((symbol? x) (symbol->string x))
                 ((keyword? x) (symbol->string (keyword->symbol x)))
                 (else #f))))
    (and s (string-map (lambda (c) (if (char=? c #\_) #\- c)) s))))

(define (declaration-ref alist key default)
  (let ((p (assq key alist)))
    (if p (cdr p) default)))

(define (check-declaration-keys form alist known)
  "Raise ebpf-validation-error if ALIST has a key not in KNOWN."
  (for-each
   (lambda (p)
     (unless (memq (car p) known)
       (raise-ebpf-error 'ebpf-validation-error form
                         (format #f "unknown field #:~a" (car p))
                         #:fix (format #f "use one of: ~{#:~a~^ ~}" known))))
   alist))

(define (declare-placeholder! name)
  (let ((m (current-module)))
    (for-each (lambda (s)
                (let ((sym (string->symbol s)))
                  (unless (module-variable m sym)
                    (module-define! m sym #f))))
              (list name (normalize-name name)))))

(define (bind-declaration! module name obj)
  "Bind NAME (string or symbol) to OBJ in MODULE, as the declaration's
variable, and under its kebab spelling too."
  (let ((s (if (symbol? name) (symbol->string name) name)))
    (when (string? s)
      (module-define! module (string->symbol s) obj)
      (module-define! module (string->symbol (normalize-name s)) obj)))
  obj)

;; The run-time part of a declaration form: MAKER on the alist that
;; TEMPLATE gives once its holes are filled with VALUES, bound under its
;; name in the current module.
(define (declare-from-template! maker template vals)
  (let* ((al (fill-template template vals))
         (obj (maker al)))
    (bind-declaration! (current-module) (declaration-ref al 'name #f) obj)))

;;; A declaration form expands to one call of a procedure with one
;;; literal: the alist of its fields, with a hole for each value Guile
;;; must compute (an expression, or an unquote inside a quasiquote).  A
;;; form typed at the REPL is compiled before it runs, and Guile compiles
;;; a constant much faster than the code that would cons it up.  A hole
;;; is #(%declaration-hole) where the value goes, or
;;; #(%declaration-hole splice) where a list is spliced; the holes take
;;; the values in the order a depth-first walk meets them.

(define %hole '%declaration-hole)

(define (hole? x)
  (and (vector? x) (= (vector-length x) 1) (eq? (vector-ref x 0) %hole)))

(define (splice-hole? x)
  (and (vector? x) (= (vector-length x) 2) (eq? (vector-ref x 0) %hole)))

(define (fill-template t vals0)
  ;; T with its holes filled from the list VALS0; parts without holes
  ;; are T's own (as quasiquote shares them).
  (define (walk t vals)
    ;; -> (values FILLED REMAINING-VALS)
    (cond
     ((hole? t) (values (car vals) (cdr vals)))
     ((pair? t)
      (if (splice-hole? (car t))
          (call-with-values (lambda () (walk (cdr t) (cdr vals)))
            (lambda (rest vals*)
              ;; As quasiquote does, a splice at the end is not copied.
              (values (if (null? rest) (car vals) (append (car vals) rest))
                      vals*)))
          (call-with-values (lambda () (walk (car t) vals))
            (lambda (a vals)
              (call-with-values (lambda () (walk (cdr t) vals))
                (lambda (d vals)
                  (values (if (and (eq? a (car t)) (eq? d (cdr t)))
                              t
                              (cons a d))
                          vals)))))))
     ((and (vector? t) (not (splice-hole? t)))
      (call-with-values (lambda () (walk (vector->list t) vals))
        (lambda (l vals*)
          (values (if (eq? vals* vals) t (list->vector l)) vals*))))
     (else (values t vals))))
  (call-with-values (lambda () (walk t vals0))
    (lambda (filled rest) filled)))

(define (mentions-hole? d)
  ;; Does datum D hold the hole symbol (so it cannot go in a template)?
  (cond ((eq? d %hole) #t)
        ((pair? d) (or (mentions-hole? (car d)) (mentions-hole? (cdr d))))
        ((vector? d) (mentions-hole? (vector->list d)))
        (else #f)))

(define (template-value v)
  ;; The syntax V of a field's value as (DATUM . HOLE-EXPRS): a literal
  ;; datum and no holes; a quasiquote with its unquoted expressions as
  ;; holes; any other expression one hole.
  (define (expression) (cons (vector %hole) (list v)))
  (define (literal d e)
    ;; D as data, or the expression E if D holds the hole symbol.
    (if (mentions-hole? d)
        (cons (vector %hole) (list e))
        (cons d '())))
  (define (quasi t)
    ;; (DATUM . EXPRS) of a quasiquote template T of level 1, or #f for
    ;; a nested quasiquote (left for Guile to expand).
    (syntax-case t (quasiquote unquote unquote-splicing)
      ((quasiquote . _) #f)
      ((unquote e) (cons (vector %hole) (list #'e)))
      ((unquote . _) #f)
      ((unquote-splicing . _) #f)
      (((unquote-splicing e) . rest)
       (let ((r (quasi #'rest)))
         (and r (cons (cons (vector %hole 'splice) (car r))
                      (cons #'e (cdr r))))))
      ((a . b)
       (let* ((ra (quasi #'a)) (rb (and ra (quasi #'b))))
         (and rb (cons (cons (car ra) (car rb)) (append (cdr ra) (cdr rb))))))
      (#(x ...)
       (let ((r (quasi #'(x ...))))
         (and r (cons (list->vector (car r)) (cdr r)))))
      (_ (let ((d (syntax->datum t)))
           (and (not (mentions-hole? d)) (cons d '()))))))
  (let ((d (syntax->datum v)))
    (cond
     ((data-form? d) (literal d #`(quote #,v)))
     ((or (string? d) (number? d) (keyword? d) (boolean? d) (char? d))
      (literal d v))
     ((and (pair? d) (eq? (car d) 'quote) (pair? (cdr d)) (null? (cddr d)))
      (literal (cadr d) v))
     ((and (pair? d) (eq? (car d) 'quasiquote) (pair? (cdr d))
           (null? (cddr d)))
      (or (syntax-case v () ((_ t) (quasi #'t)))
          (expression)))
     (else (expression)))))

;; (define-declaration-syntax defbpf-map make-bpf-map-from-alist) defines
;; the macro defbpf-map whose expansion calls
;; (make-bpf-map-from-alist ALIST) with ALIST = ((field . value) ...),
;; through one procedure of the module it is used in (one reference in
;; each expansion, see above).
(define-syntax define-declaration-syntax
  (syntax-rules ()
    ((_ name maker)
     (begin
       (define (declare template . vals)
         (declare-from-template! maker template vals))
       (define-syntax name
         (lambda (x)
           (syntax-case x ()
             ((_ . args)
              (expand-declaration x #'args #'declare 'name)))))))))

(define (literal-name stx)
  ;; A name known at expansion: a string, a quoted symbol or a keyword.
  (let ((d (syntax->datum stx)))
    (cond ((string? d) d)
          ((and (pair? d) (eq? (car d) 'quote) (pair? (cdr d))
                (symbol? (cadr d)))
           (symbol->string (cadr d)))
          (else #f))))

(define (expand-declaration x args declare form-name)
  (define items (syntax->list* args))
  (define (fail msg)
    #`(raise-ebpf-error 'ebpf-validation-error '#,(datum->syntax x form-name)
                        #,msg
                        #:fix #,(format #f "write (~a NAME #:field VALUE ...)"
                                        form-name)))
  (if (not items)
      (fail "malformed declaration")
      (let* ((first (and (pair? items) (car items)))
             (first-d (and first (syntax->datum first)))
             (positional? (and first (symbol? first-d)
                               (not (colon-symbol? first-d))))
             (pos-name (and positional? (symbol->string first-d)))
             (rest (if positional? (cdr items) items)))
        (let loop ((rest rest) (fields '()) (name-stx #f))
          (cond
           ((null? rest)
            (let* ((fields (reverse fields))
                   (fields (if pos-name
                               (cons (cons 'name (cons pos-name '())) fields)
                               fields))
                   (name (or pos-name (and name-stx (literal-name name-stx)))))
              ;; The form is an expression usable anywhere; it binds
              ;; the variable at run time in the current module.  A
              ;; name known now is also declared in the module being
              ;; expanded, so the compiler does not warn that later
              ;; references are unbound.
              (when name
                (declare-placeholder! name))
              #`(#,declare
                 '#,(datum->syntax x (map (lambda (f) (cons (car f) (cadr f)))
                                          fields))
                 #,@(append-map cddr fields))))
           ((null? (cdr rest))
            (fail (format #f "~a: field ~s has no value" form-name
                          (syntax->datum (car rest)))))
           (else
            (let ((key (declaration-key (syntax->datum (car rest)))))
              (if (not key)
                  (fail (format #f "~a: expected a keyword such as #:kind, got ~s"
                                form-name (syntax->datum (car rest))))
                  (loop (cddr rest)
                        (cons (cons key (template-value (cadr rest))) fields)
                        (if (eq? key 'name) (cadr rest) name-stx))))))))))

(define (syntax->list* stx)
  (let ((d (syntax-case stx () ((a ...) #'(a ...)) (_ #f))))
    (and d (let lp ((s d) (acc '()))
             (syntax-case s ()
               (() (reverse acc))
               ((a . b) (lp #'b (cons #'a acc))))))))

;;; Globs and JSON.

(define (glob->regexp g)
  "A regexp matching the whole of a string against the shell glob @var{g}
(@code{*} any run of characters, @code{?} one character)."
  (make-regexp
   (string-append
    "^"
    (string-concatenate
     (map (lambda (c)
            (case c
              ((#\*) ".*")
              ((#\?) ".")
              ((#\. #\+ #\( #\) #\^ #\$ #\| #\{ #\} #\\) (string #\\ c))
              (else (string c))))
          (string->list g)))
    "$")))

(define (write-json-string s port)
  "Write the string @var{s} on @var{port} as a JSON string: quote,
backslash and control characters escaped.  The one escaper of the
manifest, the shell's @code{-f json} records and bpfman's labels."
  (write-char #\" port)
  (string-for-each
   (lambda (c)
     (case c
       ((#\") (display "\\\"" port))
       ((#\\) (display "\\\\" port))
       ((#\newline) (display "\\n" port))
       ((#\tab) (display "\\t" port))
       ((#\return) (display "\\r" port))
       (else (if (< (char->integer c) 32)
                 (format port "\\u~4,'0x" (char->integer c))
                 (write-char c port)))))
   s)
  (write-char #\" port))

(define (json-object? x)
  ;; An alist: a list of pairs keyed by strings or symbols.
  (and (pair? x) (list? x)
       (every (lambda (e) (and (pair? e) (or (string? (car e)) (symbol? (car e)))))
              x)))

(define* (write-json x port #:key indent)
  "Write @var{x} on @var{port} as JSON: @code{#t}, @code{#f} and
@code{'null} as themselves, strings and symbols as strings, exact
integers as themselves and other real numbers as decimals, vectors as
arrays, an alist (a list of pairs keyed by strings or symbols) as an
object, any other list (@code{'()} among them) as an array, anything
else as the string @code{display} gives.  With @var{indent} @code{#f}
all on one line, items separated by @samp{, } (the shell's @code{-f
json} records); with an integer, one item per line, each level indented
@var{indent} spaces more (the manifest).  The one writer of both."
  (define (line depth)
    (when indent
      (newline port)
      (display (make-string (* depth indent) #\space) port)))
  (define (items open close l write-item depth)
    (display open port)
    (unless (null? l)
      (let loop ((l l) (first? #t))
        (when (pair? l)
          (unless first? (display (if indent "," ", ") port))
          (line (+ depth 1))
          (write-item (car l) (+ depth 1))
          (loop (cdr l) #f)))
      (line depth))
    (display close port))
  (let walk ((x x) (depth 0))
    (cond
     ((eq? x #t) (display "true" port))
     ((eq? x #f) (display "false" port))
     ((eq? x 'null) (display "null" port))
     ((string? x) (write-json-string x port))
     ((symbol? x) (write-json-string (symbol->string x) port))
     ((exact-integer? x) (display x port))
     ((real? x) (display (exact->inexact x) port))
     ((vector? x) (items "[" "]" (vector->list x) walk depth))
     ((json-object? x)
      (items "{" "}" x
             (lambda (e depth)
               (walk (car e) depth)
               (display ": " port)
               (walk (cdr e) depth))
             depth))
     ((list? x) (items "[" "]" x walk depth))
     (else (write-json-string (format #f "~a" x) port)))))

;;; The environment of a user's Scheme file (a program's #:source
;;; "FILE.scm:NAME"): a fresh module using the public interface, which
;;; (ebpf) registers here as it loads.  So (ebpf deploy-build) never
;;; looks up (ebpf), which imports it, at run time.

(define user-interface #f)

(define (set-user-interface! iface)
  "Make @var{iface}, (ebpf)'s public interface, the one user files see."
  (set! user-interface iface))

(define (make-user-module who)
  "A fresh module that uses the public interface of (ebpf)."
  (unless user-interface
    (raise-ebpf-error 'ebpf-error who
                      "(ebpf) is not loaded, so a Scheme file cannot be loaded"
                      #:fix "(use-modules (ebpf)) first"))
  (let ((mod (make-fresh-user-module)))
    (module-use! mod user-interface)
    mod))
