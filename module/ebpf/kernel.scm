;;; (ebpf kernel) --- the kernel model's kind tables, read from the C core.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Private.  Program kinds and map kinds are described once, in
;;; csrc/kernel/kinds.c; the Scheme modules read them here (fetched once, at
;;; load) instead of keeping lists of their own.

(define-module (ebpf kernel)
  #:use-module ((ebpf core) #:select (%bpf-kind-table %bpf-map-kind-table))
  #:use-module (srfi srfi-1)
  #:export (kind-table kind-names kind-ref kind-flag? kinds-where
            stand-in-problem map-kind-names))

(define kind-table
  ;; ((name . KIND) (prog-type . T) ... (bpfman-type . "XDP")) per kind.
  (%bpf-kind-table))

(define (kind-names)
  "Return every program kind, in the kernel model's order."
  (map (lambda (k) (assq-ref k 'name)) kind-table))

(define (kind-ref kind key)
  "Return field @var{key} of program kind @var{kind} in the kernel
model, or @code{#f} when @var{kind} is not a kind."
  (let ((row (find (lambda (k) (eq? (assq-ref k 'name) kind)) kind-table)))
    (and row (assq-ref row key))))

(define (kind-flag? kind flag)
  "Whether program kind @var{kind} has @var{flag} (@code{packet},
@code{updatable}, @code{dispatched}, @code{btf} ...) in the kernel model."
  (and (memq flag (or (kind-ref kind 'flags) '())) #t))

(define (kinds-where pred)
  "Return the kinds whose row satisfies @var{pred}, in table order."
  (filter-map (lambda (k) (and (pred k) (assq-ref k 'name))) kind-table))

(define (stand-in-problem first kind)
  "Why program kind @var{kind} cannot follow @var{first} in a list of
kinds (@code{#:kind '(fentry kprobe)}), as a message with its fix hint
@code{(MESSAGE . FIX)}; @code{#f} when it can.  A stand-in is of the
first kind's context class (its body sees a packet, a socket or a
traced event): one body is lowered for each kind of the list."
  (let ((want (kind-ref first 'context-class))
        (have (kind-ref kind 'context-class))
        (table (kind-ref first 'fallbacks)))
    (and want have (not (eq? want have))
         (cons (format #f "~a cannot stand in for ~a: its context is ~a, \
not ~a" kind first (class-text have) (class-text want))
               (if (pair? table)
                   (format #f "declare #:kind '~a (the kernel model's \
stand-ins for ~a)" (cons first table) first)
                   (format #f "list only kinds whose context is ~a after ~a"
                           (class-text want) first))))))

(define (class-text class)
  (case class
    ((packet) "a packet")
    ((socket) "a socket")
    (else "a traced event")))

(define map-kind-names
  (map (lambda (k) (assq-ref k 'name)) (%bpf-map-kind-table)))
