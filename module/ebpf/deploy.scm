;;; (ebpf deploy) --- defbpf-program and the program lifecycle.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; A program declaration is data (validated at once, registered by
;;; name); bpf-load! builds its source (a bpf-fn, a .bpf.c, a .bpf.o or a
;;; "file.scm:fn") through the clang cache and loads it with the object
;;; layer of (ebpf program); bpf-attach! attaches it.  Re-evaluating the
;;; declaration of an attached program swaps the new version in after it
;;; has compiled and verified: bpf_link_update where the link allows it,
;;; otherwise through a dispatcher -- a stub attached once that tail-calls
;;; through a one-slot prog-array, so a swap is one map update.
;;;
;;; This module holds the lifecycle: declaring (the registry, a hot swap
;;; for an attached program), loading and attaching with kind fallbacks,
;;; detaching, swapping, introspection.  The parts it drives are private
;;; modules whose public names it re-exports: (ebpf deploy-declare) the
;;; record and its checks, (ebpf deploy-build) building and loading one
;;; kind, (ebpf deploy-attach) targets and the dispatcher.

(define-module (ebpf deploy)
  #:declarative? #f
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf kernel)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module ((ebpf program) #:select ((bpf-test-run . object-test-run)
                                         (bpf-attach-socket! . object-attach-socket!)))
  #:use-module (ebpf deploy-declare)
  #:use-module (ebpf deploy-build)
  #:use-module (ebpf deploy-attach)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:re-export (bpf-program?
               bpf-program-name
               bpf-program-kind
               bpf-program-source
               bpf-program-license
               bpf-program-target
               bpf-program-attach-spec
               bpf-program-constants
               bpf-program-doc
               bpf-program-lookup
               bpf-program-names
               bpf-program-fields
               bpf-program-loaded?
               bpf-program-attached?
               bpf-program-kinds
               bpf-program-uses-maps
               gpl-compatible-license?
               bpf-program-build
               tracepoints-matching)
  #:export (defbpf-program
            make-bpf-program
            bpf-load!
            bpf-attach!
            bpf-detach!
            bpf-unload!
            bpf-program-object
            bpf-program-links
            bpf-program-c
            bpf-program-digest
            bpf-program-verifier-log
            bpf-program-stats
            bpf-program-set-constants!
            bpf-program-fd
            bpf-probe-name
            bpf-probe-names
            bpf-test-run
            bpf-program-dispatcher
            bpf-program-reload!
            bpf-attach-socket!))

(define (make-bpf-program alist)
  "Make a program from the declaration @var{alist} @code{((field . value)
...)}; see @code{defbpf-program}.  Re-declaring an attached program
swaps the new version in."
  (let* ((new (declared-program alist))
         (name (bpf-program-name new))
         (old (hash-ref registry name)))
    (cond
     ((and old (bpf-program-attached? old))
      ;; Hot swap: the new version replaces the old in place.
      (swap! old new)
      (hash-set! registry name new)
      new)
     (else
      (when (and old (bpf-program-loaded? old))
        (bpf-unload! old))
      (hash-set! registry name new)
      new))))

(define-declaration-syntax defbpf-program make-bpf-program)

;;; ------------------------------------------------------------------
;;; Loading and attaching, a kind list tried in order.

(define (without-fix msg)
  (let ((i (and (string? msg) (string-contains msg ". Fix: "))))
    (if i (substring msg 0 i) (or msg ""))))

(define (first-line msg)
  (let ((i (string-index msg #\newline)))
    (if i (substring msg 0 i) msg)))

(define (try-kinds p what proc)
  ;; Run (PROC KIND) for each kind until one works; one error names all.
  (let loop ((kinds (program-kinds p)) (failures '()))
    (match kinds
      (()
       (match failures
         (((kind key . args))
          (apply throw key args))
         (_
          (raise-ebpf-error
           'ebpf-attach-error what
           (format #f "program ~a: no kind of ~a works here: ~a"
                   (bpf-program-name p) (program-kinds p)
                   (string-join
                    (map (match-lambda
                           ((kind key . args)
                            (format #f "~a: ~a" kind
                                    (first-line (without-fix (ebpf-error-message args))))))
                         (reverse failures))
                    "; "))
           #:fix "use a kind this kernel supports (bpf-features tells which)"))))
      ((kind . rest)
       (catch #t
         (lambda () (proc kind))
         (lambda (key . args)
           (if (and (pair? rest)
                    (memq key '(ebpf-attach-error ebpf-permission-error
                                ebpf-verifier-error ebpf-lower-error)))
               (loop rest (cons (cons* kind key args) failures))
               (if (null? failures)
                   (apply throw key args)
                   (loop '() (cons (cons* kind key args) failures))))))))))

(define (bpf-load! prog)
  "Build and load @var{prog} (a program or its name) into the kernel if it
is not loaded, and return it.  A kind list is tried in order.  Raises
@code{ebpf-lower-error}, @code{ebpf-compile-error},
@code{ebpf-verifier-error}, @code{ebpf-attach-error} or
@code{ebpf-permission-error}."
  (call-with-public-who 'bpf-load! (lambda () (load-now! prog))))

(define (load-now! prog)
  (let ((p (program-arg prog)))
    (unless (bpf-program-loaded? p)
      (try-kinds p 'bpf-load!
                 (lambda (kind)
                   (call-with-values (lambda () (load-object p kind))
                     (lambda (obj c)
                       (set-program-object! p obj)
                       (set-program-kind! p kind)
                       (set-program-c! p c))))))
    p))

(define (bpf-attach! prog)
  "Attach @var{prog} (loading it first if needed) to its target and return
it.  A list of targets attaches to each, a tracepoint glob to every
match; @code{(probe)} in the body gives the index of the one that fired
(@code{bpf-probe-name} names it).  Raises @code{ebpf-attach-error}
naming a missing interface, tracepoint, cgroup or binary, and the errors
of @code{bpf-load!}."
  (call-with-public-who 'bpf-attach! (lambda () (attach! prog))))

(define (attach! prog)
  (let ((p (program-arg prog)))
    (unless (bpf-program-attached? p)
      (if (bpf-program-loaded? p)
          (attach-now! p (program-kind p))
          (try-kinds p 'bpf-attach!
                     (lambda (kind)
                       (call-with-values (lambda () (load-object p kind))
                         (lambda (obj c)
                           (set-program-object! p obj)
                           (set-program-kind! p kind)
                           (set-program-c! p c)
                           (catch #t
                             (lambda () (attach-now! p kind))
                             (lambda (key . args)
                               (bpf-object-close! obj)
                               (set-program-object! p #f)
                               (set-program-kind! p #f)
                               (drop-dispatcher! p)
                               (apply throw key args)))))))))
    p))

(define (bpf-detach! prog)
  "Detach @var{prog} from its target(s); it stays loaded."
  (let ((p (program-arg prog)))
    (for-each bpf-link-destroy! (program-links p))
    (set-program-links! p '())
    (drop-dispatcher! p)
    p))

(define (bpf-unload! prog)
  "Detach and unload @var{prog}.  Maps keep their contents."
  (let ((p (program-arg prog)))
    (bpf-detach! p)
    (when (program-object p)
      (bpf-object-close! (program-object p))
      (set-program-object! p #f))
    (set-program-kind! p #f)
    p))

;;; ------------------------------------------------------------------
;;; Hot swap.

;; Kinds whose links bpf_link_update can retarget: the new program is
;; swapped in the link itself.  Others go through a dispatcher.
(define (updatable-kind? kind)
  ;; tc: the filter is replaced in place (BPF_TC_F_REPLACE).
  (kind-flag? kind 'updatable))

(define (at-repl?)
  ;; Inside a REPL (not a script): there a swap is worth a note.
  (pair? (fluid-ref *repl-stack*)))

(define (swap! old new)
  (swap-now! old new)
  (when (at-repl?)
    (format #t ";;; swapped running program ~a for its new version (maps kept)~%"
            (bpf-program-name new))))

(define (swap-now! old new)
  ;; Build and verify NEW first: a failure leaves OLD running.
  (let ((kind (program-kind old)))
    (call-with-values (lambda () (load-object new kind))
      (lambda (obj c)
        (set-program-object! new obj)
        (set-program-kind! new kind)
        (set-program-c! new c)
        (cond
         ((program-stub old)
          ;; One map update: from now on the stub tail-calls NEW.
          (bpf-map-set! (program-slot old) 0 (bpf-object-fd obj))
          (set-program-stub! new (program-stub old))
          (set-program-slot! new (program-slot old))
          (set-program-links! new (program-links old))
          (set-program-probes! new (program-probes old)))
         ((updatable-kind? kind)
          (for-each (lambda (l) (bpf-link-update! l obj)) (program-links old))
          (set-program-links! new (program-links old))
          (set-program-probes! new (program-probes old)))
         (else
          ;; No atomic path (tc filters, tp-btf links): attach the new
          ;; version, then detach the old one, so nothing runs unattached.
          (attach-now! new kind)
          (for-each bpf-link-destroy! (program-links old))))
        (set-program-links! old '())
        (set-program-stub! old #f)
        (set-program-slot! old #f)
        (bpf-object-close! (program-object old))
        (set-program-object! old #f)))))

(define* (revise! p #:key (source (bpf-program-source p))
                  (constants (bpf-program-constants p)))
  ;; Run a new version of P -- another source, or other constants -- in P
  ;; itself, so variables and the registry bound to P stay true: swapped
  ;; in if P is attached, reloaded if it is only loaded.
  (let ((new (%make-program (bpf-program-name p) (program-kinds p)
                            (bpf-program-attach-spec p) source
                            (bpf-program-license p) (program-uses-maps p)
                            (program-pin-path p) constants
                            (bpf-program-doc p))))
    (init-state! new)
    (cond
     ((bpf-program-attached? p) (swap! p new))
     ((bpf-program-loaded? p) (bpf-unload! p) (bpf-load! new))
     (else #t))
    (set-program-source! p source)
    (set-program-constants! p constants)
    (set-program-kind! p (program-kind new))
    (set-program-object! p (program-object new))
    (set-program-links! p (program-links new))
    (set-program-slot! p (program-slot new))
    (set-program-stub! p (program-stub new))
    (set-program-c! p (program-c new))
    (set-program-probes! p (program-probes new))
    p))

(define (bpf-program-set-constants! prog constants)
  "Change the @code{(const NAME)} values of @var{prog}: a loaded program
is reloaded from its cached object (no recompilation) and swapped in."
  (revise! (program-arg prog) #:constants constants))

;; Re-evaluating a bpf-fn swaps the attached programs built from a bpf-fn
;; of that name, as re-evaluating their defbpf-program would.
(add-hook! bpf-fn-redefinition-hook
           (lambda (fn)
             (hash-for-each
              (lambda (name p)
                (let ((src (bpf-program-source p)))
                  (when (and (bpf-fn? src) (not (eq? src fn))
                             (equal? (bpf-fn-name src) (bpf-fn-name fn))
                             (bpf-program-attached? p))
                    (revise! p #:source fn))))
              registry)))

(define (bpf-program-reload! prog)
  "Build and load @var{prog} again from its declaration, and swap the
new version in if it is attached (atomically, as a re-declaration does);
return the new program, which replaces @var{prog} under its name.  Used
when a map the program uses was recreated: the new version uses the new
map.  A version that fails to build or verify leaves @var{prog}
running."
  (bpf-program-set-constants! prog (bpf-program-constants (program-arg prog))))

(define (bpf-attach-socket! prog port-or-fd)
  "Attach the socket-filter program @var{prog} (a program, its name, or a
@code{<bpf-object>}) to a socket given as a port or a file descriptor,
loading it first if needed, and return the @code{<bpf-link>}."
  (if (bpf-object? prog)
      (object-attach-socket! prog port-or-fd)
      (let ((p (program-arg prog)))
        (bpf-load! p)
        (let ((link (object-attach-socket! (program-object p) port-or-fd)))
          (set-program-links! p (cons link (program-links p)))
          link))))

;;; ------------------------------------------------------------------
;;; Introspection.

(define* (bpf-test-run prog data #:key (repeat 1))
  "Run @var{prog} (a program, its name, or a @code{<bpf-object>}) on the
packet @var{data} (a bytevector from the Ethernet header on) @var{repeat}
times with BPF_PROG_TEST_RUN, loading it first if needed, and return a
@code{<bpf-run-result>} (@code{bpf-run-result-retval},
@code{bpf-run-result-verdict}, @code{bpf-run-result-data},
@code{bpf-run-result-duration-ns}).  Raises the errors of
@code{bpf-load!}, and @code{ebpf-error} for kinds the kernel cannot
test-run."
  (if (bpf-object? prog)
      (object-test-run prog data #:repeat repeat)
      (let ((p (program-arg prog)))
        (bpf-load! p)
        (object-test-run (program-object p) data #:repeat repeat))))

(define (bpf-program-object prog)
  "Return the @code{<bpf-object>} of loaded @var{prog}, or @code{#f}."
  (program-object (program-arg prog)))

(define (bpf-program-links prog)
  "Return the live links of @var{prog}."
  (filter bpf-link-live? (program-links (program-arg prog))))

(define (bpf-program-fd prog)
  "Return the program fd of loaded @var{prog}, or @code{#f}."
  (and=> (program-object (program-arg prog)) bpf-object-fd))

(define* (bpf-program-c prog #:key kind)
  "Return the C that @var{prog} is (or would be) built from."
  (let ((p (program-arg prog)))
    (or (and (not kind) (program-c p))
        (let ((src (resolve-source p))
              (kind (or kind (bpf-program-kind p))))
          (if (bpf-fn? src)
              ;; As the build lowers it (same arguments), so that a
              ;; policy's apply, which asks for both, lowers it once.
              (assq-ref (bpf-fn-lowering
                         src #:kind kind
                         #:target (and (bpf-program-target p)
                                       (lowering-target kind (bpf-program-target p) p))
                         #:constants (bpf-program-constants p)
                         #:license (bpf-program-license p))
                        'c)
              (and (string? src) (string-suffix? ".c" src) (file-exists? src)
                   (call-with-input-file src (@ (ice-9 rdelim) read-string))))))))

(define (loaded p who)
  (or (program-object p)
      (raise-ebpf-error 'ebpf-error who
                        (format #f "program ~a is not loaded" (bpf-program-name p))
                        #:fix "load it with bpf-load! or bpf-attach!")))

(define (bpf-program-digest prog)
  "Return the sha256 of the object file @var{prog} was loaded from: the
attestation of what runs."
  (bpf-object-digest (loaded (program-arg prog) 'bpf-program-digest)))

(define (bpf-program-verifier-log prog)
  "Return the verifier's log of loaded @var{prog}.  A successful load keeps
no log (logging slows loading), so the object is loaded once more with
the verifier's log on, and that log returned."
  (let* ((p (program-arg prog))
         (obj (loaded p 'bpf-program-verifier-log)))
    (or (bpf-object-verifier-log obj)
        (let ((again (bpf-object-load (bpf-object-path obj)
                                      #:kind (program-kind p)
                                      #:name (bpf-object-name obj)
                                      #:constants (used-constants
                                                   p (hashq-ref object-used-constants obj))
                                      #:attach-type (attach-type p (program-kind p))
                                      #:target (and (kind-flag? (program-kind p) 'btf)
                                                    (bpf-program-target p))
                                      #:log-level 1)))
          (let ((log (bpf-object-verifier-log again)))
            (bpf-object-close! again)
            log)))))

(define (bpf-program-stats prog)
  "Return an alist about loaded @var{prog}: @code{run-count},
@code{run-time-ns} (of the attached entry point: the program, or its
dispatcher), @code{xlated-insns}, @code{jited-bytes},
@code{verified-insns}."
  (let* ((p (program-arg prog))
         (info (bpf-object-info (loaded p 'bpf-program-stats)))
         (entry (if (program-stub p) (bpf-object-info (program-stub p)) info)))
    (list (cons 'run-count (assq-ref entry 'run-count))
          (cons 'run-time-ns (assq-ref entry 'run-time-ns))
          (cons 'xlated-insns (assq-ref info 'xlated-insns))
          (cons 'jited-bytes (assq-ref info 'jited-bytes))
          (cons 'verified-insns (assq-ref info 'verified-insns)))))

(define (bpf-probe-names prog)
  "Return the probes @var{prog} is attached to, a vector in probe index
order, spelled as @code{bpf-list-probes} spells them:
@samp{tracepoint:sched:sched_switch},
@samp{uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc}."
  (or (program-probes (program-arg prog)) #()))

(define (bpf-probe-name prog i)
  "Return the name of probe @var{i} of @var{prog}, the one that
@code{(probe)} returned @var{i} for, spelled as @code{bpf-list-probes}
spells it (@samp{tracepoint:sched:sched_switch})."
  (let ((v (bpf-probe-names prog)))
    (if (and (integer? i) (< -1 i (vector-length v)))
        (vector-ref v i)
        (raise-ebpf-error 'ebpf-validation-error 'bpf-probe-name
                          (format #f "no probe ~a: ~a" i
                                  (if (zero? (vector-length v))
                                      "the program has no probes"
                                      (format #f "it must be between 0 and ~a"
                                              (- (vector-length v) 1))))
                          #:fix (format #f "give an index 0..~a" (- (vector-length v) 1))))))

(define (bpf-program-dispatcher prog)
  "Return @code{(STUB . SLOT)} when attached @var{prog} runs behind a
dispatcher: @var{STUB} the @code{<bpf-object>} attached once, @var{SLOT}
the one-slot prog-array map it tail-calls through.  Return @code{#f}
otherwise.  Whoever pins the program must pin both: the kernel empties a
prog-array when the last process or pin holding it lets go."
  (let ((p (program-arg prog)))
    (and (program-stub p) (cons (program-stub p) (program-slot p)))))
