;;; (ebpf types) --- defbpf-struct: C structs for BPF code, records for Scheme.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.

(define-module (ebpf types)
  #:use-module (ebpf core)
  #:use-module (ebpf error)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 format)
  #:re-export (bpf-type bpf-type-size bpf-type-align bpf-type-spec
               bpf-encode bpf-decode bpf-struct-layout)
  #:export (defbpf-struct
            bpf-struct->alist
            bpf-struct?
            make-bpf-struct-constructor))

(define (bpf-struct? obj)
  "Return true if @var{obj} is a value of a @code{defbpf-struct} type."
  (and (record? obj)
       (let ((rtd (record-type-descriptor obj)))
         (and (hashq-ref struct-rtds rtd) #t))))

;; rtd -> <bpf-type>, to tell struct records from other records.
(define struct-rtds (make-weak-key-hash-table))

(define (bpf-struct->alist v)
  "Return the fields of the struct value @var{v} as an alist
@code{((field . value) ...)} in declaration order."
  (unless (bpf-struct? v)
    (raise-ebpf-error 'ebpf-validation-error 'bpf-struct->alist
                      (format #f "~s is not a defbpf-struct value" v)
                      #:fix "give a value made by a make-NAME constructor"))
  (let ((rtd (record-type-descriptor v)))
    (map (lambda (f) (cons f ((record-accessor rtd f) v)))
         (record-type-fields rtd))))

(define (check-struct-fields name fields)
  ;; Before make-record-type, which would raise a plain error.
  (let loop ((fs fields))
    (when (pair? fs)
      (when (memq (car fs) (cdr fs))
        (raise-ebpf-error 'ebpf-validation-error 'defbpf-struct
                          (format #f "field ~a appears twice in struct ~a"
                                  (car fs) name)
                          #:fix "give each field a different name"))
      (loop (cdr fs)))))

(define (make-bpf-struct-constructor name type rtd fields)
  "Return the keyword constructor of struct @var{name}: fields left out
are zero; each given value is checked against its field's type."
  (let* ((zeros (map (lambda (f) (%bpf-type-zero (cadr f))) fields))
         (names (map car fields))
         (n (length names))
         (ctor (record-constructor rtd)))
    (lambda args
      (let ((vals (list->vector zeros)))
        (let loop ((args args))
          (cond
           ((null? args) #t)
           ((and (keyword? (car args)) (pair? (cdr args)))
            (let* ((k (keyword->symbol (car args)))
                   (i (list-index (lambda (f) (eq? f k)) names)))
              (unless i
                (raise-ebpf-error
                 'ebpf-validation-error (symbol-append 'make- name)
                 (format #f "struct ~a has no field ~a" name k)
                 #:fix (format #f "use ~{#:~a~^ ~}" names)))
              (vector-set! vals i (cadr args))
              (loop (cddr args))))
           (else
            (raise-ebpf-error
             'ebpf-validation-error (symbol-append 'make- name)
             (format #f "bad arguments ~s" args)
             #:fix (format #f "call (make-~a #:field value ...)" name)))))
        (let ((v (apply ctor (vector->list vals))))
          ;; Encoding checks every field against its type now, not later
          ;; in a map update; errors name the constructor.
          (catch 'ebpf-validation-error
            (lambda () (bpf-encode type v))
            (lambda (key subr msg args details)
              (raise-ebpf-error 'ebpf-validation-error
                                (symbol-append 'make- name)
                                (car (string-split-fix msg))
                                #:fix (cdr (string-split-fix msg))
                                #:details details)))
          v)))))

(define (string-split-fix msg)
  ;; "WHAT. Fix: HINT" -> (WHAT . HINT)
  (let ((i (string-contains msg ". Fix: ")))
    (if i
        (cons (substring msg 0 i) (substring msg (+ i 7)))
        (cons msg "check the field values"))))

(define-syntax defbpf-struct
  (lambda (x)
    (define (sym . parts)
      (datum->syntax x (string->symbol (apply string-append parts))))
    (syntax-case x ()
      ((_ name (field type) ...)
       (identifier? #'name)
       (let* ((n (symbol->string (syntax->datum #'name)))
              (fs (map (lambda (f) (symbol->string (syntax->datum f)))
                       #'(field ...))))
         (with-syntax ((ctor (sym "make-" n))
                       (pred (sym n "?"))
                       ;; Named after the struct: a generated name would
                       ;; be the same for every struct of a file, and each
                       ;; would shadow the one before.
                       (rtd (sym "%" n "-rtd"))
                       ((acc ...) (map (lambda (f) (sym n "-" f)) fs))
                       ((index ...) (iota (length fs))))
           #'(begin
               (define rtd
                 (begin
                   (check-struct-fields 'name '(field ...))
                   (make-record-type 'name '(field ...))))
               (define name
                 (let ((t (%make-bpf-struct-type 'name '((field type) ...) rtd)))
                   (hashq-set! struct-rtds rtd t)
                   t))
               (define ctor
                 (make-bpf-struct-constructor 'name name rtd
                                              '((field type) ...)))
               (define pred (record-predicate rtd))
               ;; The field at its constant index once the type is
               ;; checked, compiled where the struct is declared: a
               ;; handler reading millions of records calls these.
               ;; Anything else gets record-accessor's error.
               (define acc
                 ;; rtd's value held by the closure: no top-level
                 ;; lookup per call.
                 (let ((vtable rtd) (other (record-accessor rtd 'field)))
                   (lambda (obj)
                     (if (and (struct? obj) (eq? (struct-vtable obj) vtable))
                         (struct-ref obj index)
                         (other obj)))))
               ...
               name))))
      ((_ . rest)
       #'(raise-ebpf-error 'ebpf-validation-error 'defbpf-struct
                           (format #f "malformed struct declaration ~s"
                                   '(defbpf-struct . rest))
                           #:fix "write (defbpf-struct NAME (FIELD TYPE) ...)")))))
