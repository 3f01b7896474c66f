;;; bpf-fn lowering without the kernel: each pass's structure, every
;;; error class with its location, deterministic C, and a fuzz run.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (ice-9 rdelim) ((ebpf core) #:select (%bpf-lower-btf-count)))

(harness-begin "lower")

(define-syntax-rule (lower-error name (part ...) expr)
  (test-ebpf-error name 'ebpf-lower-error (part ...) expr))

(define (details thunk)
  (catch 'ebpf-lower-error thunk
    (lambda (k subr msg args details) details)))

(defbpf-map counts #:kind 'hash #:key 'u32 #:value 'u64)
(defbpf-map small #:kind 'hash #:key 'u32 #:value 'u8)
(defbpf-map lat #:kind 'histogram)
(defbpf-struct ev (pid u32) (comm (string 16)))
(defbpf-map events #:kind 'ringbuf #:value 'ev)

;; ---- parse: shape checked when the bpf-fn is made ----
(bpf-fn drop-syn (ctx)
  (if (= (proto ctx) :tcp)
      (return :xdp-drop)
      (return :xdp-pass)))
(test-assert "bpf-fn binds its name" (bpf-fn? drop-syn))
(test-equal "bpf-fn name is a C identifier" "drop_syn" (bpf-fn-name drop-syn))
(test-equal "printer" "#<bpf-fn drop-syn>" (object->string drop-syn))
(match (bpf-fn-ast drop-syn #:pass 'parse)
  (('begin ('if ('= ('proto ('symbol 'ctx . _) . _) ('int 6 . _) . _)
                ('return ('keyword 'xdp-drop . _) . _)
                ('return ('keyword 'xdp-pass . _) . _) . _) . _)
   (test-assert "parse pass: forms recognised, :tcp is 6" #t))
  (x (test-assert (format #f "parse pass shape: ~s" x) #f)))
(match (bpf-fn-ast drop-syn #:pass 'resolve)
  (('begin ('if ('= ('proto ('ctx . _) . _) . _)
                ('return ('int 1 . _) . _) ('return ('int 2 . _) . _) . _) . _)
   (test-assert "resolve pass: ctx found, actions are integers" #t))
  (x (test-assert (format #f "resolve pass shape: ~s" x) #f)))

(bpf-fn counter (ctx)
  (let ((k (pid)))
    (map-increment! counts k)
    (hist! lat (- (ktime-ns) 0))))
(let ((ast (bpf-fn-ast counter #:pass 'types #:kind 'tracepoint
                       #:target "syscalls/sys_enter_getpid")))
  (test-assert "types pass: local typed int"
               (string-contains (object->string ast) "(set! k (pid (@ (type . int)"))
  (test-assert "resolve pass: map reference"
               (string-contains (object->string ast) "(map")))
(test-equal "bpf-fn-maps lists the maps the body names"
            '("counts" "lat")
            (map bpf-map-name (bpf-fn-maps counter #:kind 'tracepoint)))

;; ---- the C ----
(define c (bpf-fn->c drop-syn #:kind 'xdp))
(test-assert "SPDX line first" (string-prefix? "// SPDX-License-Identifier: GPL-2.0" c))
(test-assert "license section" (string-contains c "char LICENSE[] SEC(\"license\") = \"GPL\";"))
(test-assert "program section" (string-contains c "SEC(\"xdp\")\nint u_drop_syn(struct xdp_md *ctx)"))
(test-assert "#line to the .scm" (string-contains c "#line 23 \"lower.scm\""))
(test-assert "comment names the form" (string-contains c "/* (if (= (proto ctx) :tcp)"))
(test-assert "fixed helpers included" (string-contains c "#include \"gebpf.h\""))
(test-equal "deterministic" c (bpf-fn->c drop-syn #:kind 'xdp))
(let ((c2 (bpf-fn->c counter #:kind 'tracepoint #:target "syscalls/sys_enter_getpid")))
  (test-assert "BTF map definition" (string-contains c2 "} u_counts __asm__ (\"counts\") SEC(\".maps\");"))
  (test-assert "typed key in the map" (string-contains c2 "__type(key, __u32);"))
  (test-assert "tracepoint section" (string-contains c2 "SEC(\"tracepoint/syscalls/sys_enter_getpid\")")))
(bpf-fn with-const (ctx)
  (when (= (pid) (const target-pid))
    (map-increment! counts 0)))
(test-assert "const volatile rodata"
             (string-contains (bpf-fn->c with-const #:kind 'tracepoint
                                         #:target "syscalls/sys_enter_getpid")
                              "const volatile __u64 u_target_pid __asm__ (\"target_pid\") = 0;"))
(let ((n 7))
  (bpf-fn spliced (ctx)
    (return ,(* n 6)))
  (test-assert ",EXPR is evaluated and spliced"
               (string-contains (bpf-fn->c spliced #:kind 'tracepoint
                                           #:target "syscalls/sys_enter_getpid")
                                "return (int)((__u64)42ULL)")))
(define-bpf-inline (twice x) (* x 2))
(define-bpf-macro (bump! m k) `(map-increment! ,m ,k 1))
(bpf-fn reuse (ctx) (bump! counts (twice (pid))))
(let ((c3 (bpf-fn->c reuse #:kind 'tracepoint #:target "syscalls/sys_enter_getpid")))
  (test-assert "inline emitted static __always_inline"
               (string-contains c3 "static __always_inline __u64\nu_twice__0 ("))
  (test-assert "macro expanded" (string-contains c3 "GEBPF_MAP_INC (&u_counts")))

;; ---- kinds this kernel refuses still lower as libbpf documents them ----
(bpf-fn trace-args (ctx) (map-set! counts 1 (+ (arg ctx 0) (arg ctx 1))))
(bpf-fn trace-ret (ctx) (map-set! counts 2 (retval ctx)))
(for-each
 (lambda (kind target fn section ctx)
   (let ((c (bpf-fn->c fn #:kind kind #:target target)))
     (test-assert (format #f "~a: section ~a" kind section)
                  (string-contains c (format #f "SEC(\"~a\")" section)))
     (test-assert (format #f "~a: context ~a" kind ctx)
                  (string-contains c ctx))))
 '(fentry fexit kprobe kretprobe lsm uprobe uretprobe tp-btf)
 '("do_nanosleep" "do_nanosleep" "do_nanosleep" "do_nanosleep" "file_open"
   #f #f "sys_enter")
 (list trace-args trace-ret trace-args trace-ret trace-args trace-args trace-ret
       trace-args)
 '("fentry/do_nanosleep" "fexit/do_nanosleep" "kprobe/do_nanosleep"
   "kretprobe/do_nanosleep" "lsm/file_open" "uprobe" "uretprobe"
   "tp_btf/sys_enter")
 '("(__u64 *ctx)" "(__u64 *ctx)" "PT_REGS_PARM1 (ctx)" "PT_REGS_RC (ctx)"
   "(__u64 *ctx)" "PT_REGS_PARM2 (ctx)" "PT_REGS_RC (ctx)" "((__u64 *)ctx)[1]"))
(test-assert "fexit reads the return value after the arguments"
             (string-contains (bpf-fn->c trace-ret #:kind 'fexit #:target "do_nanosleep")
                              "((__u64 *)ctx)[2]"))

;; ---- errors: every class, with the form and its location ----
(lower-error "malformed let at definition" ("bad_let" "lower.scm:" "binding")
             (bpf-fn bad-let (ctx) (let (x) x)))
(lower-error "if arity" ("if takes") (bpf-fn bad-if (ctx) (if)))
(lower-error "cond else not last" ("else must be the last")
             (bpf-fn bad-cond (ctx) (cond (else 1) (#t 2))))
(lower-error "empty body" ("empty") (bpf-fn empty-body (ctx)))
(define (lower-xdp fn) (bpf-fn->c fn #:kind 'xdp))
(define (lower-tp fn) (bpf-fn->c fn #:kind 'tracepoint
                                 #:target "syscalls/sys_enter_getpid"))
(lower-error "unknown form" ("unknown form frobnicate" "define-bpf-inline")
             (lower-xdp (bpf-fn u1 (ctx) (frobnicate 1))))
(lower-error "unknown helper names the whitelist" ("no-such-helper" "get-current-pid-tgid")
             (lower-tp (bpf-fn u2 (ctx) (call no-such-helper))))
(lower-error "unknown action" ("xdp-explode" "xdp-drop")
             (lower-xdp (bpf-fn u3 (ctx) (return 'xdp-explode))))
(lower-error "action of another kind" ("tc-act-shot is not an action of xdp")
             (lower-xdp (bpf-fn u4 (ctx) (return 'tc-act-shot))))
(lower-error "unknown identifier" ("unbound identifier nowhere")
             (lower-xdp (bpf-fn u5 (ctx) (+ nowhere 1))))
(lower-error "wrong arity" ("map-get takes 2")
             (lower-xdp (bpf-fn u6 (ctx) (map-get counts))))
(lower-error "pointer in arithmetic" ("+ needs an integer" "packet header pointer")
             (lower-xdp (bpf-fn u7 (ctx) (+ (packet-ipv4 ctx) 1))))
(lower-error "string in arithmetic" ("string")
             (lower-xdp (bpf-fn u8 (ctx) (+ "abc" 1))))
(lower-error "out-of-range literal" ("out of range" "u8")
             (lower-xdp (bpf-fn u9 (ctx) (map-set! small 1 300))))
(lower-error "division by constant zero" ("division by a constant zero")
             (lower-xdp (bpf-fn u10 (ctx) (/ 10 0))))
(lower-error "set! of a non-local" ("not a local")
             (lower-xdp (bpf-fn u11 (ctx) (set! counts 1))))
(lower-error "packet form in a tracepoint" ("not available in tracepoint")
             (lower-tp (bpf-fn u12 (ctx) (proto ctx))))
(lower-error "process helper in xdp" ("pid is not available in xdp")
             (lower-xdp (bpf-fn u13 (ctx) (pid))))
(lower-error "header of the wrong kind" ("tcp-dport needs a packet-tcp header")
             (lower-xdp (bpf-fn u14 (ctx) (tcp-dport (packet-ipv4 ctx)))))
(lower-error "tracepoint field unknown" ("no field nope" "its fields are")
             (lower-tp (bpf-fn u15 (ctx) (arg ctx 'nope))))
(lower-error "hist! on a hash" ("needs a histogram map")
             (lower-tp (bpf-fn u16 (ctx) (hist! counts 1))))
(lower-error "emit! of the wrong record" ("records another type")
             (lower-tp (bpf-fn u17 (ctx) (emit! events (make-ev #:pid 1 #:comm "x")) (emit! events (comm)))))
(define deep (let loop ((n 300) (x 1)) (if (zero? n) x (loop (- n 1) `(+ ,x 1)))))
(lower-error "nesting deeper than the limit" ("deeper than")
             (lower-xdp (bpf-fn u18 (ctx) ,deep)))
(define circular (let ((l (list '+ 1 2))) (set-cdr! (cddr l) l) l))
(lower-error "circular body" ("circular")
             (lower-xdp (bpf-fn u19 (ctx) ,circular)))
(define-bpf-inline (loop-a x) (loop-b x))
(define-bpf-inline (loop-b x) (loop-a x))
(lower-error "circular inline" ("circular inline")
             (lower-tp (bpf-fn u20 (ctx) (loop-a 1))))
(define-bpf-macro (forever x) `(forever ,x))
(lower-error "circular macro" ("circular bpf-macro")
             (lower-tp (bpf-fn u21 (ctx) (forever 1))))
(lower-error "make-S with an unknown field" ("struct ev has no field uid")
             (lower-tp (bpf-fn u22 (ctx) (emit! events (make-ev #:uid 1)))))
(lower-error "lhist! bounds" ("lhist!")
             (lower-tp (bpf-fn u23 (ctx) (lhist! lat 5 10 0 1))))
(let ((d (details (lambda () (lower-xdp (bpf-fn located (ctx)
                                          (begin
                                            (frobnicate 1))))))))
  (test-equal "error details: the form" '(frobnicate 1) (assq-ref d 'form))
  (test-equal "error details: the bpf-fn" "located" (assq-ref d 'bpf-fn))
  (test-equal "error details: the line" 177 (assq-ref d 'line))
  (test-equal "error details: the column" 44 (assq-ref d 'column))
  (test-assert "error details: the file"
               (string-suffix? "lower.scm" (assq-ref d 'file))))

(defbpf-map cgs #:kind 'cgroup-array #:max-entries 1)
(lower-error "under-cgroup? outside tracing programs" ("under-cgroup?" "tracing")
             (lower-xdp (bpf-fn ucg1 (ctx) (if (under-cgroup? cgs 0) 1 2))))
(lower-error "under-cgroup? needs a cgroup-array" ("under-cgroup? needs a cgroup-array"
                                                   "counts is a hash" "'cgroup-array")
             (lower-tp (bpf-fn ucg2 (ctx) (if (under-cgroup? counts 0) 1 2))))
(test-assert "under-cgroup? lowers to the kernel's helper"
             (string-contains (lower-tp (bpf-fn ucg3 (ctx) (if (under-cgroup? cgs 0) 1 2)))
                              "bpf_current_task_under_cgroup (&"))

;; ---- hostile data spliced into a body ----
(define (elapsed thunk)
  (let ((t0 (get-internal-real-time)))
    (thunk)
    (/ (- (get-internal-real-time) t0) 1.0 internal-time-units-per-second)))
(define (lower-message thunk)
  (catch 'ebpf-lower-error (lambda () (thunk) #f)
    (lambda (k subr msg args details) msg)))
(define car-circular
  (let ((x (list '+ (list '- 1) 2))) (set-car! (cdr x) x) x))
(lower-error "circular through a car" ("circular form" "Fix:")
             (lower-xdp (bpf-fn u30 (ctx) ,car-circular)))
(lower-error "circular through a car, inside a let"
             ("circular form")
             (lower-xdp (bpf-fn u31 (ctx) (let ((a ,car-circular)) a))))
(define cdr-circular-inner
  (let ((l (list 'map-get 'counts 1 2))) (set-cdr! (cdddr l) (cdr l)) l))
(lower-error "circular through a cdr, nested" ("circular list" "Fix:")
             (lower-xdp (bpf-fn u32 (ctx) (if (= 1 ,cdr-circular-inner) 1 2))))
(let ((d (details (lambda () (lower-xdp (bpf-fn u33 (ctx) ,car-circular))))))
  (test-assert "circular: the details carry the printed form, not the data"
               (string? (assq-ref d 'form))))
(define (deep-not n)
  (let loop ((n n) (x 1)) (if (zero? n) x (loop (- n 1) `(not ,x)))))
(define very-deep (deep-not 100000))
(let ((msg #f))
  (test-assert "100,000 deep: refused within a second"
               (< (elapsed (lambda ()
                             (set! msg (lower-message
                                        (lambda ()
                                          (lower-xdp (bpf-fn u34 (ctx) ,very-deep)))))))
                  1.0))
  (test-assert "100,000 deep: a lowering error" (string? msg))
  (test-assert "100,000 deep: the error shows a truncated form"
               (and msg (string-contains msg "deeper than 64")
                    (string-contains msg "(...)")
                    (< (string-length msg) 2000))))
(define shared                          ; 2^40 forms as a tree, 40 pairs
  (let loop ((n 40) (x 1)) (if (zero? n) x (loop (- n 1) `(+ ,x ,x)))))
(lower-error "shared structure that unfolds to 2^40 forms" ("more than")
             (lower-xdp (bpf-fn u35 (ctx) ,shared)))
(test-assert "deep but allowed: linear stripping (1,000 wide, 60 deep)"
             (< (elapsed (lambda ()
                           (lower-xdp
                            (bpf-fn u36 (ctx)
                              (begin ,@(map (lambda (i) `(if (= ,(deep-not 60) ,i) 1 2))
                                            (iota 1000)))))))
                20.0))
(test-ebpf-error "circular #:constants" 'ebpf-validation-error
                 ("#:constants must be a proper list")
                 (bpf-fn->c (bpf-fn u40 (ctx) (const limit))
                            #:kind 'xdp
                            #:constants (let ((l (list '(limit . 1))))
                                          (set-cdr! l l)
                                          l)))
(lower-error "(const LICENSE)" ("has the name of the license" "Fix:")
             (lower-xdp (bpf-fn u41 (ctx) (const LICENSE))))
(lower-error "a const named as the program" ("has the name of the program")
             (lower-xdp (bpf-fn u42 (ctx) (const u42))))
(lower-error "a const named as a map" ("has the name of a map")
             (lower-xdp (bpf-fn u43 (ctx) (map-increment! counts 1) (const counts))))
(lower-error "a cond clause without a body" ("a cond clause needs a body")
             (lower-tp (bpf-fn u44 (ctx)
                         (cond ((= (uid) 0)) ((< (uid) 1000) (printk "x")))
                         0)))
(lower-error "a map through (begin m)" ("map-increment! needs a map named directly")
             (lower-xdp (bpf-fn u37 (ctx) (map-increment! (begin counts) 1))))
(lower-error "a map through (if #t m m)" ("map-get needs a map named directly")
             (lower-xdp (bpf-fn u38 (ctx) (map-get (if #t counts counts) 1))))
(define make-fn (@ (ebpf core) %make-bpf-fn))
(test-equal "printk strings with multi-byte characters cut anywhere" '()
            (filter-map
             (lambda (pad)
               (catch #t
                 (lambda ()
                   (lower-tp (make-fn 'u39 '(ctx)
                                      (list `(printk ,(string-append
                                                       (make-string pad #\a)
                                                       "été ünïcödé → ✓ 😀😀😀")))
                                      (current-module) #f 0 0))
                   #f)
                 (lambda (key . args) (list pad key))))
             (iota 40 30)))

;; ---- fuzz: random s-expressions lower or raise an ebpf-* error ----
(define heads
  '(let let* begin set! if when unless cond case and or not do-times return
    + - * / modulo remainder min max logand logior logxor lognot ash = != <
    > <= >= zero? call pid tgid uid gid cpu ktime-ns comm map-get map-ref
    map-set map-set! map-delete! map-increment! hist! lhist! proto packet-eth
    packet-ipv4 packet-ipv6 packet-tcp packet-udp packet-icmp ipv4
    ipv4-saddr tcp-dport tcp-syn? ipv4-fragment? packet-length arg retval
    core-read current-task read-user-str emit! printk const stack-id
    make-ev ev-pid quote else junk 42))
(define leaves
  (list 0 1 -1 255 65536 (expt 2 64) #t #f "s" 'ctx 'counts 'lat 'events 'x
        ':tcp #:pid 'xdp-drop '(quote comm) 'k (expt 2 70) -9223372036854775808))
(define state (seed->random-state 20261121))
(define (pick l) (list-ref l (random (length l) state)))
(define (gen depth)
  (if (or (zero? depth) (< (random 10 state) 3))
      (pick leaves)
      (cons (pick heads)
            (map (lambda (_) (gen (- depth 1))) (iota (random 4 state))))))
(define kinds '(xdp tc tracepoint raw-tracepoint kprobe socket-filter))
(define outcomes
  (map (lambda (i)
         (catch #t
           (lambda ()
             (let ((fn (make-fn 'fuzz '(ctx) (list (gen 5)) (current-module)
                                #f 0 0)))
               (bpf-fn->c fn #:kind (pick kinds)
                          #:target "syscalls/sys_enter_getpid")
               'ok))
           (lambda (key . args)
             (if (ebpf-error? key) 'ebpf-error (list key args)))))
       (iota 10000)))
(test-equal "fuzz: 10,000 random bodies lower or raise ebpf errors" '()
            (filter pair? outcomes))
(test-assert "fuzz: many bodies lowered, many refused"
             (let ((ok (count (lambda (o) (eq? o 'ok)) outcomes)))
               (format #t "# fuzz: ~a lowered, ~a refused~%" ok (- 10000 ok))
               (and (> ok 500) (> (- 10000 ok) 500))))

;; ---- the pipeline: a result record, a target descriptor, no side effects ----
(defbpf-map pure-ring-a #:kind 'ringbuf #:max-entries 4096)
(defbpf-map pure-ring-b #:kind 'ringbuf #:max-entries 4096)
(bpf-fn pure-rec (ctx)
  (map-increment! counts (const pure-limit))
  (emit! pure-ring-a (pid))
  0)
(let ((r (bpf-fn-lowering pure-rec #:kind 'tracepoint
                          #:target "syscalls/sys_enter_getpid")))
  (test-equal "lowering record: the program's symbol" "pure_rec"
              (assq-ref r 'function))
  (test-assert "lowering record: the C, as bpf-fn->c gives it"
               (equal? (assq-ref r 'c)
                       (bpf-fn->c pure-rec #:kind 'tracepoint
                                  #:target "syscalls/sys_enter_getpid")))
  (test-assert "lowering record: a line map" (vector? (assq-ref r 'line-map)))
  (test-equal "lowering record: maps with symbol and kernel type, control map first"
              '(("gebpf_rbctl_pure_ring_a" "gebpf_rbctl_pure_ring_a" "percpu_array")
                ("counts" "counts" "hash")
                ("pure-ring-a" "pure_ring_a" "ringbuf"))
              (assq-ref r 'maps))
  (test-equal "lowering record: constants read" '("pure_limit")
              (assq-ref r 'constants))
  (test-equal "lowering record: record types" '(("pure-ring-a" . u64))
              (assq-ref r 'record-types))
  (test-equal "lowering record: helper maps"
              '((ringbuf-control "pure-ring-a" "gebpf_rbctl_pure_ring_a"))
              (assq-ref r 'helper-maps))
  (test-assert "the driver declared the control map after the passes"
               (bpf-map? (bpf-map-lookup "gebpf_rbctl_pure_ring_a")))
  ;; The same C in parts, each in the text, in the text's order.
  (test-equal "lowering record: declarations keyed by what they declare"
              '("gebpf_rbctl_pure_ring_a" "u_counts" "u_pure_ring_a"
                "u_pure_limit" "u_pure_rec")
              (map car (assq-ref r 'declarations)))
  (test-assert "lowering record: every part is the text's, in its order"
               (let ((c (assq-ref r 'c)))
                 (let loop ((parts (append (assq-ref r 'includes)
                                           (map cdr (assq-ref r 'declarations))
                                           (list (assq-ref r 'definition))))
                            (from 0))
                   (or (null? parts)
                       (let ((at (string-contains c (car parts) from)))
                         (and at (loop (cdr parts)
                                       (+ at (string-length (car parts))))))))))
  (test-assert "lowering record: the definition ends the text"
               (string-suffix? (assq-ref r 'definition) (assq-ref r 'c)))
  (test-equal "lowering record: the license" "GPL" (assq-ref r 'license)))
(define-bpf-inline (pure-twice x) (* 2 x))
(bpf-fn pure-inl (ctx) (pure-twice (pid)))
(test-equal "an instance suffix names the program's instances apart"
            '("u_pure_twice__0_p3")
            (filter (lambda (k) (string-prefix? "u_pure_twice" k))
                    (map car (assq-ref (bpf-fn-lowering pure-inl #:kind 'tracepoint
                                                        #:instance-suffix "_p3")
                                       'declarations))))
(test-ebpf-error "an instance suffix is letters, digits and _"
                 'ebpf-validation-error ("instance-suffix" "\"_p 3\"")
                 (bpf-fn-lowering pure-inl #:kind 'tracepoint
                                  #:instance-suffix "_p 3"))
(bpf-fn pure-fails-late (ctx)
  (emit! pure-ring-b (pid))
  (read-kernel-str (current-task) 16))
(test-ebpf-error "a lowering that fails in emit" 'ebpf-validation-error
                 ("GPL")
                 (bpf-fn->c pure-fails-late #:kind 'kprobe #:target "do_sys_open"
                            #:license "Proprietary"))
(test-assert "a failed lowering declares no control map"
             (not (bpf-map-lookup "gebpf_rbctl_pure_ring_b")))

(define pure-format "name: pure_event
ID: 9999
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned long fd;	offset:16;	size:8;	signed:0;
	field:__data_loc char[] path;	offset:24;	size:4;	signed:0;
")
(test-ebpf-error "unknown field of a hand-written tracepoint format"
                 'ebpf-lower-error
                 ("tracepoint pure/pure_event has no field nope"
                  "its fields are: __syscall_nr fd path")
                 (bpf-fn-lower (bpf-fn pure-tp1 (ctx) (arg ctx 'nope))
                               #:kind 'tracepoint #:target "pure/pure_event"
                               #:tracepoint-format pure-format))
(test-assert "a field of a hand-written format is read at its offset"
             (string-contains
              (car (bpf-fn-lower (bpf-fn pure-tp2 (ctx) (arg ctx 'fd))
                                 #:kind 'tracepoint #:target "pure/pure_event"
                                 #:tracepoint-format pure-format))
              "((char *)ctx + 16)"))
(test-ebpf-error "a format that is not a string" 'ebpf-validation-error
                 ("tracepoint-format")
                 (bpf-fn-lower pure-rec #:kind 'tracepoint #:target "pure/x"
                               #:tracepoint-format 42))

;; vmlinux BTF is taken only for a body that reads kernel types: loading
;; it is most of a one-liner's lowering.
(bpf-fn pure-tp-count (ctx)
  (when (> (arg ctx 'fd) 2)
    (map-increment! counts (tgid))))
(define-bpf-macro (pure-task) '(current-task))
(bpf-fn pure-tp-task (ctx)
  (map-set! counts 0 (core-read (pure-task) 'tgid)))
(define (btf-taken thunk)
  ;; How many lowerings took vmlinux BTF while THUNK ran.
  (let ((before (%bpf-lower-btf-count)))
    (thunk)
    (- (%bpf-lower-btf-count) before)))
(test-equal "a tracepoint counter lowers without vmlinux BTF" 0
            (btf-taken (lambda ()
                         (bpf-fn-lowering pure-tp-count #:kind 'tracepoint
                                          #:target "pure/pure_event"
                                          #:tracepoint-format pure-format))))
(test-equal "a kprobe body without kernel types lowers without it" 0
            (btf-taken (lambda ()
                         (bpf-fn->c counter #:kind 'kprobe
                                    #:target "do_sys_open"))))
(if (file-exists? "/sys/kernel/btf/vmlinux")
    (let* ((c #f)
           (n (btf-taken
               (lambda ()
                 (set! c (bpf-fn->c pure-tp-task #:kind 'tracepoint
                                    #:target "pure/pure_event"))))))
      (test-equal "core-read through a bpf-macro takes vmlinux BTF" 1 n)
      (test-assert "... and reads task_struct with CO-RE"
                   (string-contains c "struct task_struct___gebpf")))
    (test-ebpf-error "core-read without kernel BTF" 'ebpf-lower-error
                     ("current-task needs kernel BTF")
                     (bpf-fn->c pure-tp-task #:kind 'tracepoint
                                #:target "pure/pure_event")))

;; Each pass in the table, by name, on the same body.
(test-equal "bpf-fn-ast stops after each pass of the table"
            '(begin begin begin begin)
            (map (lambda (pass)
                   (car (bpf-fn-ast pure-rec #:pass pass #:kind 'tracepoint
                                    #:target "syscalls/sys_enter_getpid")))
                 '(parse resolve types bounds)))
(test-assert "the types pass gives what bounds takes; bounds adds nothing visible here"
             (equal? (bpf-fn-ast pure-rec #:pass 'types #:kind 'tracepoint
                                 #:target "syscalls/sys_enter_getpid")
                     (bpf-fn-ast pure-rec #:pass 'bounds #:kind 'tracepoint
                                 #:target "syscalls/sys_enter_getpid")))
(test-ebpf-error "an unknown pass" 'ebpf-validation-error ("unknown pass")
                 (bpf-fn-ast pure-rec #:pass 'optimise))

;; set-field! on a struct value in a map, refused by name.
(defbpf-struct lw-rec (n u64) (name (string 8)))
(defbpf-map lw-recs #:kind 'hash #:key 'u32 #:value 'lw-rec)
(lower-error "set-field! of a struct in a map: no such field"
             ("no field 'size in struct lw-rec" "lw-rec has the fields n name")
             (lower-xdp (bpf-fn u-sf1 (ctx)
                          (set-field! (map-get lw-recs 0) 'size 1))))
(lower-error "set-field! of a struct in a map: a string field"
             ("name of lw-rec is a string" "map-set!")
             (lower-xdp (bpf-fn u-sf2 (ctx)
                          (set-field! (map-get lw-recs 0) 'name "x"))))
(lower-error "set-field! of a struct in a map: a value of another type"
             ("field n of lw-rec")
             (lower-xdp (bpf-fn u-sf3 (ctx)
                          (set-field! (map-get lw-recs 0) 'n "x"))))

;; perf-emit! #:packet-bytes: packet programs only, a count in range.
(defbpf-map lw-pevs #:kind 'perf-event-array)
(lower-error "perf-emit! #:packet-bytes in a tracepoint"
             ("perf-emit!" "xdp, tc, socket-filter and cgroup-skb")
             (lower-tp (bpf-fn u-pe1 (ctx) (perf-emit! lw-pevs 1 #:packet-bytes 8))))
(lower-error "perf-emit! with another keyword" ("only #:packet-bytes")
             (lower-xdp (bpf-fn u-pe2 (ctx) (perf-emit! lw-pevs 1 #:bytes 8))))
(lower-error "perf-emit! #:packet-bytes without a value" ("needs a value")
             (lower-xdp (bpf-fn u-pe3 (ctx) (perf-emit! lw-pevs 1 #:packet-bytes))))
(lower-error "perf-emit! #:packet-bytes out of range" ("70000" "0 to 65535")
             (lower-xdp (bpf-fn u-pe4 (ctx) (perf-emit! lw-pevs 1 #:packet-bytes 70000))))

(lower-error "packet-vlan-id in a socket filter" ("packet-vlan-id" "xdp and tc")
             (bpf-fn->c (bpf-fn u-vl1 (ctx) (return (packet-vlan-id ctx)))
                        #:kind 'socket-filter))

(harness-end)
