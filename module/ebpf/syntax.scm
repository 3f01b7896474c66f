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

;; The run-time part of a declaration form: MAKER on the alist of KEYS
;; and VALUES, bound under its name in the current module.
(define (declare-object! maker keys . values)
  (let* ((al (map cons keys values))
         (obj (maker al)))
    (bind-declaration! (current-module) (declaration-ref al 'name #f) obj)))

;; (define-declaration-syntax defbpf-map make-bpf-map-from-alist) defines
;; the macro defbpf-map whose expansion calls
;; (make-bpf-map-from-alist ALIST) with ALIST = ((field . value) ...).
(define-syntax define-declaration-syntax
  (syntax-rules ()
    ((_ name maker)
     (define-syntax name
       (lambda (x)
         (syntax-case x ()
           ((_ . args)
            (expand-declaration x #'args #'maker 'name))))))))

(define (literal-name stx)
  ;; A name known at expansion: a string, a quoted symbol or a keyword.
  (let ((d (syntax->datum stx)))
    (cond ((string? d) d)
          ((and (pair? d) (eq? (car d) 'quote) (pair? (cdr d))
                (symbol? (cadr d)))
           (symbol->string (cadr d)))
          (else #f))))

(define (expand-declaration x args maker form-name)
  (define items (syntax->list* args))
  (define (value-expr v)
    (if (data-form? (syntax->datum v))
        #`(quote #,v)
        v))
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
        (let loop ((rest rest) (pairs '()) (name-stx #f))
          (cond
           ((null? rest)
            (let* ((pairs (reverse pairs))
                   (pairs (if pos-name
                              (cons (cons 'name pos-name) pairs)
                              pairs))
                   (name (or pos-name (and name-stx (literal-name name-stx)))))
              ;; The form is an expression usable anywhere; it binds
              ;; the variable at run time in the current module.  A
              ;; name known now is also declared in the module being
              ;; expanded, so the compiler does not warn that later
              ;; references are unbound.
              (when name
                (declare-placeholder! name))
              ;; One call with the keys as a literal: a form typed at
              ;; the REPL is compiled before it runs, and Guile compiles
              ;; this much faster than code consing up the alist.
              #`(declare-object! #,maker
                                 '#,(datum->syntax x (map car pairs))
                                 #,@(map cdr pairs))))
           ((null? (cdr rest))
            (fail (format #f "~a: field ~s has no value" form-name
                          (syntax->datum (car rest)))))
           (else
            (let ((key (declaration-key (syntax->datum (car rest)))))
              (if (not key)
                  (fail (format #f "~a: expected a keyword such as #:kind, got ~s"
                                form-name (syntax->datum (car rest))))
                  (loop (cddr rest)
                        (cons (cons key (value-expr (cadr rest))) pairs)
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
