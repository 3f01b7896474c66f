;;; (ebpf script-compile) --- on clauses to maps, bpf-fns and programs.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; The compiling half of (ebpf script), which runs and prints: the
;;; pre-pass over each clause's located body that finds the @-maps and
;;; printf sites and rewrites the body into ordinary bpf-fn forms, the
;;; probe specs, and compile-clauses, which declares what the clauses need
;;; and returns a plan.  Nothing here attaches, runs or prints.

(define-module (ebpf script-compile)
  #:use-module (ebpf)
  #:use-module ((ebpf core) #:select (%bpf-loc-marker %make-bpf-fn
                                      %bpf-tracepoint-format))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:export (strip at-symbol? script-error probe-stride compile-clauses make-clause
            clause? clause-probe clause-body at-map-probe-pos
            at-map-name at-map-kind at-map-keys at-map-linear site-fmt
            site-types plan-maps plan-programs plan-sites plan-host
            plan-exit-map plan-stack-map))

;;; ------------------------------------------------------------------
;;; Clauses.

(define-record-type <clause>
  (make-clause probe body module)
  clause?
  (probe clause-probe)
  (body clause-body)
  (module clause-module))

;;; ------------------------------------------------------------------
;;; Located bodies: #(MARKER FILE LINE COLUMN ITEMS) for list forms.

(define marker %bpf-loc-marker)

(define (located? x)
  (and (vector? x) (= (vector-length x) 5) (eq? (vector-ref x 0) marker)))

(define (items x) (if (located? x) (vector-ref x 4) x))

(define (relocate like items)
  ;; ITEMS as a list form carrying LIKE's location.
  (if (located? like)
      (vector marker (vector-ref like 1) (vector-ref like 2) (vector-ref like 3)
              items)
      items))

(define (form-head x)
  (let ((i (items x)))
    (and (pair? i) (symbol? (car i)) (car i))))

(define (strip x)
  ;; The plain s-expression, for messages and inference.
  (cond ((located? x) (map strip (vector-ref x 4)))
        ((pair? x) (map strip x))
        (else x)))

(define (at-symbol? x)
  (and (symbol? x) (string-prefix? "@" (symbol->string x))))

(define (script-error what fix . irritants)
  (raise-ebpf-error 'ebpf-validation-error 'on what #:fix fix))

;;; ------------------------------------------------------------------
;;; @-maps.

(define-record-type <at-map>
  (make-at-map name kind keys linear probe-pos)
  at-map?
  (probe-pos at-map-probe-pos set-at-map-probe-pos!) ; positions of (probe) keys
  (name at-map-name)                    ; "@x" or "@"
  (kind at-map-kind set-at-map-kind!)   ; count sum hist lhist klhist set
  (keys at-map-keys set-at-map-keys!)   ; list of key types, or #f if unknown
  (linear at-map-linear set-at-map-linear!)) ; (MIN MAX STEP) for lhist

(define (c-name at)
  ;; "@" -> at, "@bytes" -> at-bytes: the declared map's name.
  (if (string=? at "@")
      "at"
      (string-append "at-" (substring at 1))))

(define clause-spec
  ;; The probe of the clause being rewritten: (tracepoint . "G:N") ...
  (make-parameter #f))
(define clause-env
  ;; ... and the module its free identifiers are looked up in.
  (make-parameter #f))

(define (lowered-key-type e)
  ;; The string or byte-string type the lowering gives expression E in
  ;; the clause's program ((core-read (arg ctx 2) 'comm) of a raw
  ;; tracepoint is a (string 16)), i64 for a signed integer (openat's
  ;; int dfd prints -100, as bpftrace prints it), else #f.  E alone,
  ;; outside its clause: an expression naming the clause's locals or
  ;; @-maps gets #f.
  (match (clause-spec)
    (((? symbol? kind) . target)
     (and (clause-env)
          (false-if-exception
           (let* ((fn (%make-bpf-fn 'at-key-type '(ctx) (list e) (clause-env)
                                    #f 0 0))
                  (tree (bpf-fn-ast fn #:pass 'types #:kind kind
                                    #:target (cond ((string? target) target)
                                                   ((and (pair? target)
                                                         (every string? target))
                                                    (string-join target ","))
                                                   (else #f))))
                  (attrs (cdr (last tree)))
                  (vt (assq-ref attrs 'value-type))
                  (spec (and vt (bpf-type-spec vt))))
             (match spec
               (((or 'string 'bytes) (? integer?)) spec)
               (_ (and (eq? (assq-ref attrs 'type) 'int)
                       (assq-ref attrs 'signed)
                       'i64)))))))
    (_ #f)))

(define (tracepoint-field-type field)
  ;; The type bpf-fn gives (arg ctx 'FIELD) of the clause's tracepoint
  ;; when it is a string or a byte array (sched_process_fork's
  ;; parent_comm, sched_switch's prev_comm), else #f: an integer.
  (match (clause-spec)
    (('tracepoint . (or (? string? target) ((? string? target) . _)))
     ;; A list's tracepoints give the field one type (bounds.c).
     (let ((sep (string-index target #\:)))
       (and sep (not (string-index target (char-set #\* #\? #\[ #\,)))
            (let* ((fields (or (%bpf-tracepoint-format
                                (substring target 0 sep)
                                (substring target (+ sep 1)))
                               '()))
                   (f (find (lambda (f) (equal? (assq-ref f 'name)
                                                (symbol->string field)))
                            fields))
                   (type (and f (assq-ref f 'type)))
                   (size (and f (assq-ref f 'size))))
              (cond ((not type) #f)
                    ;; An enum prints as its enumerator's name, as
                    ;; bpftrace prints kfree_skb's reason.
                    ((and (string-prefix? "enum " type)
                          (not (string-suffix? "]" type)))
                     `(enum ,(string-trim-both (substring type 5))))
                    ((string-contains type "__data_loc")
                     (and (string-contains type "char") '(string 256)))
                    ((not (string-suffix? "]" type)) #f)
                    ((string-prefix? "char" type) `(string ,size))
                    ((> size 8) `(bytes ,size))
                    (else #f))))))
    (_ #f)))

(define stack-values
  ;; While clauses are compiled: @-map symbol -> kstack or ustack, for
  ;; the @-maps whose values are stacks (@stack[tid] = kstack), so that
  ;; a value read back keys a map as the stack itself does.
  (make-parameter #f))

(define (key-type e)
  ;; The type of key expression E.
  (match (strip e)
    (((or 'map-ref 'map-get) (? at-symbol? m) _)
     (=> next)
     (or (and (stack-values) (hash-ref (stack-values) m)) (next)))
    (('comm) '(string 16))
    (('arg _ ('quote (? symbol? field)))
     (or (tracepoint-field-type field) (lowered-key-type e) 'u64))
    (((or 'read-user-str 'read-kernel-str) _ (? integer? n)) `(string ,n))
    (((or 'pid 'tgid 'tid 'uid 'gid 'cpu 'probe)) 'u32)
    (('kstack) 'kstack)
    (('ustack) 'ustack)
    ;; bpftrace's ntop(addr): a 16-byte address is IPv6, others IPv4.
    (('ntop a) (match (key-type a) (((or 'bytes 'string) 16) 'ipv6) (_ 'ipv4)))
    (('ntop af a) (ntop-family af a))
    (((? symbol?) . _)
     (or (lowered-key-type e) 'u64))
    (_ 'u64)))

(define (ntop-family af a)
  ;; bpftrace's ntop(AF, ADDR).  An @-map key or printf argument has one
  ;; type for the whole clause, so AF must be a constant: 2 (AF_INET) or
  ;; 10 (AF_INET6); a run-time family is refused with the spelling that
  ;; does the same per branch.
  (let ((wide? (match (key-type a) (((or 'bytes 'string) 16) #t) (_ #f))))
    (match (strip af)
      (2 (when wide?
           (script-error (format #f "(ntop 2 ~s): AF_INET needs a 4-byte address, this one has 16" (strip a))
                         "give (ntop 2 ...) an IPv4 field such as (arg ctx 'daddr), or use (ntop 10 ...)"))
         'ipv4)
      (10 (unless wide?
            (script-error (format #f "(ntop 10 ~s): AF_INET6 needs a 16-byte address" (strip a))
                          "give (ntop 10 ...) a 16-byte field such as (arg ctx 'daddr_v6), or use (ntop 2 ...)"))
          'ipv6)
      (x (script-error (format #f "(ntop ~s ~s): the address family must be the constant 2 (AF_INET) or 10 (AF_INET6)"
                               x (strip a))
                       "branch on the family: (if (= (arg ctx 'family) 2) (count! @v4 (ntop 2 (arg ctx 'daddr))) (count! @v6 (ntop 10 (arg ctx 'daddr_v6))))")))))

(define lhist-max-steps 1000)

(define (note-map! maps sym kind keys . linear)
  ;; Record a use of @-map SYM; the kinds of its uses must agree.
  (let* ((name (symbol->string sym))
         (m (or (hash-ref maps name)
                (let ((m (make-at-map name #f #f #f #f)))
                  (hash-set! maps name m)
                  m))))
    (when kind
      (cond ((not (at-map-kind m)) (set-at-map-kind! m kind))
            ((eq? (at-map-kind m) 'set)
             (set-at-map-kind! m kind))
            ((and (memq kind '(count sum)) (memq (at-map-kind m) '(count sum))) #t)
            ((eq? kind 'set) #t)
            ((not (eq? kind (at-map-kind m)))
             (script-error (format #f "~a is used both as ~a and as ~a"
                                   name (at-map-kind m) kind)
                           "use one aggregation per @-map")))
      (when (pair? linear)
        (set-at-map-linear! m (car linear))))
    (when keys
      (let ((ts (map key-type keys)))
        (cond ((not (at-map-keys m)) (set-at-map-keys! m ts))
              ((not (= (length ts) (length (at-map-keys m))))
               (script-error (format #f "~a is used with ~a keys and with ~a"
                                     name (length (at-map-keys m)) (length ts))
                             "give every use of an @-map the same keys")))))
    m))

;;; ------------------------------------------------------------------
;;; The pre-pass: find the @-maps and printf sites, rewrite the body.

(define-record-type <site>
  (make-site id fmt types)
  site?
  (id site-id)
  (fmt site-fmt)
  (types site-types))

(define (split-keys args n-tail)
  ;; ARGS = KEY ... followed by N-TAIL other arguments.
  (let ((n (- (length args) n-tail)))
    (when (< n 0)
      (script-error (format #f "too few arguments in ~s" (map strip args))
                    "see the forms of (ebpf script) in the manual"))
    (values (list-head args n) (list-tail args n))))

(define (rewrite body ci maps sites uses)
  ;; Rewrite the located BODY of clause CI.  MAPS: name -> <at-map>;
  ;; SITES: a box of printf sites; USES: a box of flags ((exit) (kstack)).
  (define (map-ref-of sym) (string->symbol (c-name (symbol->string sym))))
  (define* (key-expr like m keys #:optional (extra '()))
    (define (probe-key? k) (equal? (strip k) '(probe)))
    (when (any probe-key? keys)
      (set-at-map-probe-pos! m (filter-map (lambda (k i) (and (probe-key? k) i))
                                           keys (iota (length keys)))))
    (match keys
      ((? (lambda (ks) (pair? extra))) (struct-key like m keys extra))
      (() 0)
      ((k) (key k))
      (ks (struct-key like m ks '()))))
  (define (struct-key like m ks extra)
    (relocate like
              (cons (string->symbol (string-append "make-" (struct-name m)))
                    (append (append-map (lambda (i k)
                                          (list (symbol->keyword
                                                 (string->symbol (format #f "k~a" i)))
                                                (key k)))
                                        (iota (length ks)) ks)
                            extra))))
  (define (key k)
    ;; (probe) is an index into its own clause's probes: offset it by
    ;; the clause, so that clauses filling one map stay apart.
    (if (equal? (strip k) '(probe))
        (relocate k `(+ ,(walk k) ,(* ci probe-stride)))
        (walk k)))
  (define (walk x)
    (cond
     ((at-symbol? x)
      (note-map! maps x 'set #f)
      (map-ref-of x))
     ((and (located? x) (pair? (items x)))
      (let ((i (items x)))
        (match i
          (('count! (? at-symbol? m) keys ...)
           (let ((am (note-map! maps m 'count keys)))
             (relocate x `(map-increment! ,(map-ref-of m) ,(key-expr x am keys)))))
          (('sum! (? at-symbol? m) args ...)
           (let*-values (((keys tail) (split-keys args 1))
                         ((am) (note-map! maps m 'sum keys)))
             (relocate x `(map-increment! ,(map-ref-of m) ,(key-expr x am keys)
                                          ,(walk (car tail))))))
          (('hist! (? at-symbol? m) args ...)
           (let*-values (((keys tail) (split-keys args 1))
                         ((am) (note-map! maps m 'hist keys)))
             (relocate x (if (null? keys)
                             `(hist! ,(map-ref-of m) ,(walk (car tail)))
                             `(hist! ,(map-ref-of m) ,(key-expr x am keys)
                                     ,(walk (car tail)))))))
          (('lhist! (? at-symbol? m) args ...)
           (let*-values (((keys tail) (split-keys args 4)))
             (match tail
               ((v (? integer? mn) (? integer? mx) (? integer? step))
                ;; bpftrace's bound: at most 1000 steps between MIN and MAX.
                (unless (and (>= mn 0) (> mx mn) (> step 0)
                             (<= (quotient (- mx mn) step) lhist-max-steps))
                  (script-error (format #f "bad lhist! range ~s" (strip x))
                                (format #f "give MAX > MIN >= 0, STEP > 0 and at most ~a steps"
                                        lhist-max-steps)))
                ;; bpf-fn's lhist! fills a histogram map of 65 buckets;
                ;; a wider range is counted by bucket in a hash, as a
                ;; keyed one is (printed only where it is not empty).
                (if (and (null? keys)
                         (<= (+ (quotient (- mx mn) step) 2) 64))
                    (begin
                      (note-map! maps m 'lhist '() (list mn mx step))
                      (relocate x `(lhist! ,(map-ref-of m) ,(walk v) ,mn ,mx ,step)))
                    ;; bpf-fn's lhist! takes no key: count (KEY ..., bucket)
                    ;; in a hash, bucketed as gebpf_lin_bucket does.
                    (let ((am (note-map! maps m 'klhist keys (list mn mx step)))
                          (last (+ (quotient (- mx mn) step) 1)))
                      (relocate
                       x
                       `(let ((at-lhist-value ,(walk v)))
                          (map-increment!
                           ,(map-ref-of m)
                           ,(key-expr x am keys
                                      `(#:b (if (< at-lhist-value ,mn)
                                                0
                                                (if (>= at-lhist-value ,mx)
                                                    ,last
                                                    (+ (/ (- at-lhist-value ,mn) ,step) 1)))))))))))
               (_ (script-error (format #f "bad lhist! ~s" (strip x))
                                "MIN, MAX and STEP are integer constants")))))
          (((and op (or 'map-set! 'map-set 'map-ref 'map-get 'map-delete!))
            (? at-symbol? m) k . rest)
           (note-map! maps m 'set (list k))
           (match (map strip rest)
             ((((and t (or 'kstack 'ustack))) . _) (hash-set! (stack-values) m t))
             (_ #f))
           (relocate x (cons* op (map-ref-of m) (walk k) (map walk rest))))
          (('printf (? string? fmt) args ...)
           (let* ((id (length (car sites)))
                  (types (map (lambda (a)
                                (match (key-type a)
                                  (_ (=> next)
                                     ;; Printed as the probe's name, as a key is.
                                     (if (equal? (strip a) '(probe)) 'probe (next)))
                                  ((and t ('string _)) t)
                                  ((and t (or 'i64 'ipv4 'ipv6 ('enum _))) t)
                                  (_ 'u64)))
                              args))
                  (site (make-site id fmt types)))
             (set-car! sites (cons site (car sites)))
             (relocate x
                       `(emit! ,(string->symbol (format #f "at-printf-~a-~a" ci id))
                               (,(string->symbol (format #f "make-at-printf-~a-~a" ci id))
                                ,@(append-map (lambda (i a)
                                                (list (symbol->keyword
                                                       (string->symbol (format #f "a~a" i)))
                                                      (walk a)))
                                              (iota (length args)) args)
                                ,@(if (null? args) '(#:a0 0) '()))))))
          (('exit)
           (set-car! uses (cons 'exit (car uses)))
           (relocate x '(map-set! at-exit 0 1)))
          (('ntop a) (walk a))
          (('ntop af a) (ntop-family af a) (walk a))
          (('kstack)
           (set-car! uses (cons 'kstack (car uses)))
           (relocate x '(stack-id ctx at-kstacks)))
          (_ (relocate x (map walk i))))))
     (else x)))
  (map walk body))

(define (struct-name m)
  (string-append (c-name (at-map-name m)) "-key"))

;;; ------------------------------------------------------------------
;;; Probes.

(define (split-probe p)
  (string-split p #\:))

(define (probe-spec p)
  ;; (KIND . ATTACH) for a kernel probe, or (host KIND . ARG) for begin,
  ;; end and interval clauses.  Several probes of one kind, separated by
  ;; commas as bpftrace writes them ("tracepoint:syscalls:sys_enter_kill,
  ;; tracepoint:syscalls:sys_enter_tgkill"), are one program attached to
  ;; each: (KIND ATTACH ...).
  (if (string-index p #\,)
      (let ((specs (map (lambda (one) (probe-spec (string-trim-both one)))
                        (remove string-null?
                                (map string-trim-both (string-split p #\,))))))
        (unless (and (pair? specs)
                     (every (lambda (s) (and (symbol? (car s))
                                             (not (eq? (car s) 'host))
                                             (not (eq? (car s) 'perf-event))
                                             (eq? (car s) (caar specs))
                                             (string? (cdr s))))
                            specs))
          (script-error (format #f "~s: a probe list mixes kinds" p)
                        "list probes of one kind (tracepoints, raw tracepoints or uprobes) in one clause; write a clause per kind"))
        (cons (caar specs) (map cdr specs)))
      (probe-spec-1 p)))

(define (probe-spec-1 p)
  (let ((fields (split-probe p)))
    (match fields
      (((or "begin" "BEGIN")) '(host begin))
      (((or "end" "END")) '(host end))
      (((or "interval" "i") unit n)
       (let ((k (string->number n)))
         (unless (and k (> k 0))
           (script-error (format #f "bad interval ~s" p) "write interval:s:N or interval:ms:N"))
         (cond ((member unit '("s")) `(host interval . ,k))
               ((member unit '("ms")) `(host interval . ,(/ k 1000)))
               (else (script-error (format #f "bad interval unit in ~s" p)
                                   "write interval:s:N or interval:ms:N")))))
      (((or "profile" "p") "hz" n)
       (let ((k (string->number n)))
         (unless (and k (exact-integer? k) (> k 0))
           (script-error (format #f "bad frequency in ~s" p) "write profile:hz:N, e.g. profile:hz:99"))
         `(perf-event . (#:frequency ,k))))
      (((or "tracepoint" "t") g n) `(tracepoint . ,(string-append g ":" n)))
      (((or "rawtracepoint" "rt") n) `(raw-tracepoint . ,n))
      (((or "uprobe" "u") . rest) `(uprobe . ,(string-join rest ":")))
      (((or "uretprobe" "ur") . rest) `(uretprobe . ,(string-join rest ":")))
      (("usdt" . rest) `(usdt . ,(string-join rest ":")))
      ;; A perf-event program's target names the event; the event and
      ;; its count are checked when it attaches (bpf-object-attach).
      (((and (or "software" "s" "hardware" "h") class) name . count)
       (unless (<= (length count) 1)
         (script-error (format #f "bad probe ~s" p)
                       "write software:NAME:COUNT or hardware:NAME:COUNT, e.g. software:page-faults:100"))
       `(perf-event . (#:target ,(string-append
                                  (if (member class '("software" "s"))
                                      "software" "hardware")
                                  ":" name
                                  (if (null? count) "" (string-append ":" (car count)))))))
      (((or "watchpoint" "w" "asyncwatchpoint") . _)
       (script-error (format #f "~s: watchpoint probes are not supported" p)
                     "count a tracepoint's events, or trap the access with a uprobe"))
      (((or "kfunc" "kretfunc" "fentry" "fexit" "f" "fr") . _)
       (script-error (format #f "~s: fentry probes are not supported in one-liners" p)
                     "use a tracepoint or rawtracepoint, or a tp-btf program in a file (guile-ebpf list 'rawtracepoint:*')"))
      (((or "kprobe" "kretprobe" "k" "kr") . _)
       (script-error (format #f "~s: kprobes are not supported here" p)
                     "use a tracepoint (guile-ebpf list 'syscalls:*') or rawtracepoint"))
      (_ (script-error (format #f "unknown probe ~s" p)
                       "write tracepoint:G:N, rawtracepoint:N, uprobe:LIB:SYM, uretprobe:LIB:SYM, usdt:PATH:P:N, profile:hz:N, software:NAME:N, interval:s:N, begin or end")))))

;;; ------------------------------------------------------------------
;;; Declaring what the clauses need.

(define private
  ;; Where generated declarations are evaluated.
  (let ((m (make-fresh-user-module)))
    (module-use! m (resolve-interface '(ebpf)))
    m))

(define (decl form) (eval form private))

;; A (kstack) key is the u32 stack id; a (ustack) key, as bpf-fn makes
;; it, the id with the process id above it (the process names its frames).
(define (stack-key-decl t)
  (match t ('kstack 'u32) ('ustack 'u64) (('enum _) 'u64) (_ t)))

(define (key-decl m)
  ;; The #:key of the declared map.
  (match (if (eq? (at-map-kind m) 'klhist) 'struct (at-map-keys m))
    ('struct
     (let ((s (string->symbol (struct-name m))))
       (decl `(defbpf-struct ,s
                ,@(map (lambda (i t)
                         (list (string->symbol (format #f "k~a" i))
                               (stack-key-decl t)))
                       (iota (length (at-map-keys m))) (at-map-keys m))
                (b u32)))
       s))
    ((or #f ()) #f)
    (((or 'kstack 'ustack)) (stack-key-decl (car (at-map-keys m))))
    ((t) (stack-key-decl t))
    (ts (let ((s (string->symbol (struct-name m))))
          (decl `(defbpf-struct ,s
                   ,@(map (lambda (i t)
                            (list (string->symbol (format #f "k~a" i))
                                  (stack-key-decl t)))
                          (iota (length ts)) ts)))
          s))))

(define (declare-map! m)
  (let* ((name (c-name (at-map-name m)))
         (key (key-decl m))
         (fields
          (case (at-map-kind m)
            ((hist) `((name . ,name) (kind . histogram)
                      ,@(if key `((key . ,(eval-type key))) '())))
            ((lhist) `((name . ,name) (kind . histogram)))
            (else `((name . ,name) (kind . hash) (key . ,(if key (eval-type key) 'u32))
                    (value . u64) (max-entries . 10240))))))
    (make-bpf-map fields)))

(define (eval-type t)
  (if (and (symbol? t) (module-defined? private t)) (eval t private) t))

(define (declare-site! ci s)
  (let ((sname (string->symbol (format #f "at-printf-~a-~a" ci (site-id s)))))
    (decl `(defbpf-struct ,sname
             ,@(if (null? (site-types s))
                   '((a0 u8))
                   (map (lambda (i t) (list (string->symbol (format #f "a~a" i))
                                            (match t ('probe 'u32) (('enum _) 'u64) (_ t))))
                        (iota (length (site-types s))) (site-types s)))))
    (make-bpf-map `((name . ,(symbol->string sname)) (kind . ringbuf)
                    (max-entries . 262144)))))

;;; ------------------------------------------------------------------
;;; Compiling the clauses.

(define-record-type <plan>
  (make-plan maps programs sites host exit-map stack-map)
  plan?
  (maps plan-maps)                      ; ((<at-map> . bpf-map) ...) by name
  (programs plan-programs)              ; ((ci . program) ...)
  (sites plan-sites)                    ; ((site ci ringbuf) ...)
  (host plan-host)                      ; ((kind arg body) ...)
  (exit-map plan-exit-map)
  (stack-map plan-stack-map))

(define probe-stride 65536)             ; (probe) key = clause * stride + index


(define (compile-clauses clauses)
  (let ((maps (make-hash-table))
        (sites '())
        (uses (list '()))
        (kernel '())
        (host '()))
    (parameterize ((stack-values (make-hash-table)))
    (for-each
     (lambda (c ci)
       (let ((spec (probe-spec (clause-probe c))))
         (match spec
           (('host kind . arg)
            (set! host (cons (list kind arg (map strip (clause-body c))) host))
            ;; @-maps a host clause names (print, clear) exist already.
            #t)
           (_
            (let* ((box (list '()))
                   (body (parameterize ((clause-spec spec)
                                        (clause-env (clause-module c)))
                           (rewrite (clause-body c) ci maps box uses))))
              (set! sites (append sites (map (lambda (s) (list s ci))
                                             (reverse (car box)))))
              (set! kernel (cons (list ci spec body (clause-module c)) kernel)))))))
     clauses (iota (length clauses))))
    (for-each (lambda (m)
                (unless (at-map-kind m) (set-at-map-kind! m 'set)))
              (hash-map->list (lambda (k v) v) maps))
    (let* ((exit-map (and (memq 'exit (car uses))
                          (make-bpf-map '((name . "at-exit") (kind . array) (key . u32)
                                          (value . u64) (max-entries . 1)))))
           (stack-map (and (memq 'kstack (car uses))
                           (make-bpf-map '((name . "at-kstacks") (kind . stack-trace)
                                           (max-entries . 4096)))))
           (declared (map (lambda (m) (cons m (declare-map! m)))
                          (sort (hash-map->list (lambda (k v) v) maps)
                                (lambda (a b) (string<? (at-map-name a) (at-map-name b))))))
           (site-maps (map (match-lambda ((s ci) (list s ci (declare-site! ci s)))) sites))
           (programs
            (map (match-lambda
                   ((ci (kind . attach) body module)
                    (let* ((name (string->symbol (format #f "on-clause-~a" ci)))
                           (fn (%make-bpf-fn name '(ctx) body module #f 0 0)))
                      (module-define! private name fn)
                      (cons ci (decl `(defbpf-program ,name #:kind ',kind
                                        #:attach ',attach #:source ,name
                                        #:license "GPL"))))))
                 (reverse kernel))))
      (make-plan declared programs site-maps (reverse host) exit-map stack-map))))
