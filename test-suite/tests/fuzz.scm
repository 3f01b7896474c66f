;;; Fuzzing the lowerer with hostile splices into real bodies.
;;;
;;; Each case takes a real body (the golden forms, and bodies shaped like
;;; the examples'), picks a subform along a random path and replaces it
;;; with something a careless or hostile user could splice with ,EXPR:
;;; circular data, deep nesting, strings with quotes, newlines and "*/",
;;; unicode, huge integers, floats, chars, vectors, bytevectors,
;;; procedures, C keywords as names ...  Cases run in child processes (a
;;; fork per batch); the test fails on any signal, any case running
;;; longer than its alarm, any error outside the ebpf-error family, and
;;; any body that lowers but that clang then rejects.
;;;
;;; FUZZ_CASES (default 1500) sets the number of cases and FUZZ_COMPILE
;;; (default 200) how many distinct lowered C texts go through clang;
;;; `make fuzz' runs a larger count.  FUZZ_SEED changes the cases.
(use-modules (harness) (ebpf) (ebpf fn) (ebpf build) (golden forms)
             (srfi srfi-1) (srfi srfi-64) (ice-9 match) (ice-9 rdelim)
             (rnrs bytevectors))

(harness-begin "fuzz" 'clang)

(define (env-number name default)
  (or (and=> (getenv name) string->number) default))
(define cases (env-number "FUZZ_CASES" 1500))
(define compile-max (env-number "FUZZ_COMPILE" 200))
(define base-seed (env-number "FUZZ_SEED" 20261204))
(define batch-size 250)
(define case-seconds 30)                ; alarm per case, clang included

;;; ---- the real bodies ----

(defbpf-map fz-counts #:kind 'hash #:key 'u32 #:value 'u64)
(defbpf-map fz-lat #:kind 'histogram)
(defbpf-map fz-started #:kind 'hash #:key 'u32 #:value 'u64)
(defbpf-struct fz-ev (pid u32) (comm (string 16)))
(defbpf-map fz-events #:kind 'ringbuf #:value 'fz-ev)
(define-bpf-inline (fz-stash k) (map-set! fz-started k (ktime-ns)))
(define-bpf-macro (fz-twice x) `(begin ,x ,x))

(bpf-fn fz-syscount (ctx)
  (when (or (= (tgid) 0) (< (arg ctx 'id) 400))
    (let ((key (if (= (pid) 1) (tgid) (arg ctx 'id))))
      (map-increment! fz-counts key)
      (when (map-get fz-started (tid))
        (map-increment! fz-counts key (- (ktime-ns) (map-ref fz-started (tid))))
        (map-delete! fz-started (tid))))))

(bpf-fn fz-latency (ctx)
  (let* ((t0 (map-get fz-started (tid))))
    (fz-stash (tid))
    (fz-twice (map-increment! fz-counts (cpu)))
    (when t0
      (let ((delta (/ (- (ktime-ns) (map-ref fz-started (tid))) 1000)))
        (hist! fz-lat delta)
        (lhist! fz-lat delta 0 100 10)))))

(bpf-fn fz-printk (ctx)
  (printk "pid %d comm %s" (pid) (comm))
  (cond ((= (uid) 0) (printk "root"))
        ((< (uid) 1000) (printk "system %d" (uid)))
        (else (printk "user")))
  (case (cpu)
    ((0 1) (emit! fz-events (make-fz-ev #:pid (pid) #:comm (comm))))
    (else 0))
  0)

(bpf-fn fz-packet (ctx)
  (let* ((ip (packet-ipv4 ctx))
         (tcp (packet-tcp ip)))
    (do-times (i 4) (map-increment! fz-counts i))
    (if (and tcp (tcp-syn? tcp) (= (tcp-dport tcp) 22))
        (return :xdp-drop)
        (begin
          (map-increment! fz-counts (proto ctx) (packet-length ctx))
          (return :xdp-pass)))))

(define (fn-body fn) (vector-ref ((@ (ebpf core) %bpf-fn-info) fn) 2))
(define tp '(tracepoint . "raw_syscalls/sys_exit"))
(define seeds
  ;; (NAME BODY MODULE KIND TARGET)
  (append
   (map (match-lambda
          ((name fn kind target)
           (list name (fn-body fn) (resolve-module '(golden forms))
                 kind target)))
        golden-cases)
   (map (match-lambda
          ((name fn kind target)
           (list name (fn-body fn) (current-module) kind target)))
        `(("syscount" ,fz-syscount tracepoint "raw_syscalls/sys_exit")
          ("latency" ,fz-latency tracepoint "sched/sched_wakeup")
          ("printk" ,fz-printk tracepoint "syscalls/sys_enter_getpid")
          ("packet" ,fz-packet xdp #f)))))

;;; ---- hostile values ----

(define (deep-not n)
  (let loop ((n n) (x 1)) (if (zero? n) x (loop (- n 1) `(not ,x)))))
(define very-deep (deep-not 100000))
(define hostile-strings
  (list "a\"b" "line\nbreak" "*/ int x; /*" "back\\slash" "%s%n%p%%"
        "tab\there" "nul\x00inside" "été ünïcödé → ✓ 😀"
        "#include \"/etc/passwd\"\n//" "\")\n#error X\n//"
        (make-string 300 #\x) (string-append (make-string 59 #\a) "é")
        "??=define" ""))
;; C keywords and names the generated C uses.  Mangling them is separate
;; work (§8.5); they are kept here only where they already pass.
(define c-names
  (append '(int return __u64 struct void sizeof ctx v0 LICENSE SEC bpf_printk
            é i)
          (map string->symbol '("a b" "\"" "*/" "x\ny"))))
(define heads
  '(let let* begin if when unless cond case and or not + - * / min max
    logand logior logxor lognot ash = < > <= >= map-get map-ref map-set!
    map-delete! map-increment! hist! lhist! printk emit! pid tgid comm
    ktime-ns arg return do-times set!))

(define (hostile rs)
  (define (pick l) (list-ref l (random (length l) rs)))
  (match (random 23 rs)
    (22 `(const ,(pick c-names)))
    (0 (let ((x (list '+ (list '- 1) 2))) (set-car! (cdr x) x) x))
    (1 (let ((x (list '+ 1 2 3))) (set-cdr! (cdddr x) (cdr x)) x))
    (2 (deep-not (+ 60 (random 10 rs))))
    (3 very-deep)
    (4 (pick hostile-strings))
    (5 `(printk ,(pick hostile-strings)))
    (6 `(printk ,(string-append (pick hostile-strings) " %d") (pid)))
    (7 (pick (list (expt 2 64) (- (expt 2 64) 1) (- (expt 2 63))
                   (- (- (expt 2 63)) 1) (expt 2 200) 0 -1 4294967296)))
    (8 (pick (list 1.5 +inf.0 +nan.0 1/3 1+2i #\a #\nul #(1 2) #()
                   (u8-list->bytevector '(1 2 3)) #:int '() '(a . b)
                   (lambda (x) x) (make-hash-table) *unspecified*
                   (read (open-input-string "")) fz-counts fz-syscount (current-module))))
    (9 (pick c-names))
    (10 `(quote ,(pick c-names)))
    (11 `(let ((,(pick c-names) 1)) ,(pick c-names)))
    (12 `(arg ctx (quote ,(pick c-names))))
    (13 `(arg ctx ,(pick (list 99 -1 (expt 2 70) "id"))))
    (14 `(call ,(pick (list 'bpf_nope (string->symbol "bpf_printk\"") ''x 1))))
    (15 `(map-get ,(pick (list 1 "m" 'nope '(begin fz-counts))) 1))
    (16 `(,(pick '(let if cond case do-times set! begin when)) ,@(iota (random 3 rs))))
    (17 `(do-times (i ,(pick (list 0 1 100000000 (expt 2 64) -1))) 1))
    (18 `(/ 1 ,(pick (list 0 -1 (expt 2 63)))))
    (19 `(ash 1 ,(pick (list 64 -1 63 1000))))
    (20 `(emit! fz-events (make-fz-ev #:pid ,(pick (list 1 "s" (expt 2 40)))
                                      #:comm ,(pick hostile-strings))))
    (21 `(if ,(deep-not (random 70 rs)) 1 2))))

;;; ---- mutation along a random path of the located body ----

(define marker (@ (ebpf core) %bpf-loc-marker))
(define (located? x)
  (and (vector? x) (= (vector-length x) 5) (eq? (vector-ref x 0) marker)))
(define (items x) (if (located? x) (vector-ref x 4) x))
(define (rebuild x new-items)
  (if (located? x)
      (let ((v (vector-copy x))) (vector-set! v 4 new-items) v)
      new-items))

(define (splice x rs)
  ;; Half hostile data, half edits that keep the body well formed, so
  ;; that many mutated bodies lower and reach clang.
  (define (pick l) (list-ref l (random (length l) rs)))
  (define its (items x))
  (define n (if (list? its) (length its) 0))
  (if (< (random 2 rs) 1)
      (hostile rs)
      (match (random (if (> n 1) 9 6) rs)
        ;; Edits of the form itself: another head, an argument dropped
        ;; or repeated.
        (6 (rebuild x (cons (pick heads) (cdr its))))
        (7 (let ((i (+ 1 (random (- n 1) rs))))
             (rebuild x (append (list-head its i) (list-tail its (+ i 1))))))
        (8 (let ((i (+ 1 (random (- n 1) rs))))
             (rebuild x (append (list-head its (+ i 1)) (list-tail its i)))))
        (0 (pick (list 0 1 -1 255 65535 4294967295 (- (expt 2 63)))))
        (1 `(begin ,x))
        (2 `(+ ,x 0))
        (3 `(if (= (cpu) 0) ,x ,x))
        (4 `(printk ,(pick hostile-strings)))
        (_ `(let ((,(pick '(tmp a1 value_ x-y)) 7)) ,x)))))

(define (mutate x rs)
  ;; Descend while the coin says so and there is a list to descend into.
  (let ((its (items x)))
    (if (or (not (pair? its)) (not (list? its)) (< (random 10 rs) 3))
        (splice x rs)
        (let ((i (random (length its) rs)))
          (rebuild x (append (list-head its i)
                             (list (mutate (list-ref its i) rs))
                             (list-tail its (+ i 1))))))))

(define (make-case i)
  "Case I: (NAME BODY MODULE KIND TARGET), from its own seed."
  (let* ((rs (seed->random-state (+ base-seed i)))
         (seed (list-ref seeds (random (length seeds) rs))))
    (match seed
      ((name body module kind target)
       ;; The body is a list of forms: mutate one of them.
       (let ((i (random (length body) rs)))
         (list name (append (list-head body i)
                            (list (mutate (list-ref body i) rs))
                            (list-tail body (+ i 1)))
               module kind target))))))

;;; ---- one batch in a child process ----

(define make-fn (@ (ebpf core) %make-bpf-fn))

(define (error-text key args)
  (call-with-output-string
    (lambda (port)
      (false-if-exception (print-exception port #f key args)))))

(define (run-case i compile?)
  "Lower case I (and build it with clang when COMPILE?): ok, ebpf, or a
list (bad WHAT)."
  (match (make-case i)
    ((name body module kind target)
     (catch #t
       (lambda ()
         (let* ((fn (make-fn 'fuzz '(ctx) body module "fuzz.scm" 1 0))
                (c (bpf-fn->c fn #:kind kind #:target target)))
           (if compile?
               (catch #t
                 (lambda () (bpf-build-c c) 'built)
                 (lambda (key . args)
                   (let ((t (error-text key args)))
                     (list 'bad (format #f "clang rejected a lowered body: ~a"
                                        (string-take t (min 600 (string-length t))))))))
               ;; The text's hash: only distinct texts go to clang.
               (list 'lowered (string-hash c)))))
       (lambda (key . args)
         (if (ebpf-error? key)
             'refused
             (list 'bad (format #f "non-ebpf error ~a: ~a" key
                                (let ((t (error-text key args)))
                                  (string-take t (min 400 (string-length t))))))))))))

(define (run-batch start end compile-from port)
  ;; S I before a case, R I RESULT after it: a child killed by a signal
  ;; names the case it was in.
  (do ((i start (+ i 1))) ((= i end))
    (format port "S ~a~%" i)
    (force-output port)
    (alarm case-seconds)
    (let ((r (run-case i (< i compile-from))))
      (alarm 0)
      (format port "R ~a ~s~%" i r)
      (force-output port))))

;;; ---- the parent ----

(define results (make-vector cases #f))
(define hashes (make-vector cases #f))
(define problems '())
(define (problem! i what)
  (set! problems (cons (list i (if i (car (make-case i)) "-") what) problems)))

(define (in-child batch!)
  "Run (BATCH! PORT) in a child process and record what it reports."
  (match (pipe)
    ((in . out)
     (let ((pid (primitive-fork)))
       (if (zero? pid)
           (begin
             (close-port in)
             (catch #t
               (lambda () (batch! out))
               (lambda (key . args)
                 (format out "X ~s~%" (error-text key args))))
             (force-output out)
             (primitive-_exit 0))
           (begin
             (close-port out)
             (let loop ((current #f))
               (let ((line (read-line in)))
                 (cond
                  ((eof-object? line)
                   (close-port in)
                   (let* ((status (cdr (waitpid pid)))
                          (sig (status:term-sig status)))
                     (cond (sig (problem! current
                                          (if (= sig SIGALRM)
                                              "hang (alarm)"
                                              (format #f "killed by signal ~a"
                                                      sig))))
                           ((not (eqv? 0 (status:exit-val status)))
                            (problem! current "child exited non-zero")))))
                  ((string-prefix? "S " line)
                   (loop (string->number (substring line 2))))
                  ((string-prefix? "R " line)
                   (let* ((sp (string-index line #\space 2))
                          (i (string->number (substring line 2 sp)))
                          (r (with-input-from-string
                                 (substring line (+ sp 1)) read)))
                     (match r
                       (('bad what) (problem! i what))
                       (('lowered hash)
                        (vector-set! results i 'lowered)
                        (vector-set! hashes i hash))
                       (_ (vector-set! results i r)))
                     (loop #f)))
                  (else
                   (problem! current (format #f "batch failed: ~a" line))
                   (loop current)))))))))))

;; Lowering is cheap, clang is not: a first pass lowers every case, a
;; second builds the first COMPILE-MAX distinct C texts (in case order,
;; so a run is reproducible from its seed).
(define t0 (get-internal-real-time))
(let loop ((start 0))
  (when (< start cases)
    (let ((end (min cases (+ start batch-size))))
      (in-child (lambda (port) (run-batch start end 0 port)))
      (loop end))))
(define lowered
  (filter (lambda (i) (eq? (vector-ref results i) 'lowered)) (iota cases)))
(define to-build
  (let loop ((l lowered) (seen '()) (n 0) (acc '()))
    (cond ((or (null? l) (>= n compile-max)) (reverse acc))
          ((member (vector-ref hashes (car l)) seen)
           (loop (cdr l) seen n acc))
          (else (loop (cdr l) (cons (vector-ref hashes (car l)) seen) (+ n 1)
                      (cons (car l) acc))))))
(let loop ((todo to-build))
  (unless (null? todo)
    (let ((n (min 50 (length todo))))
      (in-child (lambda (port)
                  (for-each (lambda (i) (run-batch i (+ i 1) (+ i 1) port))
                            (list-head todo n))))
      (loop (list-tail todo n)))))
(define built (count (lambda (i) (eq? (vector-ref results i) 'built)) to-build))
(define seconds (/ (- (get-internal-real-time) t0) 1.0
                   internal-time-units-per-second))

(define (tally r) (count (lambda (x) (equal? x r)) (vector->list results)))
(format #t "# fuzz: ~a cases in ~,1f s: ~a lowered (~a distinct C texts built with clang), ~a refused~%"
        cases seconds (length lowered) built (tally 'refused))
(for-each (match-lambda
            ((i seed what)
             (format #t "# case ~a (seed body ~a, FUZZ_SEED=~a): ~a~%"
                     i seed base-seed
                     (string-map (lambda (c) (if (char=? c #\newline) #\space c))
                                 what))))
          (reverse problems))

(test-equal "fuzz: no signal, hang, non-ebpf error or clang rejection" '()
            (map car problems))
(test-assert "fuzz: every case ran"
             (every (lambda (r) (memq r '(lowered built refused)))
                    (vector->list results)))
(test-assert "fuzz: both outcomes are common (the mutations are not all fatal)"
             (and (> (length lowered) (quotient cases 10))
                  (> (tally 'refused) (quotient cases 10))))
(test-equal "fuzz: the lowered bodies chosen were all built" (length to-build)
            built)

;;; ---- the nesting limit against clang ----
;; The deepest body the lowerer accepts, in the form whose C nests the
;; most parentheses per level (a comparison), builds; one level more is
;; a lowering error with a Fix: hint.
(define (nested-cmp n)
  (let loop ((n n) (x 1)) (if (zero? n) x (loop (- n 1) `(= ,x 1)))))
(define (lowers? n)
  (catch 'ebpf-lower-error
    (lambda () (bpf-fn->c (make-fn 'deepest '(ctx) (list `(if ,(nested-cmp n) 1 2))
                                   (current-module) #f 0 0)
                          #:kind 'xdp))
    (lambda _ #f)))
(define deepest (let loop ((n 1)) (if (lowers? (+ n 1)) (loop (+ n 1)) n)))
(test-assert "nesting: the limit is what the lowerer enforces" (> deepest 50))
(test-assert "nesting: the deepest accepted body builds with clang"
             (string? (bpf-build-c (lowers? deepest))))
(test-ebpf-error "nesting: one level deeper is a lowering error"
                 'ebpf-lower-error ("nested deeper than" "Fix:")
                 (bpf-fn->c (make-fn 'deeper '(ctx)
                                     (list `(if ,(nested-cmp (+ deepest 1)) 1 2))
                                     (current-module) #f 0 0)
                            #:kind 'xdp))

(harness-end)
