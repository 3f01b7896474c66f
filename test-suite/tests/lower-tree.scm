;;; The lowering between passes as data: the tree bpf-fn-ast prints after
;;; each pass reads back (bpf-fn-lower #:ast TREE #:from PASS) and the
;;; pipeline continued from it gives the uninterrupted pipeline's C;
;;; hand-built trees fed to each pass; the tree checked between passes;
;;; and ill-formed trees refused with a lowering error, never a crash.
(use-modules (harness) (ebpf) (ebpf fn) (srfi srfi-1) (srfi srfi-64)
             (ice-9 match) (rnrs bytevectors))

(harness-begin "lower-tree")

(define-syntax-rule (lower-error name (part ...) expr)
  (test-ebpf-error name 'ebpf-lower-error (part ...) expr))

(define passes '(parse resolve types bounds emit))
(define (next-pass p) (cadr (memq p passes)))

;;; ---- representative bodies ----

(defbpf-map lt-counts #:kind 'hash #:key 'u32 #:value 'u64)
(defbpf-map lt-lat #:kind 'histogram)
(defbpf-map lt-blocked #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u32
  #:max-entries 16)
(defbpf-map lt-by-stack #:kind 'hash #:key 'u32 #:value 'u64)
(defbpf-struct lt-ev (pid u32) (fd u64) (comm (string 16)))
(defbpf-map lt-events #:kind 'ringbuf #:value 'lt-ev)
(defbpf-map lt-pevs #:kind 'perf-event-array)
(defbpf-map lt-evs #:kind 'hash #:key 'u32 #:value 'lt-ev #:max-entries 4)
(define-bpf-inline (lt-bump k n) (map-increment! lt-counts k n) n)
(define-bpf-macro (lt-twice x) `(begin ,x ,x))
(define lt-port 22)

(define tp-format "name: lt_event
ID: 9998
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned long fd;	offset:16;	size:8;	signed:0;
	field:__data_loc char[] path;	offset:24;	size:4;	signed:0;
	field:long delta;	offset:32;	size:8;	signed:1;
")
(define tp-target "lt/lt_event")

;; XDP packet parsing: headers, fields, an LPM lookup, case, cond,
;; do-times, set-field!, an IPv6 constant.
(bpf-fn lt-xdp (ctx)
  (let* ((ip (packet-ipv4 ctx))
         (tcp (packet-tcp ip))
         (ip6 (packet-ipv6 ctx))
         (n 0))
    (do-times (i 4) (set! n (+ n i)))
    (perf-emit! lt-pevs n #:packet-bytes 64)
    (when (and ip6 (= (ipv6-daddr ip6) (ipv6 "2001:db8::1")))
      (return :xdp-drop))
    (case (proto ctx)
      ((:udp) (map-increment! lt-counts 17))
      ((6 7) (map-increment! lt-counts n))
      (else #f))
    (cond ((not tcp) (return :xdp-pass))
          ((and (tcp-syn? tcp) (map-get lt-blocked (ipv4-saddr ip)))
           (return :xdp-drop))
          ((= (tcp-dport tcp) ,lt-port)
           (set-field! ip 'ttl 64)
           (return :xdp-pass))
          (else (return :xdp-pass)))))

;; Tracepoint fields from a hand-written format: a signed field, a
;; __data_loc string, a number, printk.
(bpf-fn lt-tp (ctx)
  (let ((fd (arg ctx 'fd))
        (d (arg ctx 'delta)))
    (when (< d 0)
      (printk "negative %d on %d" d fd))
    (when (string-prefix? "/etc" (arg ctx 'path))
      (map-increment! lt-counts (arg ctx '__syscall_nr)))))

;; Maps: get, ref with a default, set, delete, increments, histograms,
;; a constant.
(bpf-fn lt-maps (ctx)
  (let ((k (tgid)))
    (when (map-get lt-counts k)
      (map-set! lt-counts k (+ (map-ref lt-counts k 0) (const lt-limit))))
    ;; A map-get pointer used as its value: the types pass wraps it.
    (let ((p (map-get lt-counts 3)))
      (when p (map-set! lt-counts 4 (+ p 1))))
    (map-increment! lt-counts (cpu) 2)
    (hist! lt-lat (- (ktime-ns) 0))
    (lhist! lt-lat (pid) 0 100 10)
    (map-delete! lt-counts (tid))))

;; Structs and emit!: make-S, S-field, a string field.
(bpf-fn lt-struct (ctx)
  (let ((e (make-lt-ev #:pid (pid) #:fd (arg ctx 'fd) #:comm (comm))))
    (map-increment! lt-counts (lt-ev-pid e))
    ;; A field of a struct in a map, written through its pointer.
    (set-field! (map-get lt-evs 0) 'pid (+ (lt-ev-pid (map-get lt-evs 0)) 1))
    (emit! lt-events e)))

;; Inlines (two instances: two argument types) and a macro.
(bpf-fn lt-inline (ctx)
  (lt-twice (lt-bump (pid) 1))
  (lt-bump (tgid) (lt-bump (uid) (< (gid) 5)))
  (return (lt-bump (cpu) 3)))

;; Stacks as map keys and stack ids.
(defbpf-map lt-stacks #:kind 'stack-trace #:max-entries 64)
(bpf-fn lt-stack (ctx)
  (let ((s (kstack)))
    (map-increment! lt-by-stack s)
    (map-increment! lt-counts (stack-id ctx lt-stacks))
    (map-increment! lt-counts (stack-id ctx lt-stacks #:user? #t))))

(define btf? (file-exists? "/sys/kernel/btf/vmlinux"))

;; Socket buffer fields read and written.
(bpf-fn lt-skb (ctx)
  (when (= (packet-vlan-id ctx) 5) (return (redirect-peer 3)))
  (when (= (ctx-field ctx 'protocol) :ipv4)
    (set-field! ctx 'mark (+ (ctx-field ctx 'len) 1)))
  (return :tc-act-ok))
;; CO-RE reads, when the kernel has BTF.
(bpf-fn lt-core (ctx)
  (let ((t (current-task)))
    (map-increment! lt-counts (core-read t 'real_parent 'tgid))
    (map-increment! lt-counts (core-read t '(no_such_tgid tgid)))
    (map-set! lt-counts 1 (core-read t 'tgid))))

(define cases
  ;; (NAME FN KIND TARGET FORMAT)
  (append
   (list (list "xdp packets" lt-xdp 'xdp #f #f)
         (list "tracepoint fields" lt-tp 'tracepoint tp-target tp-format)
         (list "maps" lt-maps 'kprobe "do_sys_open" #f)
         (list "socket buffer fields" lt-skb 'tc "lo" #f)
         (list "struct and emit!" lt-struct 'tracepoint tp-target tp-format)
         (list "inlines and a macro" lt-inline 'kprobe "do_sys_open" #f)
         (list "stacks" lt-stack 'kprobe "do_sys_open" #f))
   (if btf?
       (list (list "core-read" lt-core 'kprobe "do_sys_open" #f))
       '())))
(unless btf?
  (format #t "# no /sys/kernel/btf/vmlinux: the core-read body is left out~%"))

(define (lower fn kind target fmt . rest)
  (apply bpf-fn-lower fn #:kind kind #:target target
         #:tracepoint-format fmt rest))

;;; ---- every boundary: print, read back, continue ----

(for-each
 (match-lambda
   ((name fn kind target fmt)
    (let ((c (car (lower fn kind target fmt))))
      (for-each
       (lambda (p)
         (let* ((tree (lower fn kind target fmt #:pass p))
                (from (next-pass p)))
           (test-equal (format #f "~a: C from the tree after ~a = C of the whole pipeline"
                               name p)
                       c
                       (car (lower fn kind target fmt
                                   #:ast tree #:from from)))
           ;; The tree is complete: continuing it gives, after every
           ;; later pass, the tree the whole pipeline has there.
           (for-each
            (lambda (q)
              (test-equal (format #f "~a: tree after ~a resumed after ~a" name
                                  q p)
                          (lower fn kind target fmt #:pass q)
                          (lower fn kind target fmt #:pass q
                                 #:ast tree #:from from)))
            (or (memq from '(resolve types bounds)) '()))))
       '(parse resolve types bounds)))))
 cases)

(test-equal "the tree after emit's pass before it reads back the whole result record"
            (bpf-fn-lowering lt-struct #:kind 'tracepoint #:target tp-target
                             #:tracepoint-format tp-format)
            (bpf-fn-lowering lt-struct #:kind 'tracepoint #:target tp-target
                             #:tracepoint-format tp-format
                             #:from 'emit
                             #:ast (bpf-fn-ast lt-struct #:pass 'bounds
                                               #:kind 'tracepoint
                                               #:target tp-target
                                               #:tracepoint-format tp-format)))

;;; ---- parsed once, resolved at each lowering ----

(define lt-limit-value 5)
(defbpf-struct lt-rd (a u32))
(bpf-fn lt-late (ctx)
  (let ((v (read-user (arg ctx 0) 'lt-rd)))
    (+ (lt-rd-a v) lt-limit-value)))
(define late-before (bpf-fn->c lt-late #:kind 'kprobe #:target "do_sys_open"))
(set! lt-limit-value 7)
(defbpf-struct lt-rd (a u64) (b u32))
(define late-after (bpf-fn->c lt-late #:kind 'kprobe #:target "do_sys_open"))
(test-assert "a Scheme integer is looked up when the body is lowered"
             (and (string-contains late-before "5ULL")
                  (string-contains late-after "7ULL")))
(test-assert "a struct read-user names is the one defined when lowering"
             (and (string-contains late-before "__u32 u_a")
                  (string-contains late-after "__u64 u_a")))

;;; ---- the tree between passes ----

(define (node? x) (and (pair? x) (symbol? (car x)) (not (eq? (car x) '@))))
(define (attrs x)
  (let ((l (last x)))
    (if (and (pair? l) (eq? (car l) '@)) (cdr l) '())))
(define (kids x)
  (filter node? (cdr x)))
(define (nodes tree)
  ;; Every node of TREE and of the inline bodies at its root.
  (let walk ((x tree))
    (cons x (append-map walk (kids x)))))
(define (inline-bodies tree)
  (map (lambda (i) (list-ref i 3)) (or (assq-ref (attrs tree) 'inlines) '())))
(define (all-nodes tree)
  (append (nodes tree) (append-map nodes (inline-bodies tree))))

(for-each
 (match-lambda
   ((name fn kind target fmt)
    (let ((resolved (lower fn kind target fmt #:pass 'resolve))
          (typed (lower fn kind target fmt #:pass 'types)))
      (test-assert (format #f "~a: after resolve no name is left unbound" name)
                   (every (lambda (n)
                            (not (or (eq? (car n) 'apply)
                                     (and (eq? (car n) 'symbol)
                                          (not (assq-ref (attrs n) 'quoted))))))
                          (nodes resolved)))
      (test-assert (format #f "~a: after resolve every local names its slot" name)
                   (every (lambda (n)
                            (or (not (eq? (car n) 'local))
                                (integer? (assq-ref (attrs n) 'slot))))
                          (nodes resolved)))
      (test-assert (format #f "~a: after types every expression has a type" name)
                   (every (lambda (n)
                            (or (assq-ref (attrs n) 'type)
                                ;; Names and binding lists are not
                                ;; expressions, nor is ...
                                (memq (car n) '(symbol keyword))
                                ;; The stack map (kstack) records into.
                                (and (eq? (car n) 'map)
                                     (member (assq-ref (attrs n) 'form)
                                             '((kstack) (ustack))))
                                (and (eq? (car n) 'begin)
                                     (every (lambda (k) (eq? (car k) 'set!))
                                            (kids n)))))
                          (all-nodes typed)))
      (test-assert (format #f "~a: every node keeps its line" name)
                   (every (lambda (n) (assq-ref (attrs n) 'line))
                          (nodes typed))))))
 cases)

(let ((typed (lower lt-inline 'kprobe "do_sys_open" #f #:pass 'types)))
  (test-equal "the root lists the inline instances types made"
              2 (length (assq-ref (attrs typed) 'inlines)))
  (test-equal "the root lists the maps in first use"
              '("lt-counts") (map bpf-map-name (assq-ref (attrs typed) 'maps))))

;;; ---- hand-built trees into each pass ----

(bpf-fn lt-hand (ctx) (return 1))

(test-assert "resolve: a hand-built parse tree"
             (string-contains
              (bpf-fn->c lt-hand #:kind 'xdp #:from 'resolve
                         #:ast '(begin (if (= (proto (symbol ctx)) (int 6))
                                           (return (symbol xdp-drop (@ (quoted . #t))))
                                           (return (keyword xdp-pass)))))
              "== (__u64)((__u64)6ULL))) { (void)({ return (int)((__u64)1ULL); }); } else { (void)({ return (int)((__u64)2ULL); }); }"))
(lower-error "resolve: an unbound name" ("unbound identifier nowhere")
             (bpf-fn->c lt-hand #:kind 'xdp #:from 'resolve
                        #:ast '(begin (+ (symbol nowhere) (int 1)))))

(test-assert "types: a hand-built resolved tree with a map reference"
             (string-contains
              (bpf-fn->c lt-hand #:kind 'kprobe #:target "do_sys_open" #:from 'types
                         #:ast `(begin (map-increment! (map (@ (ref . ,lt-counts)))
                                                       (pid))))
              "__k0 = (__u32)(bpf_get_current_pid_tgid () >> 32); GEBPF_MAP_INC (&u_lt_counts, &__k0, 1, __u64);"))
(test-assert "types: a local's slot and the locals' list"
             (string-contains
              (bpf-fn->c lt-hand #:kind 'xdp #:from 'types
                         #:ast '(begin (let (begin (set! x (int 5) (@ (slot . 0))))
                                         (begin (return (local (@ (slot . 0))))))
                                       (@ (locals (x)))))
              "__u64 v0 = ((__u64)5ULL); \t(void)({ return (int)v0; })"))
(lower-error "types: a type error" ("+ needs an integer, got the context")
             (bpf-fn->c lt-hand #:kind 'xdp #:from 'types
                        #:ast '(begin (+ (int 1) (ctx)))))

(define typed-ipv4
  '(begin (packet-ipv4 (ctx (@ (type . ctx))) (@ (type . header) (header . ipv4)))
          (@ (type . header) (header . ipv4))))
(test-assert "bounds: a typed packet form in an xdp program"
             (string-contains (bpf-fn->c lt-hand #:kind 'xdp #:from 'bounds
                                         #:ast typed-ipv4)
                              "gebpf_ip4 ("))
(lower-error "bounds: a packet form refused for a tracepoint"
             ("packet-ipv4 is not available in tracepoint programs")
             (bpf-fn->c lt-hand #:kind 'tracepoint #:target tp-target
                        #:tracepoint-format tp-format
                        #:from 'bounds #:ast typed-ipv4))

(test-assert "emit: a hand-built typed tree"
             (string-contains
              (bpf-fn->c lt-hand #:kind 'xdp #:from 'emit
                         #:ast '(begin (return (int 2 (@ (type . int)))
                                               (@ (type . noreturn)))
                                       (@ (type . noreturn))))
              "{\t(void)({ return (int)((__u64)2ULL); });\n}"))
(test-assert "emit: a form's text and line go into the C"
             (string-contains
              (bpf-fn->c lt-hand #:kind 'xdp #:from 'emit
                         #:ast '(begin (return (int 2 (@ (type . int)))
                                               (@ (type . noreturn) (line . 7)
                                                  (file . "hand.scm")
                                                  (form return 2)))
                                       (@ (type . noreturn))))
              "#line 7 \"hand.scm\""))

;;; ---- ill-formed trees ----

(define-syntax-rule (bad-tree name (part ...) from tree)
  (lower-error name ("bad tree" part ...)
               (bpf-fn->c lt-hand #:kind 'xdp #:from from #:ast tree)))

(bad-tree "an unknown op" ("unknown op frobnicate" "(frobnicate (int 1))")
          'types '(begin (frobnicate (int 1))))
(bad-tree "a root that is not begin" ("the root is (begin") 'types '(int 1))
(bad-tree "a node that is not a list" ("a node is a list") 'types
          '(begin 42))
(bad-tree "an unknown attribute" ("unknown attribute colour") 'types
          '(begin (int 1 (@ (colour . red)))))
(bad-tree "an unknown type" ("unknown type") 'types
          '(begin (int 1 (@ (type . float)))))
(bad-tree "a value type without its type" ("value-type") 'emit
          '(begin (int 1 (@ (type . value)))))
(bad-tree "a map form without a map" ("first kid is a map reference") 'types
          '(begin (map-get (int 1) (int 2))))
(bad-tree "a map reference to something else" ("map reference") 'types
          '(begin (map (@ (ref . 42)))))
(bad-tree "an unknown helper" ("helper") 'types
          '(begin (call no-such-helper)))
(bad-tree "a form with too many kids" ("takes") 'types
          '(begin (not (int 1) (int 2))))
(bad-tree "a slot beyond the locals" ("slot beyond") 'types
          '(begin (local (@ (slot . 3))) (@ (locals (x)))))
(bad-tree "a header field index out of range" ("header field") 'types
          '(begin (field (ctx) (@ (field . 100000)))))
(bad-tree "an unresolved application after resolve" ("unresolved") 'types
          '(begin (apply frob (int 1))))
(bad-tree "a resolved node given to resolve" ("made by the resolve pass")
          'resolve '(begin (local (@ (slot . 0)))))
(bad-tree "an inline call naming no instance" ("names no instance") 'emit
          `(begin (inline-call u_x__0 (@ (ref . ,lt-bump) (slot . 0)
                                         (type . int)))))
(bad-tree "a CO-RE field that is no C identifier" ("C identifiers") 'types
          `(begin (core-read (ctx) (symbol ,(string->symbol "x; y") (@ (quoted . #t))))))
(bad-tree "a case datum that is no integer" ("case data") 'types
          '(begin (case (int 1) (begin (int 2) (@ (form "six"))))))
(bad-tree "an integer out of range" ("out of range") 'types
          `(begin (int ,(expt 2 64))))
(bad-tree "a vector" ("vector") 'types '(begin (int 1 (@ (form . #(1 2))))))
(let ((l (list 'begin '(int 1))))
  (set-cdr! (cdr l) (cdr l))
  (bad-tree "a circular list" ("circular") 'types l))
(bad-tree "nodes nested too deep" ("nested deeper") 'types
          (let loop ((n 300) (x '(int 1)))
            (if (zero? n) (list 'begin x) (loop (- n 1) (list 'not x)))))
(let ((x (list 'not #f)))
  (set-car! (cdr x) x)
  (bad-tree "a node that contains itself" ("nested deeper") 'types
            (list 'begin x)))
(test-ebpf-error "#:ast needs #:from" 'ebpf-validation-error ("#:from")
                 (bpf-fn->c lt-hand #:ast '(begin (int 1))))
(test-ebpf-error "#:from needs #:ast" 'ebpf-validation-error ("#:ast")
                 (bpf-fn->c lt-hand #:from 'types))
(test-ebpf-error "parse takes no tree" 'ebpf-validation-error ("#:from")
                 (bpf-fn->c lt-hand #:ast '(begin (int 1)) #:from 'parse))
(test-ebpf-error "#:pass before #:from" 'ebpf-validation-error
                 ("comes before")
                 (bpf-fn-ast lt-hand #:pass 'resolve #:ast '(begin (int 1))
                             #:from 'types))

;;; ---- mutated trees: a lowering error or C, never a crash ----
;;;
;;; Trees printed after each pass, mutated at random (a subtree swapped
;;; for another, a kid dropped, an attribute changed), fed to the next
;;; pass in a child process: a signal or an error outside the ebpf-error
;;; family fails the test.

(define (mutate tree pool state)
  (define (rand n) (random n state))
  (define (pick l) (list-ref l (rand (length l))))
  (define targets (nodes tree))
  (define victim (pick targets))
  (define junk
    (list '(int -1) '(int 18446744073709551615) '(bool #t) '(string "*/")
          '(ctx) '(local (@ (slot . 0))) '(symbol x) #f 42 '(@)
          `(map (@ (ref . ,lt-counts)))
          '(begin) '(set! x (int 1)) '(int 1 (@ (type . value)))
          '(int 1 (@ (type . kernel-pointer) (btf-id . 1)))
          '(struct-ref (int 1) (@ (field . 0)))))
  (define (replace x)
    (cond ((eq? x victim)
           (case (rand 6)
             ((0) (pick (append junk pool)))
             ((1) (if (pair? (kids x)) (delete (pick (kids x)) x eq?) x))
             ((2) (let ((a (attrs x)))
                    (append (if (pair? a) (drop-right x 1) x)
                            (list (cons '@ (map (lambda (p)
                                                  (if (zero? (rand 2))
                                                      (cons (car p)
                                                            (pick '(-1 0 1 7 1000 #f #t int value
                                                                    header ipv4 "s" ())))
                                                      p))
                                                a))))))
             ((3) (cons (pick '(map-get let if case cond set-field! arg core-read
                                    inline-call make-struct struct-ref field
                                    kstack stack-id emit! return printk))
                        (cdr x)))
             ((4) (append (drop-right x (if (pair? (attrs x)) 1 0))
                          (list (pick (append junk pool)))
                          (if (pair? (attrs x)) (list (last x)) '())))
             (else (pick pool))))
          ((node? x) (map (lambda (k) (if (node? k) (replace k) k)) x))
          (else x)))
  (replace tree))

(define fuzz-cases (or (and=> (getenv "TREE_FUZZ_CASES") string->number) 400))
;; TREE_FUZZ_SEED changes the cases; TREE_FUZZ_TRACE=1 writes each case
;; to stderr before it runs.
(define trace? (getenv "TREE_FUZZ_TRACE"))

(define (fuzz-child)
  (let ((state (seed->random-state
                (or (and=> (getenv "TREE_FUZZ_SEED") string->number) 20261205)))
        (trees (append-map
                (match-lambda
                  ((name fn kind target fmt)
                   (map (lambda (p)
                          (list fn kind target fmt (next-pass p)
                                (lower fn kind target fmt #:pass p)))
                        '(parse resolve types bounds))))
                cases)))
    (let loop ((i 0) (bad 0))
      (if (= i fuzz-cases)
          bad
          (match (list-ref trees (random (length trees) state))
            ((fn kind target fmt from tree)
             (let* ((pool (nodes (sixth (list-ref trees (random (length trees)
                                                                state)))))
                    (m (mutate tree pool state))
                    (_ (when trace?
                         (format (current-error-port) "# case ~a from ~a: ~s~%"
                                 i from m)
                         (force-output (current-error-port))))
                    (ok (catch #t
                          (lambda ()
                            (lower fn kind target fmt #:ast m #:from from)
                            #t)
                          (lambda (key . args)
                            (or (memq key ebpf-error-keys)
                                (begin
                                  (format (current-error-port)
                                          "# ~s ~s from ~s~%" key args m)
                                  #f))))))
               (loop (+ i 1) (if ok bad (+ bad 1))))))))))

(let ((pid (primitive-fork)))
  (if (zero? pid)
      (primitive-_exit (min 100 (fuzz-child)))
      (let ((status (cdr (waitpid pid))))
        (test-assert (format #f "~a mutated trees: lowering errors or C, no crash"
                             fuzz-cases)
                     (begin
                       (unless (eqv? 0 (status:exit-val status))
                         (format #t "# child: exit ~s, signal ~s~%"
                                 (status:exit-val status)
                                 (status:term-sig status)))
                       (eqv? 0 (status:exit-val status)))))))

(harness-end)
