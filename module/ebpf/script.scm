;;; (ebpf script) --- bpftrace-style one-liners: on clauses and @-maps.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; (on PROBE BODY ...) records a clause; bpf-script-run turns the
;;; recorded clauses into maps, bpf-fns and programs, attaches them,
;;; runs until the end (its duration, (exit), SIGINT or SIGTERM), then
;;; detaches everything and prints every @-map as bpftrace prints it.
;;;
;;; The @-maps are declared by use.  A pre-pass over each located body
;;; finds (count! @M K ...), (sum! @M K ... V), (hist! @M K ... V),
;;; (lhist! @M K ... V MIN MAX STEP) and any other mention of @M, infers
;;; the key type from the key expressions (several keys make a struct
;;; key, none a one-entry map) and rewrites the body into ordinary bpf-fn
;;; forms.  bpf-fn's lhist! takes no key and fills 65 buckets, so a
;;; keyed lhist!, or one of more than 62 steps (bpftrace allows 1000),
;;; counts (KEY ..., bucket) in a hash, bucketed as bpf/gebpf.h's
;;; gebpf_lin_bucket does.  printf goes through one ring buffer per call
;;; site, whose record holds its arguments; (exit) sets a flag that the
;;; host polls.
;;; begin, end and interval clauses run in Guile, not in the kernel.

(define-module (ebpf script)
  ;; bpf-script-run-file loads the user's file.
  #:declarative? #f
  #:use-module (ebpf)
  #:use-module ((ebpf core) #:select (%bpf-fn-info %bpf-btf-enum))
  #:use-module (ebpf script-compile)
  #:use-module ((ebpf syntax) #:select (write-json))
  #:use-module ((ebpf fn) #:select (located-body))
  #:use-module ((ebpf stacks) #:select (stack-key-frames))
  #:use-module ((ebpf print) #:select (format-key write-histogram
                                       linear-histogram hist-buckets
                                       (buckets . hist-buckets-of)
                                       hist-key-text))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 regex)
  #:use-module (rnrs bytevectors)
  #:export (on
            bpf-script-clauses
            bpf-script-reset!
            bpf-script-run
            bpf-script-json-write
            bpf-script-load-string
            bpf-script-run-file))

;;; ------------------------------------------------------------------
;;; Clauses.

(define clauses '())

(define (bpf-script-clauses)
  "Return the @code{on} clauses recorded so far, oldest first, as a list
of @code{(PROBE . LOCATED-BODY)}."
  (map (lambda (c) (cons (clause-probe c) (clause-body c))) (reverse clauses)))

(define (bpf-script-reset!)
  "Forget the @code{on} clauses recorded so far."
  (set! clauses '()))

(define (add-clause! probe body module)
  (unless (string? probe)
    (raise-ebpf-error 'ebpf-validation-error 'on
                      (if (symbol? probe)
                          (format #f "probe ~a is a symbol, not a string" probe)
                          (format #f "bad probe ~s" probe))
                      #:fix (if (symbol? probe)
                                (format #f "write the probe in double quotes: (on ~s ...)"
                                        (symbol->string probe))
                                "write the probe as a string, e.g. \"tracepoint:syscalls:sys_enter_openat\"")))
  (set! clauses (cons (make-clause probe body module) clauses)))

(define-syntax on
  (lambda (x)
    (syntax-case x ()
      ;; A probe written bare, as bpftrace writes it, would otherwise be
      ;; an unbound variable: pass its name on, to be refused by name.
      ((_ probe body ...)
       (and (identifier? #'probe)
            (let ((s (symbol->string (syntax->datum #'probe))))
              (or (string-index s #\:)
                  (member s '("begin" "end" "BEGIN" "END")))))
       #`(add-clause! 'probe
                      #,(located-body x #'(body ...))
                      (current-module)))
      ((_ probe body ...)
       #`(add-clause! probe
                      #,(located-body x #'(body ...))
                      (current-module))))))

;;; ------------------------------------------------------------------
;;; printf formatting, as C's printf.

(define conversion (make-regexp "%([-0 +#]*)([0-9]*)(\\.[0-9]+)?(hh|h|ll|l|z)?([diuxXscp%])"))

(define (to-signed v)
  (if (and (exact-integer? v) (>= v (expt 2 63))) (- v (expt 2 64)) v))

(define (c-format fmt args)
  (let loop ((start 0) (args args) (acc '()))
    (let ((m (regexp-exec conversion fmt start)))
      (if (not m)
          (string-concatenate-reverse (cons (substring fmt start) acc))
          (let* ((flags (match:substring m 1))
                 (width (string->number (or (match:substring m 2) "")))
                 (conv (string-ref (match:substring m 5) 0))
                 (pre (substring fmt start (match:start m))))
            (if (char=? conv #\%)
                (loop (match:end m) args (cons* "%" pre acc))
                (let* ((a0 (if (pair? args) (car args) 0))
                       ;; A (probe) argument is (ID . NAME): %s prints the name.
                       (a (if (pair? a0) (if (char=? conv #\s) (cdr a0) (car a0)) a0))
                       (text (case conv
                               ((#\d #\i) (number->string (to-signed a)))
                               ((#\u) (number->string a))
                               ((#\x #\p) (number->string a 16))
                               ((#\X) (string-upcase (number->string a 16)))
                               ((#\c) (string (integer->char a)))
                               (else (if (string? a) a (format #f "~a" a)))))
                       (padded (cond ((not width) text)
                                     ((string-index flags #\-)
                                      (string-pad-right text (max width (string-length text))))
                                     ((and (string-index flags #\0) (not (string? a)))
                                      (string-pad text (max width (string-length text)) #\0))
                                     (else
                                      (string-pad text (max width (string-length text)))))))
                  (loop (match:end m) (if (pair? args) (cdr args) '())
                        (cons* padded pre acc)))))))))

(define (record-args rec n)
  (if (zero? n)
      '()
      (let ((alist (bpf-struct->alist rec)))
        (map cdr (list-head alist n)))))

;;; ------------------------------------------------------------------
;;; JSON, newline-delimited as bpftrace's -f json.

(define (bpf-script-json-write x port)
  "Write @var{x} as JSON on @var{port}: alists are objects, lists arrays,
strings, numbers, booleans and @code{'null} as themselves, symbols as
strings."
  (write-json x port))

(define (json-line type data port)
  (bpf-script-json-write `(("type" . ,type) ("data" . ,data)) port)
  (newline port)
  (force-output port))

;;; ------------------------------------------------------------------
;;; Printing the @-maps at exit.


(define (probe-text k plan)
  ;; The probe that (probe) key K names: its clause's program's probe.
  (let* ((p (assv-ref (plan-programs plan) (quotient k probe-stride)))
         (n (and p (false-if-exception
                    (bpf-probe-name p (remainder k probe-stride))))))
    (cond ((not n) (number->string k))
          ((string-index n #\:)
           ;; A perf event is already "software:faults:1", as bpftrace.
           (if (or (string-prefix? "tracepoint:" n)
                   (eq? (bpf-program-kind p) 'perf-event))
               n
               (string-append (symbol->string (bpf-program-kind p)) ":" n)))
          (else n))))

(define (key-text m k plan)
  (let ((pos (at-map-probe-pos m)))
    (cond
     ((and pos (exact-integer? k)) (probe-text k plan))
     ((and pos (record? k))
      (string-join (map (lambda (x i)
                          (if (and (memv i pos) (exact-integer? x))
                              (probe-text x plan)
                              (key-text* x)))
                        (map cdr (bpf-struct->alist k))
                        (iota (length (bpf-struct->alist k))))
                   ", "))
     ((and (memq (car-or-false (at-map-keys m)) '(kstack ustack))
           (null? (cdr (at-map-keys m))))
      (stack-text (car (at-map-keys m)) k plan))
     ((and (enum-type? (car-or-false (at-map-keys m)))
           (null? (cdr (at-map-keys m))) (exact-integer? k))
      (enum-text (car (at-map-keys m)) k))
     ((string? k) k)
     ((number? k) (number->string k))
     ((record? k)
      (string-join (map (lambda (x t)
                          (cond ((memq t '(kstack ustack)) (stack-text t x plan))
                                ((and (enum-type? t) (exact-integer? x)) (enum-text t x))
                                (else (key-text* x))))
                        (map cdr (bpf-struct->alist k))
                        (append (if (list? (at-map-keys m)) (at-map-keys m) '())
                                (circular-list #f)))
                   ", "))
     (else (format #f "~a" k)))))

(define (car-or-false x) (and (pair? x) (car x)))

(define (enum-type? t) (and (pair? t) (eq? (car t) 'enum)))

(define enum-values (make-hash-table))  ; enum name -> alist, or #f

(define (enum-text t v)
  ;; (enum NAME) value V as its enumerator's name, from the kernel's
  ;; BTF; the number when the kernel has no such enum or value.
  (let* ((name (cadr t))
         (vals (or (hash-ref enum-values name)
                   (let ((a (or (false-if-exception (%bpf-btf-enum name)) '())))
                     (hash-set! enum-values name a)
                     a))))
    (or (assv-ref vals v) (number->string v))))

(define (stack-text kind k plan)
  ;; Stack key K as bpftrace prints one: a newline, a frame a line.
  ;; (kstack) ids are in the shell's own stack map; (ustack) keys are
  ;; bpf-fn's, the id with the process id above it.
  (let ((frames (or (false-if-exception
                     (if (eq? kind 'kstack)
                         (if (plan-stack-map plan)
                             (bpf-stack-symbols (plan-stack-map plan) k)
                             '())
                         (stack-key-frames '("gebpf-stacks" . user) k)))
                    '())))
    (string-append
     "\n"
     (string-concatenate
      (map (lambda (f) (string-append "        " f "\n")) frames)))))

(define (key-text* x)
  (cond ((string? x) x) ((number? x) (number->string x)) (else (format #f "~a" x))))

(define (value-of v)
  (if (vector? v) (apply + (vector->list v)) v))

(define (scalar-entries m bm)
  (sort (map (match-lambda ((k . v) (cons k (value-of v)))) (bpf-map->alist bm))
        (lambda (a b) (< (cdr a) (cdr b)))))


(define (keyed-linear m bm plan)
  ;; The (KEY ..., bucket) counts of a keyed lhist! map as
  ;; ((LABEL . COUNTS-VECTOR) ...), by increasing total as bpftrace
  ;; prints keyed histograms.
  (let* ((table (make-hash-table))
         (pos (or (at-map-probe-pos m) '()))
         (size (match (at-map-linear m)
                 ((mn mx step) (+ (quotient (- mx mn) step) 2)))))
    (for-each
     (match-lambda
       ((k . v)
        (let* ((fields (map cdr (bpf-struct->alist k)))
               (n (- (length fields) 1))
               (label (string-join
                       (map (lambda (x i)
                              (if (and (memv i pos) (exact-integer? x))
                                  (probe-text x plan)
                                  (key-text* x)))
                            (list-head fields n) (iota n))
                       ", "))
               (b (list-ref fields n))
               (counts (or (hash-ref table label)
                           (let ((c (make-vector size 0)))
                             (hash-set! table label c)
                             c))))
          (when (< b size)
            (vector-set! counts b (+ (vector-ref counts b) (value-of v)))))))
     (bpf-map->alist bm))
    (sort (hash-map->list cons table)
          (lambda (a b)
            (let ((ta (apply + (vector->list (cdr a))))
                  (tb (apply + (vector->list (cdr b)))))
              (or (< ta tb) (and (= ta tb) (string<? (car a) (car b)))))))))

(define (print-at-map m bm plan json? port)
  (let ((name (at-map-name m)))
    (case (at-map-kind m)
      ((klhist)
       (let ((linear (at-map-linear m))
             (data (keyed-linear m bm plan))
             ;; A wide lhist! with no key is counted as a keyed one
             ;; and prints as an unkeyed histogram.
             (keyless? (null? (or (at-map-keys m) '()))))
         (cond
          ((and json? keyless?)
           (json-line "hist"
                      (list (cons name
                                  (match data
                                    (() '())
                                    (((_ . counts))
                                     (buckets-json
                                      (hist-buckets-of counts linear))))))
                      port))
          (keyless?
           ;; Empty, it prints as an empty histogram map does.
           (format port "~a:~%" name)
           (match data
             (() #t)
             (((_ . counts))
              (write-histogram (linear-histogram counts linear) port)))
           (newline port))
          (json?
           (json-line "hist"
                      (list (cons name
                                  (if (null? data)
                                      'null
                                      (map (match-lambda
                                             ((label . counts)
                                              (cons label (buckets-json
                                                           (hist-buckets-of counts linear)))))
                                           data))))
                      port))
          (else
           (for-each (match-lambda
                       ((label . counts)
                        (format port "~a[~a]:~%" name label)
                        (write-histogram (linear-histogram counts linear) port)
                        (newline port)))
                     data)))))
      ((hist lhist)
       (let ((linear (at-map-linear m)))
         (if json?
             (let ((bucket-json
                    (lambda (bs)
                      (map (match-lambda
                             ((lo hi c)
                              `(,@(if lo `(("min" . ,lo)) '())
                                ,@(if hi `(("max" . ,(- hi 1))) '())
                                ("count" . ,c))))
                           bs))))
               (json-line "hist"
                          (list (cons name
                                      (if (pair? (or (at-map-keys m) (quote ())))
                                          (let ((data (bpf-hist bm #:linear linear)))
                                            (if (null? data)
                                                'null
                                                (map (match-lambda
                                                       ((k . bs) (cons (key-text m k plan) (bucket-json bs))))
                                                     data)))
                                          (bucket-json (bpf-hist bm #:linear linear)))))
                          port))
             (parameterize ((hist-key-text (lambda (k) (key-text m k plan))))
               (bpf-print-hist bm port #:name name #:linear linear)))))
      (else
       (let ((entries (scalar-entries m bm))
             (keyless? (null? (or (at-map-keys m) '()))))
         (cond
          ((and (null? entries) (not json?)) #t) ; as bpftrace: nothing
          (json?
             (json-line "map"
                        (list (cons name
                                    (if keyless?
                                        (if (pair? entries) (cdar entries) 0)
                                        (if (null? entries)
                                            'null
                                            (map (match-lambda
                                                   ((k . v) (cons (key-text m k plan) v)))
                                                 entries)))))
                        port))
          (else
               (for-each (match-lambda
                           ((k . v)
                            (if keyless?
                                (format port "~a: ~a~%" name v)
                                (format port "~a[~a]: ~a~%" name (key-text m k plan) v))))
                         entries)
               (newline port))))))
    (force-output port)))

(define (print-maps plan json? port)
  (for-each (match-lambda ((m . bm) (print-at-map m bm plan json? port)))
            (plan-maps plan)))

;;; ------------------------------------------------------------------
;;; Host clauses: begin, end, interval.

(define (at-lookup plan sym)
  (let ((e (find (lambda (e) (string=? (at-map-name (car e)) (symbol->string sym)))
                 (plan-maps plan))))
    (unless e
      (script-error (format #f "no @-map ~a" sym) "name an @-map that a probe clause fills"))
    e))

(define (run-host-body body plan json? port stop!)
  (for-each
   (lambda (form)
     (match form
       (('printf (? string? fmt) args ...)
        (let ((text (c-format fmt args)))
          (if json? (json-line "printf" text port) (display text port))
          (force-output port)))
       (('exit) (stop! 'exit))
       (('print (? at-symbol? s))
        (match (at-lookup plan s)
          ((m . bm) (print-at-map m bm plan json? port))))
       (((or 'clear 'clear!) (? at-symbol? s))
        (match (at-lookup plan s) ((m . bm) (bpf-map-clear! bm))))
       (_ (script-error (format #f "~s cannot run in a begin, end or interval clause" form)
                        "those clauses run in Guile: use printf, print, clear and exit there"))))
   body))

;;; ------------------------------------------------------------------
;;; Running.

(define (attach-with-progress programs)
  ;; Building takes about half a second per program with a cold cache:
  ;; on a terminal, say so on one line, erased once done.
  (let* ((port (current-error-port))
         (tty? (false-if-exception (isatty? port)))
         (n (length programs)))
    ;; Every program is built and loaded before any is attached, and
    ;; return probes attach before entry probes: an entry probe live
    ;; while its return probe still builds would record calls whose
    ;; return nobody sees (@start[tid] entries left in the map).
    (for-each (lambda (p i)
                (when tty?
                  (format port "\rbuilding ~a program~:p (~a/~a)..." n (+ i 1) n)
                  (force-output port))
                (bpf-load! p))
              programs (iota n))
    (for-each bpf-attach! (returns-first programs))
    (when (and tty? (> n 0))
      (display "\r\x1b[K" port)
      (force-output port))))

(define (returns-first programs)
  ;; PROGRAMS with the return probes (uretprobe, kretprobe, fexit) first,
  ;; the others after, each in its order.
  (let-values (((returns others)
                (partition (lambda (p)
                             (memq (bpf-program-kind p)
                                   '(uretprobe kretprobe fexit)))
                           programs)))
    (append returns others)))

(define* (bpf-script-run #:optional (clauses* #f)
                         #:key duration json? quiet? (port (current-output-port))
                         (on-attached #f))
  "Run the @code{on} clauses (default: those recorded so far, which are
then forgotten): declare their @@-maps, build, load and attach a program
per probe clause, run @code{begin} clauses, and wait for the end ---
@var{duration} seconds, an @code{(exit)}, SIGINT or SIGTERM.  Then detach
everything, drain the @code{printf} records, run @code{end} clauses and
print every @@-map as bpftrace prints it (unless @var{quiet?}); with
@var{json?}, as newline-delimited JSON records.  Returns the reason it
stopped: @code{duration}, @code{exit}, @code{SIGINT} or @code{SIGTERM}."
  (let* ((cs (map (lambda (c)
                    (if (clause? c) c (make-clause (car c) (cdr c) (current-module))))
                  (or clauses* (reverse clauses))))
         (_ (unless clauses* (set! clauses '())))
         (plan (compile-clauses cs))
         (stop #f)
         (stop! (lambda (why) (unless stop (set! stop why))))
         (old-int #f) (old-term #f))
    (define (drain)
      (for-each
       (match-lambda
         ((s ci rb)
          (bpf-ringbuf-poll
           rb
           (lambda (rec)
             (let ((text (c-format (site-fmt s)
                                   (map (lambda (v t)
                                          (cond ((eq? t 'probe) (cons v (probe-text v plan)))
                                                ((enum-type? t) (cons v (enum-text t v)))
                                                (else v)))
                                        (record-args rec (length (site-types s)))
                                        (site-types s)))))
               (if json? (json-line "printf" text port) (display text port))))
           #:timeout-ms 0)))
       (plan-sites plan))
      (force-output port))
    (define (host kind)
      (for-each (match-lambda
                  ((k arg body) (when (eq? k kind) (run-host-body body plan json? port stop!))))
                (plan-host plan)))
    (dynamic-wind
      (lambda ()
        (set! old-int (sigaction SIGINT (lambda (s) (stop! 'SIGINT))))
        (set! old-term (sigaction SIGTERM (lambda (s) (stop! 'SIGTERM)))))
      (lambda ()
        (attach-with-progress (map cdr (plan-programs plan)))
        ;; begin, end and interval clauses count, as bpftrace counts them.
        (let ((n (apply + (length (plan-host plan))
                        (map (lambda (p) (vector-length (bpf-probe-names (cdr p))))
                             (plan-programs plan)))))
          (if json?
              (json-line "attached_probes" `(("probes" . ,n)) port)
              (format port "Attaching ~a probe~:p...~%" n))
          (force-output port))
        (when on-attached (on-attached))
        (host 'begin)
        (let* ((second internal-time-units-per-second)
               (start (get-internal-real-time))
               (elapsed (lambda () (/ (- (get-internal-real-time) start) second)))
               (intervals (filter-map (match-lambda
                                        (('interval arg body) (list arg arg body))
                                        (_ #f))
                                      (plan-host plan))))
          (let loop ()
            (drain)
            (when (and (plan-exit-map plan)
                       (not (zero? (or (bpf-map-ref (plan-exit-map plan) 0 0) 0))))
              (stop! 'exit))
            (when (and duration (>= (elapsed) duration)) (stop! 'duration))
            (for-each (lambda (iv)
                        (when (and (not stop) (>= (elapsed) (car iv)))
                          (set-car! iv (+ (car iv) (cadr iv)))
                          (run-host-body (caddr iv) plan json? port stop!)))
                      intervals)
            (unless stop
              (usleep 20000)
              (loop))))
        ;; Entry probes first, return probes last (the reverse of
        ;; attaching): only calls in flight at that moment lose their
        ;; return.
        (for-each bpf-detach!
                  (reverse (returns-first (map cdr (plan-programs plan)))))
        (drain)
        (host 'end)
        (unless quiet?
          (unless json? (newline port))
          (print-maps plan json? port))
        stop)
      (lambda ()
        (for-each (lambda (p) (false-if-exception (bpf-unload! (cdr p))))
                  (plan-programs plan))
        (for-each (lambda (e) (false-if-exception (bpf-map-close! (cdr e))))
                  (plan-maps plan))
        (for-each (match-lambda ((s ci rb) (false-if-exception (bpf-ringbuf-close! rb))
                                 (false-if-exception (bpf-map-close! rb))))
                  (plan-sites plan))
        (when (plan-exit-map plan) (false-if-exception (bpf-map-close! (plan-exit-map plan))))
        (when (plan-stack-map plan) (false-if-exception (bpf-map-close! (plan-stack-map plan))))
        (when old-int (sigaction SIGINT (car old-int) (cdr old-int)))
        (when old-term (sigaction SIGTERM (car old-term) (cdr old-term)))))))

(define (bpf-script-load-string text)
  "Read the forms of @var{text} (a one-liner's @code{on} clauses and any
Scheme) and evaluate them in a fresh module that uses @code{(ebpf)} and
@code{(ebpf script)}; the @code{on} clauses among them are recorded for
@code{bpf-script-run}.  Returns the number of clauses recorded."
  (let ((mod (make-fresh-user-module))
        (before (length clauses)))
    (module-use! mod (resolve-interface '(ebpf)))
    (module-use! mod (resolve-interface '(ebpf script)))
    (call-with-input-string text
      (lambda (in)
        (let loop ()
          (let ((form (read in)))
            (unless (eof-object? form)
              (eval form mod)
              (loop))))))
    (- (length clauses) before)))

;;; ------------------------------------------------------------------
;;; Running a whole script file.

(define aggregation-kinds
  '(hash array per-cpu-hash per-cpu-array lru-hash lru-per-cpu-hash histogram))

(define (linear-maps program-names)
  ;; ((MAP-NAME MIN MAX STEP) ...): the maps that the bpf-fns of
  ;; PROGRAM-NAMES fill with (lhist! MAP V MIN MAX STEP), so that they
  ;; print as linear histograms.
  (define found '())
  (define (scan x)
    (match x
      (('lhist! (? symbol? m) v (? integer? mn) (? integer? mx) (? integer? step))
       (let ((name (false-if-exception (bpf-map-name (bpf-map-lookup m)))))
         (when name
           (set! found (cons (list name mn mx step) found)))))
      ((? pair?) (for-each scan x))
      (_ #t)))
  (for-each (lambda (n)
              (let ((src (false-if-exception (bpf-program-source (bpf-program-lookup n)))))
                (when (and src (bpf-fn? src))
                  (scan (strip (vector-ref (%bpf-fn-info src) 2))))))
            program-names)
  found)


(define* (print-declared-map m json? port #:optional linear)
  ;; A map the script declared, as bpftrace prints maps; arrays without
  ;; their zero entries, empty maps not at all.  LINEAR: the (MIN MAX
  ;; STEP) of the lhist! that fills it.
  (let ((name (string-append "@" (bpf-map-name m))))
    (if (eq? (bpf-map-kind m) 'histogram)
        (let ((data (bpf-hist m #:linear linear)))
          (unless (null? data)
            (if json?
                (json-line "hist"
                           (list (cons name
                                       (if (and (pair? data) (pair? (car data))
                                                (pair? (cdar data)) (list? (cdar data))
                                                (not (number? (caar data))))
                                           (map (match-lambda
                                                  ((k . bs) (cons (format-key k) (buckets-json bs))))
                                                data)
                                           (buckets-json data))))
                           port)
                (bpf-print-hist m port #:name name #:linear linear))))
        (let ((entries (filter (lambda (e) (not (and (number? (cdr e)) (zero? (cdr e)))))
                               (scalar-entries #f m))))
          (unless (null? entries)
            (if json?
                (json-line "map"
                           (list (cons name (map (lambda (e) (cons (format-key (car e)) (cdr e)))
                                                 entries)))
                           port)
                (begin
                  (for-each (lambda (e)
                              (format port "~a[~a]: ~a~%" name (format-key (car e)) (cdr e)))
                            entries)
                  (newline port))))))
    (force-output port)))

(define (buckets-json bs)
  (map (match-lambda
         ((lo hi c)
          `(,@(if lo `(("min" . ,lo)) '())
            ,@(if hi `(("max" . ,(- hi 1))) '())
            ("count" . ,c))))
       bs))

(define* (bpf-script-run-file file #:key duration json? quiet?
                              (port (current-output-port))
                              (on-policies #f))
  "Run the Scheme script @var{file} in a fresh module that uses
@code{(ebpf)} and @code{(ebpf script)}, and clean up after it.  A file
whose @code{on} clauses are left recorded is run by
@code{bpf-script-run}.  A file that declares policies is handed to
@var{on-policies} (a procedure of their names) when given.  Any other
file runs as it is; if programs it declared are still attached when it
returns, the run waits for @var{duration} seconds or SIGINT or SIGTERM.
Whichever way the run ends (also Ctrl-C or SIGTERM during the script
itself, or an error), every program the script declared is detached and
unloaded (XDP and tc included), and unless @var{quiet?} every non-empty
aggregation map it declared is printed as bpftrace prints maps (with
@var{json?}, as JSON records)."
  (unless (file-exists? file)
    (raise-ebpf-error 'ebpf-error 'guile-ebpf
                      (format #f "~a does not exist" file)
                      #:fix "check the path of the Scheme file"))
  (let* ((maps-before (bpf-map-names))
         (programs-before (bpf-program-names))
         (policies-before (bpf-policy-names))
         (clauses-before clauses)
         (mod (make-fresh-user-module))
         (stopped #f)
         (policy-run? #f)
         (left-attached? #f)
         (old-args (program-arguments))
         (old-int #f) (old-term #f) (old-alrm #f))
    (define (new names before) (filter (lambda (n) (not (member n before))) names))
    (define throw-ok? #f)               ; only the script's load is unwound
    (define (stop-handler sig)
      (unless stopped (set! stopped sig))
      (when throw-ok?
        (set! throw-ok? #f)
        (throw 'bpf-script-stop sig)))
    (define (wait-for-stop)
      (let loop () (unless stopped (usleep 50000) (loop))))
    (module-use! mod (resolve-interface '(ebpf)))
    (module-use! mod (resolve-interface '(ebpf script)))
    (dynamic-wind
      (lambda ()
        (set! old-int (sigaction SIGINT stop-handler))
        (set! old-term (sigaction SIGTERM stop-handler))
        (when duration
          (set! old-alrm (sigaction SIGALRM stop-handler))
          (alarm (max 1 (inexact->exact (ceiling duration))))))
      (lambda ()
        (catch #t
          (lambda ()
            ;; The script sees the command line guile -s would give it.
            (set-program-arguments (list file))
            (set! throw-ok? #t)
            (save-module-excursion
             (lambda ()
               (set-current-module mod)
               (load (canonicalize-path file))))
            (set! throw-ok? #f))
          (lambda (key . args)
            (set! throw-ok? #f)
            (case key
              ((bpf-script-stop) (set! stopped (car args)))
              ((interrupted) (set! stopped SIGINT))   ; the examples' own handler
              (else (apply throw key args)))))
        (let ((policies (new (bpf-policy-names) policies-before))
              (recorded (and (not (eq? clauses clauses-before)) (not stopped))))
          (cond
           ((and (pair? policies) on-policies (not stopped))
            (alarm 0)
            ;; Policies end (or stay pinned) by their own rules.
            (set! policy-run? #t)
            (on-policies policies))
           (recorded
            (alarm 0)
            (sigaction SIGINT (car old-int) (cdr old-int))
            (sigaction SIGTERM (car old-term) (cdr old-term))
            (let ((cs (list-head clauses (- (length clauses) (length clauses-before)))))
              (set! clauses clauses-before)
              (bpf-script-run (reverse cs) #:duration duration #:json? json?
                              #:quiet? quiet? #:port port)))
           (else
            (when (and (not stopped)
                       (any (lambda (n) (bpf-program-attached? (bpf-program-lookup n)))
                            (new (bpf-program-names) programs-before)))
              (set! left-attached? #t)
              (format (current-error-port) "running; Ctrl-C to detach and exit~%")
              (wait-for-stop))
            (for-each (lambda (n) (false-if-exception (bpf-unload! (bpf-program-lookup n))))
                      (new (bpf-program-names) programs-before))
            ;; At every end (the script's own, --duration, a signal) the
            ;; maps it filled are printed, as bpftrace does.
            (unless quiet?
              (let ((linear (linear-maps (new (bpf-program-names) programs-before))))
                (for-each (lambda (n)
                            (let ((m (bpf-map-lookup n)))
                              (when (and m (bpf-map-fd m)
                                         (memq (bpf-map-kind m) aggregation-kinds))
                                (false-if-exception
                                 (print-declared-map m json? port
                                                     (assoc-ref linear (bpf-map-name m)))))))
                          (new (bpf-map-names) maps-before))))
            (or stopped 'done)))))
      (lambda ()
        (alarm 0)
        (set-program-arguments old-args)
        ;; Whatever happened, nothing the script declared stays attached.
        (unless policy-run?
          (for-each (lambda (n) (false-if-exception (bpf-unload! (bpf-program-lookup n))))
                    (new (bpf-program-names) programs-before)))
        (when old-int (sigaction SIGINT (car old-int) (cdr old-int)))
        (when old-term (sigaction SIGTERM (car old-term) (cdr old-term)))
        (when old-alrm (sigaction SIGALRM (car old-alrm) (cdr old-alrm)))))))
