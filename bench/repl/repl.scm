;;; repl.scm --- the REPL-iteration benchmark's guile-ebpf side.
;;;
;;; guile --no-auto-compile -s repl.scm N
;;;
;;; In one Guile process, as a user at the REPL would: a bpf-fn counting
;;; program is attached to the tracepoint syscalls/sys_enter_getpid
;;; (through its dispatcher), then its body is edited N times.  Each
;;; edit re-evaluates the (bpf-fn ...) form with a new marker value K
;;; written into a map, then the (defbpf-program ...) form of the same
;;; name; both forms go through the REPL's own evaluator (make-repl,
;;; repl-eval: Guile's REPL compiles each form before running it).  The
;;; edit is timed until the new version has run: getpid is called and
;;; the map polled until it holds K.
;;;
;;; The first N edits use marker values never built (cold: clang runs);
;;; then the same N edits again (warm: every text is in the object
;;; cache).  Prints one line per edit:
;;;   MODE TOTAL-MS BPF-FN-MS DEFBPF-PROGRAM-MS SEEN-MS
;;; where BPF-FN-MS is the (bpf-fn ...) form (re-evaluating it already
;;; swaps the attached program built from it), DEFBPF-PROGRAM-MS the
;;; (defbpf-program ...) form (a second swap, of the same text), SEEN-MS
;;; from then until the marker was seen.
;;;
;;; Then, N times, one line per step of an edit done by hand on a text
;;; never built:  step NAME MS  -- Guile compiling each of the two forms
;;; (as the REPL does before running them), making the bpf-fn object,
;;; lowering, clang, a cache hit, load and verify.

(use-modules (ebpf) (system repl common) (system base compile))

(define edits (string->number (cadr (command-line))))
(define base (* 1000 (+ 1 (random 1000000 (random-state-from-platform)))))

(define repl (make-repl 'scheme))
(define (repl-eval-string str)
  ;; As typed at the console: read from a port with no file name, so the
  ;; generated C carries no #line and depends on the text alone.
  (repl-eval repl (read (open-input-string str))))

(define (now) (get-internal-real-time))
(define (ms t0 t1)
  (exact->inexact (/ (* 1000 (- t1 t0)) internal-time-units-per-second)))

(define (bpf-fn-form k)
  (format #f "(bpf-fn probe-body (ctx)
  (when (= (tgid) (const me))
    (map-set! marker 0 ~a)))" k))

(define program-form
  "(defbpf-program repl-probe
  #:kind 'tracepoint
  #:attach \"syscalls/sys_enter_getpid\"
  #:source probe-body
  #:constants `((me . ,(getpid))))")

(repl-eval-string
 "(defbpf-map marker #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)")
(repl-eval-string (bpf-fn-form base))
(repl-eval-string program-form)
(repl-eval-string "(bpf-attach! repl-probe)")

(define marker (repl-eval-string "marker"))
(define (wait-for k)
  (let loop ()
    (getpid)
    (unless (eqv? (bpf-map-ref marker 0) k)
      (loop))))
(wait-for base)

(define (edit! mode k)
  (let* ((t0 (now))
         (_ (repl-eval-string (bpf-fn-form k)))
         (t1 (now))
         (_ (repl-eval-string program-form))
         (t2 (now))
         (_ (wait-for k))
         (t3 (now)))
    (format #t "~a ~a ~a ~a ~a~%" mode (ms t0 t3) (ms t0 t1) (ms t1 t2)
            (ms t2 t3))))

;; Cold: texts never built.  Warm: the same texts again.
(do ((i 1 (+ i 1))) ((> i edits)) (edit! "cold" (+ base i)))
(do ((i 1 (+ i 1))) ((> i edits)) (edit! "warm" (+ base i)))

;; The steps of one edit, by hand, on a text never built, under a name
;; no attached program uses (so that nothing is swapped behind them).
(define (step name thunk)
  (let* ((t0 (now)) (v (thunk)) (t1 (now)))
    (format #t "step ~a ~a~%" name (ms t0 t1))
    v))
(define (steps-form k)
  (format #f "(bpf-fn probe-steps (ctx)
  (when (= (tgid) (const me))
    (map-set! marker 0 ~a)))" k))
(define (compile-form str)
  (compile (read (open-input-string str)) #:env (current-module)
           #:to 'bytecode))
(do ((i 1 (+ i 1))) ((> i edits))
  (let ((k (+ base edits i)))
    (step "guile-compile-bpf-fn" (lambda () (compile-form (steps-form k))))
    (step "guile-compile-defbpf-program" (lambda () (compile-form program-form)))
    (let* ((fn (step "make-bpf-fn"
                     (lambda ()
                       (primitive-eval (read (open-input-string (steps-form k)))))))
           (c-text (step "lower"
                         (lambda ()
                           (bpf-fn->c fn #:kind 'tracepoint
                                      #:target "syscalls/sys_enter_getpid"
                                      #:constants `((me . ,(getpid)))))))
           (path (step "clang" (lambda () (bpf-build-c c-text))))
           (_ (step "cache-hit" (lambda () (bpf-build-c c-text))))
           (obj (step "load-verify"
                      (lambda ()
                        (bpf-object-load path #:kind 'tracepoint
                                         #:constants `((me . ,(getpid))))))))
      (bpf-object-close! obj))))

(repl-eval-string "(bpf-unload! repl-probe)")
