;;; repl.scm --- the REPL-iteration benchmark's guile-ebpf side.
;;;
;;; guile --no-auto-compile -s repl.scm N
;;;
;;; In one Guile process, as a user at the REPL would: a bpf-fn counting
;;; program is attached to the tracepoint syscalls/sys_enter_getpid
;;; (through its dispatcher), then edited N times.  Each edit is two
;;; forms, each timed on its own until the version it makes has run
;;; (getpid called and the map polled until it holds the value that
;;; version writes): the (bpf-fn ...) form with a new value K in its
;;; body, then the (defbpf-program ...) form of the same name with a new
;;; constant J (the body writes K + J).  Both forms go through the REPL's
;;; own path (make-repl, repl-eval: Guile's REPL compiles each form
;;; before running it).
;;;
;;; The first N edits use bodies never built (cold: clang runs for the
;;; bpf-fn form; a new constant never needs clang); then the same N
;;; edits again (warm: every text is in the object cache).  Prints one
;;; line per edit:
;;;   MODE TOTAL-MS BPF-FN-MS DEFBPF-PROGRAM-MS BPF-FN-GCS DEFBPF-PROGRAM-GCS
;;; where BPF-FN-MS runs from typing the (bpf-fn ...) form until its
;;; version ran (re-evaluating it swaps the attached program built from
;;; it), DEFBPF-PROGRAM-MS likewise for the (defbpf-program ...) form;
;;; the GCS fields count Guile's garbage collections inside each.
;;;
;;; Then, N times, one line per step of an edit done by hand on a text
;;; never built:  step NAME MS  -- Guile compiling each of the two forms
;;; (as the REPL does before running them), making the bpf-fn object,
;;; lowering, clang, a cache hit, load and verify.

(use-modules (ebpf) (system repl common) (system base compile))

(define edits (string->number (cadr (command-line))))
(define base (* 1000000 (+ 1 (random 1000000 (random-state-from-platform)))))

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
    (map-set! marker 0 (+ ~a (const bump)))))" k))

(define (program-form j)
  (format #f "(defbpf-program repl-probe
  #:kind 'tracepoint
  #:attach \"syscalls/sys_enter_getpid\"
  #:source probe-body
  #:constants `((me . ,(getpid)) (bump . ~a)))" j))

(repl-eval-string
 "(defbpf-map marker #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)")
(repl-eval-string (bpf-fn-form base))
(repl-eval-string (program-form 0))
(repl-eval-string "(bpf-attach! repl-probe)")

(define marker (repl-eval-string "marker"))
(define (wait-for k)
  (let loop ()
    (getpid)
    (unless (eqv? (bpf-map-ref marker 0) k)
      (loop))))
(wait-for base)

(define bump 0)
(define (gc-count) (assq-ref (gc-stats) 'gc-times))
(define (edit! mode k j)
  ;; K: the body's value (a multiple of 1000); J: the new constant, < 1000.
  (let* ((n0 (gc-count))
         (t0 (now))
         (_ (repl-eval-string (bpf-fn-form k)))
         (_ (wait-for (+ k bump)))
         (t1 (now))
         (n1 (gc-count))
         (_ (repl-eval-string (program-form j)))
         (_ (wait-for (+ k j)))
         (t2 (now)))
    (set! bump j)
    ;; And how many of Guile's garbage collections ran in each form.
    (format #t "~a ~a ~a ~a ~a ~a~%" mode (ms t0 t2) (ms t0 t1) (ms t1 t2)
            (- n1 n0) (- (gc-count) n1))))

;; Cold: bodies never built.  Warm: the same bodies again.
(do ((i 1 (+ i 1))) ((> i edits)) (edit! "cold" (+ base (* 1000 i)) i))
(do ((i 1 (+ i 1))) ((> i edits)) (edit! "warm" (+ base (* 1000 i)) (+ edits i)))

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
    (step "guile-compile-defbpf-program"
          (lambda () (compile-form (program-form 0))))
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
