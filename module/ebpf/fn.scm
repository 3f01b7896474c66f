;;; (ebpf fn) --- bpf-fn: program bodies written in Scheme.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; (bpf-fn NAME (CTX) BODY ...) records its body quasiquoted: ,EXPR is
;;; evaluated by Guile when the bpf-fn is made and its value spliced in,
;;; so Scheme computes constants and code.  Every list form of the body
;;; keeps the file, line and column Guile recorded for it (as
;;; #(MARKER FILE LINE COLUMN ITEMS)), which lowering errors and the
;;; generated C's #line directives use.  The C core (csrc/lower/) checks
;;; the shape at once and lowers the body when a program is built.

(define-module (ebpf fn)
  #:use-module (ebpf core)
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (srfi srfi-9)
  #:use-module (oop goops)
  #:re-export (bpf-fn?)
  ;; For (ebpf script), not re-exported by (ebpf):
  #:export (located-body call-with-lowering-memo)
  #:export (bpf-fn
            bpf-fn-name
            bpf-fn->c
            bpf-fn-ast
            bpf-fn-maps
            bpf-fn-lower
            bpf-fn-lowering
            define-bpf-inline
            define-bpf-macro
            bpf-inline?
            bpf-inline-name
            bpf-inline-params
            bpf-inline-body
            bpf-inline-module
            bpf-macro?
            bpf-macro-name
            bpf-macro-procedure
            bpf-fn-redefinition-hook))

(define (bpf-fn-name fn)
  "Return the name of the bpf-fn @var{fn} (a string, C spelling)."
  (vector-ref (%bpf-fn-info fn) 0))

;;; Located quasiquote, built at expansion time.
;;;
;;; A part of the body with no unquote is emitted as one quoted literal:
;;; Guile compiles a constant in a fraction of the time it takes for the
;;; nested vector/list/append calls that would build it (a form typed at
;;; the REPL is compiled before it runs).  The marker is an uninterned
;;; symbol, which a compiled constant cannot hold, so the literal carries
;;; %LOC-PLACEHOLDER instead and RELOCATE swaps the marker in at run time.

(define %loc-placeholder '%bpf-loc-placeholder)

(define (relocate x)
  ;; A copy of literal X with the location marker in its location vectors.
  (cond ((pair? x) (cons (relocate (car x)) (relocate (cdr x))))
        ((and (vector? x) (= (vector-length x) 5)
              (eq? (vector-ref x 0) %loc-placeholder))
         (vector %bpf-loc-marker (vector-ref x 1) (vector-ref x 2)
                 (vector-ref x 3) (relocate (vector-ref x 4))))
        (else x)))

(eval-when (expand load eval)
  (define (source-of stx)
    (let ((s (false-if-exception (syntax-source stx))))
      (if (pair? s)
          (list (assq-ref s 'filename)
                (+ 1 (or (assq-ref s 'line) 0))
                (or (assq-ref s 'column) 0))
          (list #f 0 0))))

  (define (static? stx)
    ;; Does STX hold no unquote or unquote-splicing?
    (syntax-case stx (unquote unquote-splicing)
      ((unquote e) #f)
      ((unquote-splicing e) #f)
      ((a . b) (and (static? #'a) (static? #'b)))
      (_ #t)))

  (define (located-datum stx)
    ;; The located form of a static STX, as data (see RELOCATE).
    (syntax-case stx ()
      ((a ...)
       (let ((src (source-of stx)))
         (vector '%bpf-loc-placeholder (car src) (cadr src) (caddr src)
                 (map located-datum #'(a ...)))))
      (_ (syntax->datum stx))))

  (define (located-body x stxs)
    ;; Code building the list of located items of STXS: runs of static
    ;; items as one literal each, spliced and unquoting items by code.
    (let loop ((stxs stxs) (run '()) (parts '()))
      (define (flush)
        (if (null? run)
            parts
            (cons #`(relocate '#,(datum->syntax
                                  x (map located-datum (reverse run))))
                  parts)))
      (cond
       ((null? stxs)
        (let ((parts (reverse (flush))))
          (cond ((null? parts) #''())
                ((null? (cdr parts)) (car parts))
                (else #`(append #,@parts)))))
       ((static? (car stxs))
        (loop (cdr stxs) (cons (car stxs) run) parts))
       (else
        (loop (cdr stxs) '()
              (cons (located-item x (car stxs)) (flush)))))))

  (define (located-item x stx)
    (syntax-case stx (unquote-splicing)
      ((unquote-splicing e) #'e)
      (_ #`(list #,(located x stx)))))

  (define (located x stx)
    (syntax-case stx (unquote unquote-splicing quasiquote)
      ((unquote e) #'e)
      ((a ...)
       (let ((src (source-of stx)))
         #`(vector %bpf-loc-marker '#,(datum->syntax x (car src))
                   #,(cadr src) #,(caddr src)
                   #,(located-body x #'(a ...)))))
      (_ #`(quote #,stx)))))

(define (define-bpf-fn-literal! v)
  ;; V: #(NAME CTX BODY FILE LINE COLUMN), BODY located data.
  (define-bpf-fn! (vector-ref v 0) (vector-ref v 1) (vector-ref v 2) #t
    (vector-ref v 3) (vector-ref v 4) (vector-ref v 5)))

(define (define-bpf-fn! name ctx body literal? file line column)
  ;; The run-time part of (bpf-fn ...), one call so that the form
  ;; compiles quickly.  BODY is relocated here when it is a literal
  ;; (never a spliced value, which may even be circular).
  (let ((fn (%make-bpf-fn name ctx (if literal? (relocate body) body)
                          (current-module) file line column)))
    (bind-declaration! (current-module) (symbol->string name) fn)
    (run-hook bpf-fn-redefinition-hook fn)
    fn))

(define-syntax bpf-fn
  (lambda (x)
    (syntax-case x ()
      ((_ name (ctx ...) body ...)
       (identifier? #'name)
       (let ((src (source-of x))
             (n (symbol->string (syntax->datum #'name)))
             (stxs #'(body ...)))
         (declare-placeholder! n)
         ;; A static body makes one call with one literal argument:
         ;; Guile's compiler (the REPL's, at each form typed) costs per
         ;; argument, so seven arguments cost more than one vector.
         (if (static? stxs)
             #`(define-bpf-fn-literal!
                '#,(datum->syntax
                    x (vector (syntax->datum #'name)
                              (syntax->datum #'(ctx ...))
                              (map located-datum stxs)
                              (car src) (cadr src) (caddr src))))
             #`(define-bpf-fn! 'name '(ctx ...) #,(located-body x stxs) #f
                 '#,(datum->syntax x (car src)) #,(cadr src) #,(caddr src)))))
      (_
       #`(raise-ebpf-error 'ebpf-lower-error 'bpf-fn
                           #,(format #f "malformed bpf-fn ~s"
                                     (syntax->datum x))
                           #:fix "write (bpf-fn NAME (CTX) BODY ...)")))))

(define* (bpf-fn-lowering fn #:key kind target (constants '())
                          (license "GPL") tracepoint-format instance-suffix
                          ast from)
  "Lower @var{fn} for a program of @var{kind} attached to @var{target}
under @var{license} and return the result as an alist: @code{c} (the C
text), @code{line-map}, @code{function} (the program's symbol in the
object), @code{maps} (@code{(NAME SYMBOL TYPE)} for each map the object
declares: the map's name, its symbol in the object, and its kernel map
type as libbpf names it), @code{constants} (the symbols of the
@code{(const NAME)} the body reads), @code{record-types}
(@code{(MAP-NAME . TYPE)} for each map @code{emit!} or @code{perf-emit!}
writes into), @code{helper-maps} (@code{(ringbuf-control RING
SYMBOL)} for each ring buffer's control map), and the same C in parts:
@code{includes} (the @code{#include} lines), @code{declarations}
(@code{(KEY . TEXT)} for each type, map, constant, inline instance and
the program's prototype, in the order of the text, KEY being what it
declares: a C identifier or @code{\"struct NAME\"}), @code{license}
(the license string) and @code{definition} (the program's function).
Several programs' parts join into one translation unit without reading
C back.  With @var{tracepoint-format}, the text of a tracepoint format
file, a tracepoint program's fields are located in it instead of in
tracefs.  @var{instance-suffix} (letters, digits and _) is appended to
the names the lowering numbers per program (inline instances, array
types), so that two programs' instances get distinct names.  With
@var{ast} and @var{from}, start at pass @var{from} on the tree
@var{ast} (see @code{bpf-fn-lower}).  Raises as @code{bpf-fn-lower}
does."
  (define (lower)
    (%bpf-fn-lower fn #:kind kind #:target target #:constants constants
                   #:license license #:tracepoint-format tracepoint-format
                   #:instance-suffix instance-suffix #:ast ast #:from from))
  (let ((memo (fluid-ref %lowering-memo)))
    (if (and memo (not ast))
        (let* ((key (list kind target constants license tracepoint-format
                          instance-suffix))
               (known (hashq-ref memo fn '()))
               (hit (assoc key known)))
          (if hit
              (cdr hit)
              (let ((r (lower)))
                (hashq-set! memo fn (acons key r known))
                r)))
        (lower))))

;; Within one operation that lowers the same programs several times (a
;; policy's apply: its digest, the unit built together, each load's
;; check), a table of the lowerings made: bpf-fn -> ((KEY . RESULT) ...).
;; Only for the extent of that operation, as a lowering reads the
;; module's bindings of its moment.
(define %lowering-memo (make-fluid #f))

;; Internal (not re-exported by (ebpf)): call THUNK; within it,
;; bpf-fn-lowering of the same bpf-fn with the same arguments returns the
;; first result again instead of lowering anew.  Nested calls share the
;; outer table.
(define (call-with-lowering-memo thunk)
  (if (fluid-ref %lowering-memo)
      (thunk)
      (with-fluids ((%lowering-memo (make-weak-key-hash-table)))
        (thunk))))

(define* (bpf-fn-lower fn #:key kind target (constants '()) (pass 'emit)
                       (license "GPL") tracepoint-format ast from)
  "Run the lowering passes on @var{fn} for a program of @var{kind}
attached to @var{target} under @var{license}, up to @var{pass}
(@code{parse}, @code{resolve}, @code{types}, @code{bounds} or
@code{emit}).  Returns the tree after that pass as an s-expression (see
@code{bpf-fn-ast}), or for @code{emit} the pair @code{(C-TEXT .
LINE-MAP)}.  With @var{ast}, a tree as a pass returned it (or as a test
built it), and @var{from}, the pass to start at (@code{resolve},
@code{types}, @code{bounds} or @code{emit}), the passes from @var{from}
to @var{pass} run on that tree instead of @var{fn}'s body; @var{fn}
still gives the name, the context and the module.  With
@var{tracepoint-format}, the text of a tracepoint format file, a
tracepoint program's fields are located in it instead of in tracefs.
Raises @code{ebpf-lower-error}, also for an ill-formed @var{ast}, or
@code{ebpf-validation-error} for a target that cannot be a section name
or a GPL-only helper under a license that is not GPL-compatible."
  (let ((r (%bpf-fn-lower fn #:kind kind #:target target
                          #:constants constants #:pass pass #:license license
                          #:tracepoint-format tracepoint-format
                          #:ast ast #:from from)))
    (if (eq? pass 'emit)
        (cons (assq-ref r 'c) (assq-ref r 'line-map))
        r)))

(define* (bpf-fn->c fn #:key (kind 'xdp) target (constants '())
                    (license "GPL") tracepoint-format ast from)
  "Return the BPF C text generated from @var{fn} for a program of
@var{kind} (default @code{xdp}) attached to @var{target}, carrying
@var{license} (default @code{\"GPL\"}).  @var{tracepoint-format},
@var{ast} and @var{from} are @code{bpf-fn-lower}'s.  Raises
@code{ebpf-lower-error} for a body the kind cannot run,
@code{ebpf-validation-error} for a bad target or a GPL-only helper under
a license that is not GPL-compatible."
  (car (bpf-fn-lower fn #:kind kind #:target target #:constants constants
                     #:license license #:tracepoint-format tracepoint-format
                     #:ast ast #:from from)))

(define* (bpf-fn-ast fn #:key (pass 'parse) (kind 'xdp) target
                     tracepoint-format ast from)
  "Return the tree of @var{fn} after @var{pass} as an s-expression: each
node is @code{(OP [VALUE-OR-NAME] KID ... (@@ (ATTR . VALUE) ...))}, with
every field the later passes read as an attribute (@code{type},
@code{slot}, @code{ref}, @code{form}, @code{line} ...), and the root
carries what the passes gathered beside the nodes (@code{locals},
@code{maps}, @code{inlines} ...).  @code{bpf-fn-lower} takes such a tree
back with @code{#:ast} and @code{#:from}; @var{ast} and @var{from} here
start from one too.  For debugging and for testing one pass at a time."
  (bpf-fn-lower fn #:kind kind #:target target #:pass pass
                #:tracepoint-format tracepoint-format #:ast ast #:from from))

(define* (bpf-fn-maps fn #:key (kind 'xdp))
  "Return the maps the body of @var{fn} names."
  (%bpf-fn-maps fn #:kind kind))

;;; Reuse: inlines and macros.

;; SRFI-9 accessors are macros in Guile; the C core needs procedures.
(define-record-type <bpf-inline>
  (make-bpf-inline name params body module)
  %bpf-inline?
  (name %bpf-inline-name)
  (params %bpf-inline-params)
  (body %bpf-inline-body)
  (module %bpf-inline-module))

(define-record-type <bpf-macro>
  (make-bpf-macro name procedure)
  %bpf-macro?
  (name %bpf-macro-name)
  (procedure %bpf-macro-procedure))

(define (bpf-inline? x) "Is @var{x} a define-bpf-inline?" (%bpf-inline? x))
(define (bpf-inline-name x) "The inline's name." (%bpf-inline-name x))
(define (bpf-inline-params x) "The inline's parameters." (%bpf-inline-params x))
(define (bpf-inline-body x) "The inline's located body." (%bpf-inline-body x))
(define (bpf-inline-module x) "Where the inline was written." (%bpf-inline-module x))
(define (bpf-macro? x) "Is @var{x} a define-bpf-macro?" (%bpf-macro? x))
(define (bpf-macro-name x) "The macro's name." (%bpf-macro-name x))
(define (bpf-macro-procedure x)
  "The procedure that expands the macro's uses."
  (%bpf-macro-procedure x))

(define-syntax define-bpf-inline
  (lambda (x)
    (syntax-case x ()
      ((_ (name param ...) body ...)
       (and (identifier? #'name) (pair? #'(body ...)))
       #`(define name
           (make-bpf-inline 'name '(param ...)
                            #,(located-body x #'(body ...))
                            (current-module))))
      (_
       #`(raise-ebpf-error 'ebpf-lower-error 'define-bpf-inline
                           #,(format #f "malformed ~s" (syntax->datum x))
                           #:fix "write (define-bpf-inline (NAME ARG ...) BODY ...)")))))

(define-syntax define-bpf-macro
  (lambda (x)
    (syntax-case x ()
      ((_ (name . args) expansion ...)
       (identifier? #'name)
       #'(define name
           (make-bpf-macro 'name (lambda args expansion ...))))
      (_
       #`(raise-ebpf-error 'ebpf-lower-error 'define-bpf-macro
                           #,(format #f "malformed ~s" (syntax->datum x))
                           #:fix "write (define-bpf-macro (NAME . ARGS) EXPANSION)")))))

(define (%bpf-macro-expand proc args)
  "Call the bpf-macro expander @var{proc} on @var{args}: @code{(#t .
EXPANSION)}, or @code{(#f . MESSAGE)} when it raised."
  (catch #t
    (lambda () (cons #t (apply proc args)))
    (lambda (key . rest)
      (cons #f (call-with-output-string
                 (lambda (port) (print-exception port #f key rest)))))))

(define bpf-fn-redefinition-hook
  ;; Run with the new bpf-fn each time a bpf-fn is made: (ebpf deploy)
  ;; swaps attached programs whose source was a bpf-fn of that name.
  (make-hook 1))

(define (print-fn fn port)
  ;; The Scheme spelling the user wrote, not the C one.
  (format port "#<bpf-fn ~a>"
          (string-map (lambda (c) (if (char=? c #\_) #\- c)) (bpf-fn-name fn))))
(define-method (write (f <bpf-fn>) port) (print-fn f port))
(define-method (display (f <bpf-fn>) port) (print-fn f port))
