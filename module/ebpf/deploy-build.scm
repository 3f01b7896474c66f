;;; (ebpf deploy-build) --- a declared program built and loaded.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf deploy), which re-exports the public names.  A
;;; program's source (a bpf-fn, a .bpf.c, a .bpf.o or a "file.scm:fn")
;;; is resolved, lowered for one kind and built through the clang cache;
;;; the object is loaded with the (const NAME) values its source reads.
;;; The programs of a policy are built together, as one translation unit
;;; (one clang run); a dispatched kind's stub rides in the program's own
;;; unit.

(define-module (ebpf deploy-build)
  #:declarative? #f
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf fn)
  #:use-module (ebpf build)
  #:use-module (ebpf kernel)
  #:use-module ((ebpf program) #:select (bpf-object-load))
  #:use-module (ebpf deploy-declare)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  ;; For (ebpf bpfman) and (ebpf policy), not re-exported by (ebpf deploy):
  #:export (resolve-source lowering-target combine-c build-together!)
  ;; For the other (ebpf deploy...) modules:
  #:export (fn-source? build load-object attach-type used-constants
            object-used-constants dispatched-kind? stub-source slot-name)
  #:export (bpf-program-build))

;;; ------------------------------------------------------------------
;;; The source.

(define (fn-source? p)
  ;; Is P built from a bpf-fn (which resolve-source gives)?
  (let ((src (bpf-program-source p)))
    (or (bpf-fn? src)
        (and (string? src) (string-match "^(.*\\.scm):([^:/]+)$" src) #t))))

(define (resolve-source p)
  (let ((src (bpf-program-source p)))
    (cond
     ((bpf-fn? src) src)
     ((string-match "^(.*\\.scm):([^:/]+)$" src)
      => (lambda (m)
           (let* ((file (match:substring m 1))
                  (fn-name (string->symbol (match:substring m 2)))
                  (mod (make-user-module 'bpf-load!)))
             (unless (file-exists? file)
               (raise-ebpf-error 'ebpf-error 'bpf-load!
                                 (format #f "program ~a: ~a does not exist"
                                         (bpf-program-name p) file)
                                 #:fix "check the path of #:source"))
             (save-module-excursion
              (lambda ()
                (set-current-module mod)
                (load (canonicalize-path file))))
             (let ((v (module-variable mod fn-name)))
               (unless (and v (bpf-fn? (variable-ref v)))
                 (raise-ebpf-error 'ebpf-error 'bpf-load!
                                   (format #f "program ~a: ~a defines no bpf-fn ~a"
                                           (bpf-program-name p) file fn-name)
                                   #:fix "name a (bpf-fn NAME (CTX) ...) of that file"))
               (variable-ref v)))))
     (else src))))

;;; ------------------------------------------------------------------
;;; One translation unit for several programs: a policy's programs are
;;; built by one clang run (and exported to bpfman as one object).

;; A license as a C string: it is printable ASCII (checked at
;; declaration and by the lowering), so quotes and backslashes are all
;; there is to escape.
(define (c-string s)
  (string-append
   "\""
   (string-concatenate
    (map (lambda (ch)
           (if (memv ch '(#\" #\\)) (string #\\ ch) (string ch)))
         (string->list s)))
   "\""))

(define (declaration-clash seen decls)
  ;; The first key of DECLS that SEEN, an alist of the declarations so
  ;; far, holds with another text; #f when there is none.
  (any (lambda (d)
         (let ((old (assoc (car d) seen)))
           (and old (not (string=? (cdr old) (cdr d))) (car d))))
       decls))

(define (add-new items new same?)
  ;; ITEMS (newest first) and those of NEW not already in it.
  (fold (lambda (x acc) (if (any (lambda (y) (same? x y)) acc) acc (cons x acc)))
        items new))

;; Combine several programs into one translation unit from the parts of
;; their lowerings -- no C text is read back.  LOWERED is a list of
;; (PROGRAM LOWERING RELOWER): LOWERING the result alist of
;; bpf-fn-lowering (a dispatched kind's stub riding in its
;; `definition'), RELOWER a procedure giving it again for an
;; #:instance-suffix.  The unit is HEADER (a comment), the includes and
;; the declarations once each, one license, then every program's
;; function.  A declaration is kept once per key when its text is the
;; same; two texts under one key are inline instances numbered alike in
;; programs lowered apart: the later program is lowered again with a
;; suffix of its own.  (ON-CLASH PROGRAM WHAT) is called for a program
;; whose license differs from the others' (WHAT is the symbol license)
;; or that still declares a key differently (WHAT is the key).  Returns
;; the C text.
(define (combine-c header lowered on-clash)
  (let loop ((l lowered) (i 0) (includes '()) (decls '()) (defs '())
             (license #f))
    (match l
      (()
       (string-append
        "// SPDX-License-Identifier: GPL-2.0\n"
        header
        (string-join (reverse includes) "\n") "\n\n"
        (string-join (map (lambda (d) (string-trim-right (cdr d) #\newline))
                          (reverse decls))
                     "\n\n")
        "\n\n"
        "char LICENSE[] SEC(\"license\") = " (c-string (or license "GPL"))
        ";\n\n"
        (string-join (reverse defs) "\n")))
      (((p r relower) . rest)
       (let ((lic (assq-ref r 'license))
             (clash (declaration-clash decls (assq-ref r 'declarations))))
         (when (and license (not (string=? license lic)))
           (on-clash p 'license))
         (cond
          ((and clash relower)
           ;; Lowered again, its numbered names suffixed; looked at again.
           (loop (cons (list p (relower (format #f "_p~a" i)) #f) rest)
                 i includes decls defs license))
          (clash (on-clash p clash))
          (else
           (loop rest (+ i 1)
                 (add-new includes (assq-ref r 'includes) string=?)
                 (add-new decls (assq-ref r 'declarations)
                          (lambda (a b) (string=? (car a) (car b))))
                 (add-new defs (list (assq-ref r 'definition)) string=?)
                 (or license lic)))))))))

;;; ------------------------------------------------------------------
;;; Building.

;; Programs built together: program -> (KIND C-TEXT OBJECT-PATH FUNCTION).
;; An entry serves the checks and the one load that follow the build,
;; while the program lowers to the same C for that kind; later loads
;; (and new versions, which are new records) build the program alone.
(define combined-builds (make-weak-key-hash-table))

(define* (lower-for p kind #:optional suffix)
  ;; P's bpf-fn lowered for KIND: (UNIT . LOWERING), UNIT its C with the
  ;; dispatcher of a dispatched kind riding in the same unit (see build),
  ;; LOWERING what bpf-fn-lowering returns, the dispatcher in its
  ;; `definition' too; SUFFIX its #:instance-suffix (see combine-c).
  (let* ((target (bpf-program-target p))
         (r (bpf-fn-lowering (resolve-source p) #:kind kind
                             #:target (and target
                                           (lowering-target kind target p))
                             #:constants (bpf-program-constants p)
                             #:license (bpf-program-license p)
                             #:instance-suffix suffix))
         (stub (if (dispatched-kind? kind)
                   (stub-function kind (slot-name p))
                   "")))
    (cons (string-append (assq-ref r 'c) stub)
          (acons 'definition (string-append (assq-ref r 'definition) stub)
                 r))))

(define (build-together! programs)
  ;; Build the bpf-fn programs of PROGRAMS (each for the first kind it
  ;; lists) as one translation unit: one clang run instead of one per
  ;; program.  Their loads then take their program from that object.
  ;; Best effort: a program that does not lower, a license clash or a
  ;; unit clang refuses leaves the programs to be built one by one, where
  ;; each error is reported against its own program.
  (let ((lowered
         (filter-map
          (lambda (p)
            (and (fn-source? p)
                 (not (bpf-program-loaded? p))
                 (let ((kind (car (program-kinds p))))
                   (catch #t
                     (lambda ()
                       (match (lower-for p kind)
                         ((unit . r)
                          (let ((fname (assq-ref r 'function)))
                            (and fname (list p kind fname unit r))))))
                     (const #f)))))
          programs)))
    (when (>= (length lowered) 2)
      (let ((path (catch #t
                    (lambda ()
                      (bpf-build-c
                       (combine-c "/* Generated by guile-ebpf: programs built together.  */\n"
                                  (map (match-lambda
                                         ((p kind fname unit r)
                                          (list p r
                                                (lambda (suffix)
                                                  (cdr (lower-for p kind suffix))))))
                                       lowered)
                                  (lambda (p what) (throw 'combine-clash p what)))))
                    (const #f))))
        (when path
          (for-each (match-lambda
                      ((p kind fname c r)
                       (hashq-set! combined-builds p (list kind c path fname))))
                    lowered))))))

(define (combined-build p kind c)
  ;; (OBJECT-PATH . FUNCTION) when P was built together with others for
  ;; KIND and still lowers to C; else #f.
  (match (hashq-ref combined-builds p)
    ((k c0 path fname)
     (and (eq? k kind) (string=? c c0) (file-exists? path) (cons path fname)))
    (_ #f)))

;; Build P's source for KIND: (values object-path line-map c-text
;; constants function), CONSTANTS being the symbols of the (const NAME) a
;; bpf-fn reads, or #f for a source whose constants are unknown, and
;; FUNCTION naming P's program in an object built with others (#f: the
;; object's first program is P).
(define (build p kind)
  (let ((src (resolve-source p)))
    (cond
     ((bpf-fn? src)
      ;; A dispatched kind's stub rides in the same unit: one clang run
      ;; per version, and the stub is loaded from that object.
      (match (lower-for p kind)
        ((unit . r)
         (let ((c (assq-ref r 'c))
               (used (assq-ref r 'constants)))
           (match (combined-build p kind unit)
             ((path . fname)
              ;; Line numbers are the combined unit's: no line map.
              (values path #f c used fname))
             (#f (values (bpf-build-c unit) (assq-ref r 'line-map) c used
                         #f)))))))
     ((string-suffix? ".rs" src)
      (raise-ebpf-error 'ebpf-compile-error 'bpf-load!
                        (format #f "program ~a: Rust sources (~a) are not built by guile-ebpf"
                                (bpf-program-name p) src)
                        #:fix "build it to a .bpf.o with its own tool chain and give that as #:source, or write the program as a bpf-fn"))
     ((or (string-suffix? ".o" src))
      (unless (file-exists? src)
        (raise-ebpf-error 'ebpf-error 'bpf-load!
                          (format #f "program ~a: object ~a does not exist"
                                  (bpf-program-name p) src)
                          #:fix "check the path of #:source"))
      (values src #f #f #f #f))
     (else
      (unless (file-exists? src)
        (raise-ebpf-error 'ebpf-error 'bpf-load!
                          (format #f "program ~a: source ~a does not exist"
                                  (bpf-program-name p) src)
                          #:fix "check the path of #:source"))
      (values (bpf-build-file src) #f
              (call-with-input-file src (@ (ice-9 rdelim) read-string))
              #f #f)))))

(define (lowering-target kind target p)
  ;; What the lowerer needs of the target: tracepoint name (or glob),
  ;; function for fentry/fexit, cgroup hook -- what its SEC() names.
  (cond ((attach-type p kind) => symbol->string)
        ((not (kind-ref kind 'target-in-section)) #f)
        ;; A list of tracepoints: the lowerer reads their fields from every
        ;; one, as from the matches of a glob.
        ((pair? target) (string-join target ","))
        (else target)))

(define (attach-type p kind)
  ;; A cgroup program's hook: #:direction or #:hook, else the kind's
  ;; default (both from the kernel model).
  (let ((default (kind-ref kind 'default-attach-type)))
    (and default
         (or (assq-ref (bpf-program-attach-spec p) (kind-ref kind 'attach-option))
             default))))

(define (bpf-program-build prog)
  "Build the object of @var{prog} without touching the kernel: lower its
bpf-fn (or read its C file) and compile it through the object cache.
Return @code{(KIND . OBJECT-PATH)} for the first kind of its kind list
that builds.  Raises the first kind's @code{ebpf-lower-error} or
@code{ebpf-compile-error} when none builds, and @code{ebpf-error} for a
missing source file."
  (let ((p (program-arg prog)))
    (let loop ((kinds (program-kinds p)) (first #f))
      (match kinds
        (() (apply throw first))
        ((kind . rest)
         (catch #t
           (lambda ()
             (call-with-values (lambda () (build p kind))
               (lambda (path line-map c used fname) (cons kind path))))
           (lambda (key . args)
             (if (and (pair? rest)
                      (memq key '(ebpf-lower-error ebpf-compile-error)))
                 (loop rest (or first (cons key args)))
                 (apply throw (or first (cons key args)))))))))))

;;; ------------------------------------------------------------------
;;; Loading: the object, with the constants its source reads.

(define (object-constants p)
  ;; (const NAME) is a const volatile __u64: negative values travel as
  ;; their two's complement and read back signed where the body says so.
  (map (lambda (c)
         (if (and (integer? (cdr c)) (negative? (cdr c)) (bpf-fn? (bpf-program-source p)))
             (cons (car c) (logand (cdr c) #xffffffffffffffff))
             c))
       (bpf-program-constants p)))

(define (used-constants p used)
  ;; A bpf-fn's C declares only the constants its body reads (USED, C
  ;; symbols); the others of #:constants are for other programs sharing
  ;; the list.
  (if used
      (filter (lambda (k)
                (member (string-map (lambda (ch) (if (char=? ch #\-) #\_ ch))
                                    (format #f "~a" (car k)))
                        used))
              (object-constants p))
      (object-constants p)))

;; <bpf-object> -> the constants its source reads (see BUILD), for a
;; load again with the verifier's log.
(define object-used-constants (make-weak-key-hash-table))

(define (load-object p kind)
  (call-with-values (lambda () (build p kind))
    (lambda (path line-map c used fname)
      (define (load path line-map fname)
        (bpf-object-load path #:kind kind #:name fname
                         #:constants (used-constants p used)
                         #:line-map line-map
                         #:attach-type (attach-type p kind)
                         #:target (and (kind-flag? kind 'btf)
                                       (bpf-program-target p))))
      (let ((obj (if fname
                     ;; Built with other programs: should the load fail,
                     ;; the program built alone gives the error its own
                     ;; lines.
                     (let ((obj (catch #t
                                  (lambda () (load path line-map fname))
                                  (lambda (key . args)
                                    (hashq-remove! combined-builds p)
                                    (call-with-values (lambda () (build p kind))
                                      (lambda (path line-map c used fname)
                                        (load path line-map fname)))))))
                       ;; Used once: a later load builds the program alone.
                       (hashq-remove! combined-builds p)
                       obj)
                     (load path line-map fname))))
        (hashq-set! object-used-constants obj used)
        (values obj c)))))

;;; ------------------------------------------------------------------
;;; The dispatcher's C: a stub attached once that tail-calls the
;;; current version through a one-slot prog-array.

(define (dispatched-kind? kind)
  (kind-flag? kind 'dispatched))

(define (stub-section kind)
  ;; The bare SEC() of a dispatched kind: the loader attaches the stub.
  (kind-ref kind 'section-prefix))

(define (stub-function kind slot-name)
  ;; The dispatcher, appended to a program's generated C: attached once,
  ;; it tail-calls the current version in SLOT-NAME[0].  It comes after
  ;; the program, so the program stays the object's first.
  (string-append
   "\n/* The dispatcher: attached once, it tail-calls the version in "
   slot-name "[0].  */\n"
   "struct {\n\t__uint(type, BPF_MAP_TYPE_PROG_ARRAY);\n"
   "\t__uint(max_entries, 1);\n\t__uint(key_size, sizeof(__u32));\n"
   "\t__uint(value_size, sizeof(__u32));\n} " slot-name " SEC(\".maps\");\n\n"
   "SEC(\"" (stub-section kind) "\")\nint " slot-name "__dispatch(void *ctx)\n{\n"
   "\tbpf_tail_call(ctx, &" slot-name ", 0);\n\treturn 0;\n}\n"))

(define (stub-source p kind slot-name)
  ;; The dispatcher on its own, for a program built from a C file or an
  ;; object: one more clang run.
  (string-append
   "// SPDX-License-Identifier: GPL-2.0\n"
   "/* Dispatcher of " (bpf-program-name p) ".  */\n"
   "#include <linux/bpf.h>\n#include <linux/types.h>\n"
   "#include <bpf/bpf_helpers.h>\n\n"
   "char LICENSE[] SEC(\"license\") = "
    (c-string-literal (bpf-program-license p)) ";\n"
   (stub-function kind slot-name)))

(define (c-string-literal s)
  ;; S as a C string literal: nothing in it can end the literal.
  (string-append
   "\""
   (string-concatenate
    (map (lambda (c)
           (cond ((memv c '(#\" #\\)) (string #\\ c))
                 ((or (char<? c #\space) (char>? c #\~))
                  (string-append "\\" (string-pad (number->string
                                                    (char->integer c) 8)
                                                   3 #\0)))
                 (else (string c))))
         (string->list s)))
   "\""))

(define (slot-name p)
  (string-append "gebpf_slot_"
                 (string-map (lambda (c) (if (char=? c #\-) #\_ c))
                             (bpf-program-name p))))
