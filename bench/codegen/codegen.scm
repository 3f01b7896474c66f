;;; codegen.scm --- generated code against hand-written BPF C.
;;;
;;; Run by bench/codegen/run, which builds the hand-written objects first
;;; and passes their paths in the environment:
;;;
;;;   BENCH_BUILD         directory for packets and generated C
;;;   BENCH_REF_OBJECT    the reference XDP filter, built with clang
;;;   BENCH_EMPTY_OBJECT  an XDP program that only returns XDP_PASS
;;;   BENCH_TRACE_OBJECT  count_getpid.bpf.c, built with clang
;;;   REPEAT ROUNDS       BPF_PROG_TEST_RUN repeat count, rounds
;;;   CALLS TROUNDS       getpid calls per tracing round, tracing rounds
;;;
;;; The XDP bpf-fn below has the semantics of the reference filter.  This
;;; script writes the packets the timing driver (test_run.c) reads, checks
;;; that both programs give the same verdict and count the same way on a
;;; set of packets, reads the kernel's instruction counts, times the
;;; programs with bpf-test-run (inside guile-ebpf: the kernel's run-time
;;; statistics are on), and compares a tracing bpf-fn with count_getpid.c.
;;; Every result is one line on stdout: a word naming it, then fields.
;;; It exits with status 1 if a verdict or a count differs.

(use-modules (ebpf)
             (rnrs bytevectors)
             (rnrs io ports)
             (srfi srfi-1)
             (ice-9 format)
             (ice-9 regex))

(define (env name default)
  (or (getenv name) default))
(define (env-int name default)
  (string->number (env name (number->string default))))

(define build (env "BENCH_BUILD" "bench/codegen/build"))
(define ref-object (env "BENCH_REF_OBJECT" #f))
(define empty-object (env "BENCH_EMPTY_OBJECT" #f))
(define trace-object (env "BENCH_TRACE_OBJECT" #f))
(define repeat (env-int "REPEAT" 1000000))
(define rounds (env-int "ROUNDS" 21))
(define calls (env-int "CALLS" 200000))
(define trace-rounds (env-int "TROUNDS" 11))

(define (out . fields)
  (display (string-join (map (lambda (f) (format #f "~a" f)) fields) " "))
  (newline)
  (force-output))

(define (median l)
  (let ((v (list->vector (sort l <))) (n (length l)))
    (if (odd? n)
        (vector-ref v (quotient n 2))
        (/ (+ (vector-ref v (- (quotient n 2) 1)) (vector-ref v (quotient n 2)))
           2))))

;;; ------------------------------------------------------------------
;;; The XDP filter.

(defbpf-map blocklist #:kind 'hash #:key 'ipv4 #:value 'u32
  #:max-entries 1024)
(defbpf-map counters #:kind 'per-cpu-array #:key 'u32 #:value 'u64
  #:max-entries 5)

;; (packet-ipv4 ctx) checks the ethertype and the header's bounds, and
;; (packet-tcp ip) the protocol, ihl >= 5 and the TCP header's bounds;
;; the reference also wants version 4, so that is checked here.  The
;; address lookup comes before the flag tests, as in the reference.
(bpf-fn xdp-filter (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (when (and ip (= (ipv4-version ip) 4))
      (let ((tcp (packet-tcp ip)))
        (when tcp
          (let ((verdict (if (and (map-get blocklist (ipv4-saddr ip))
                                  (tcp-syn? tcp)
                                  (not (tcp-ack? tcp)))
                             :xdp-drop
                             :xdp-pass)))
            (map-increment! counters verdict)
            (return verdict)))))
    (return :xdp-pass)))

;; The program is never attached; the target only satisfies the rule that
;; XDP programs name one.
(define gen
  (make-bpf-program `((name . "codegen-xdp-filter") (kind . xdp)
                      (attach . "lo") (source . ,xdp-filter))))
(bpf-load! gen)

(define gen-c (bpf-program-c gen))
(call-with-output-file (string-append build "/xdp_filter.gen.c")
  (lambda (p) (display gen-c p)))
(out "object" "gen" (bpf-object-path (bpf-program-object gen)))

;; What-if, while map-increment! of the per-CPU counter is lowered to
;; GEBPF_MAP_INC (create the entry at 0, then an atomic add): the same C
;; with the counter written as the reference writes it (lookup, then a
;; plain add; an array element always exists), to show what lowering it
;; that way would buy.  Not made when the emitter already does so.
(define whatif-c
  (let ((m (string-match
            "GEBPF_MAP_INC \\(&u_counters, &(__k[0-9]+), 1, __u64\\);" gen-c)))
    (and m
         (regexp-substitute
          #f m 'pre
          "{ __u64 *__v = bpf_map_lookup_elem (&u_counters, &" 1
          "); if (__v) *__v += 1; }" 'post))))
(define whatif
  (and whatif-c
       (bpf-object-load (bpf-build-c whatif-c) #:kind 'xdp)))
(when whatif
  (call-with-output-file (string-append build "/xdp_filter.whatif.c")
    (lambda (p) (display whatif-c p)))
  (out "object" "whatif" (bpf-object-path whatif)))

;; The reference shares the declared maps (same names).
(define ref (bpf-object-load ref-object #:kind 'xdp))
(define empty (bpf-object-load empty-object #:kind 'xdp))
(out "object" "ref" ref-object)
(out "object" "empty" empty-object)

(define listed "10.1.2.3")
(define unlisted "10.1.2.4")
(bpf-map-set! blocklist listed 1)

;;; Packets.

(define pad (make-bytevector 10 0))     ; 14 + 20 + 20 + 10 = 64 bytes

(define (syn-from src . rest)
  (apply make-tcp-packet #:src src #:dst "10.0.0.2" #:sport 40000
         #:dport 80 #:payload pad rest))

(define (edited bv index value)
  (let ((c (bytevector-copy bv)))
    (bytevector-u8-set! c index value)
    c))

(define (truncated bv n)
  (let ((c (make-bytevector n)))
    (bytevector-copy! bv 0 c 0 n)
    c))

(define syn-listed (syn-from listed))
(define syn-unlisted (syn-from unlisted))

(define packets
  `(("syn-listed" . ,syn-listed)
    ("syn-unlisted" . ,syn-unlisted)
    ("synack-listed" . ,(syn-from listed #:flags '(syn ack)))
    ("ack-listed" . ,(syn-from listed #:flags '(ack)))
    ("rst-listed" . ,(syn-from listed #:flags '(rst)))
    ("syn-listed-ip-options" . ,(syn-from listed #:ip-options #vu8(1 1 1 0)))
    ("syn-listed-fragment" . ,(syn-from listed #:fragment-offset 8))
    ("syn-listed-vlan" . ,(syn-from listed #:vlan 7))
    ("syn-listed-version-6" . ,(edited syn-listed 14 #x65))
    ("syn-listed-ihl-4" . ,(edited syn-listed 14 #x44))
    ("udp-listed" . ,(make-udp-packet #:src listed #:dst "10.0.0.2"
                                      #:sport 5353 #:dport 53 #:payload pad))
    ("icmp-listed" . ,(make-icmp-packet #:src listed #:dst "10.0.0.2"))
    ("syn-ipv6" . ,(make-tcp-packet #:src "2001:db8::1" #:dst "2001:db8::2"
                                    #:flags '(syn)))
    ("arp" . ,(make-arp-packet))
    ("short-14-eth-only" . ,(truncated syn-listed 14))
    ("short-33-partial-ip" . ,(truncated syn-listed 33))
    ("short-34-no-tcp" . ,(truncated syn-listed 34))
    ("short-53-partial-tcp" . ,(truncated syn-listed 53))))

(for-each (lambda (p)
            (call-with-output-file (string-append build "/" (car p) ".pkt")
              (lambda (port) (put-bytevector port (cdr p)))
              #:binary #t)
            (out "packet" (car p) (bytevector-length (cdr p))))
          packets)

;;; Same verdicts, same counting.

(define (counter-sums)
  (map (lambda (i) (bpf-map-ref/sum counters i)) (iota 5)))

(define (run-counted prog data)
  ;; The verdict, and the change of every counter as "c0,c1,...".
  (let* ((before (counter-sums))
         (v (bpf-run-result-verdict (bpf-test-run prog data)))
         (after (counter-sums)))
    (values v (string-join (map (lambda (a b) (number->string (- a b)))
                                after before)
                           ","))))

(define mismatches 0)
(for-each
 (lambda (p)
   (call-with-values (lambda () (run-counted gen (cdr p)))
     (lambda (gv gd)
       (call-with-values (lambda () (run-counted ref (cdr p)))
         (lambda (rv rd)
           (let ((ok (and (eq? gv rv) (string=? gd rd))))
             (unless ok (set! mismatches (+ mismatches 1)))
             (out "check" (car p) gv rv gd rd (if ok "same" "DIFFERENT"))))))))
 packets)
(when whatif
  (for-each (lambda (p)
              (unless (eq? (bpf-run-result-verdict (bpf-test-run whatif (cdr p)))
                           (bpf-run-result-verdict (bpf-test-run ref (cdr p))))
                (set! mismatches (+ mismatches 1))
                (out "check-whatif" (car p) "DIFFERENT")))
            packets))

;;; Instructions.

(define (insns name info)
  (out "insns" name (assq-ref info 'xlated-insns) (assq-ref info 'jited-bytes)
       (assq-ref info 'verified-insns)))
(let ((s (bpf-program-stats gen)))
  (insns "gen" s))
(insns "ref" (bpf-object-info ref))
(insns "empty" (bpf-object-info empty))
(when whatif (insns "whatif" (bpf-object-info whatif)))

;;; bpf-test-run inside guile-ebpf (statistics on).

(define timed
  (append `(("gen" . ,(bpf-program-object gen)) ("ref" . ,ref))
          (if whatif `(("whatif" . ,whatif)) '())
          `(("empty" . ,empty))))
(do ((r 0 (+ r 1))) ((= r rounds))
  (for-each
   (lambda (pkt)
     (for-each
      (lambda (t)
        (out "gtime" (car t) pkt
             (bpf-run-result-duration-ns
              (bpf-test-run (cdr t) (assoc-ref packets pkt) #:repeat repeat))))
      (if (odd? r) (reverse timed) timed)))
   '("syn-listed" "syn-unlisted")))

(bpf-unload! gen)
(for-each bpf-object-close! (filter identity (list ref empty whatif)))

;;; ------------------------------------------------------------------
;;; Tracing: count one process's getpid calls.

(define tracepoint "syscalls/sys_enter_getpid")
(define me (getpid))

(defbpf-map pidcount #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)

(bpf-fn count-getpid (ctx)
  (when (= (tgid) (const target-pid))
    (map-increment! pidcount 0)))

(define tgen
  (make-bpf-program `((name . "codegen-count-getpid") (kind . tracepoint)
                      (attach . ,tracepoint) (source . ,count-getpid)
                      (constants . ((target-pid . ,me))))))
(bpf-load! tgen)
(call-with-output-file (string-append build "/count_getpid.gen.c")
  (lambda (p) (display (bpf-program-c tgen) p)))
(out "object" "tgen" (bpf-object-path (bpf-program-object tgen)))
(define tref (bpf-object-load trace-object #:kind 'tracepoint
                              #:constants `((target-pid . ,me))))
(out "object" "tref" trace-object)

(insns "tgen" (bpf-program-stats tgen))
(insns "tref" (bpf-object-info tref))

(define (call-getpid n)
  (do ((i 0 (+ i 1))) ((= i n)) (getpid)))

(define (wall-ns thunk)
  (let ((t0 (get-internal-real-time)))
    (thunk)
    (/ (* (- (get-internal-real-time) t0) 1e9) internal-time-units-per-second)))

;; Each way of running the counter: attach it, call getpid CALLS times,
;; detach it; the kernel's run-time statistics give the time per event.
;; "direct" attaches the generated object itself, as the hand-written one
;; is; "program" is bpf-attach! of the program, which goes through
;; guile-ebpf's dispatcher (a stub that tail-calls the program; the
;; statistics are the stub's and include the tail call).
(define (measure-direct obj)
  (lambda ()
    (let ((link (bpf-object-attach obj #:target tracepoint)))
      (lambda () (bpf-link-destroy! link)))))

(define variants
  `(("tgen" ,(lambda () (bpf-object-info (bpf-program-object tgen)))
     ,(measure-direct (bpf-program-object tgen)))
    ("tref" ,(lambda () (bpf-object-info tref))
     ,(measure-direct tref))
    ("tgen-dispatched" ,(lambda () (bpf-program-stats tgen))
     ,(lambda () (bpf-attach! tgen) (lambda () (bpf-detach! tgen))))))

(call-getpid calls)                     ; warm-up
(do ((r 0 (+ r 1))) ((= r trace-rounds))
  (out "twall" "none" (/ (wall-ns (lambda () (call-getpid calls))) calls))
  (for-each
   (lambda (v)
     (let* ((name (car v))
            (info (cadr v))
            (detach ((caddr v)))
            (i0 (info))
            (c0 (bpf-map-ref pidcount 0))
            (ns (wall-ns (lambda () (call-getpid calls))))
            (c1 (bpf-map-ref pidcount 0))
            (i1 (info)))
       (detach)
       (let ((runs (- (assq-ref i1 'run-count) (assq-ref i0 'run-count)))
             (time (- (assq-ref i1 'run-time-ns) (assq-ref i0 'run-time-ns))))
         (unless (= (- c1 c0) calls)
           (set! mismatches (+ mismatches 1)))
         (out "tcount" name (- c1 c0) calls)
         (out "twall" name (/ ns calls))
         (out "trace" name (if (> runs 0) (exact->inexact (/ time runs)) 0)))))
   (if (odd? r) (reverse variants) variants)))

(bpf-unload! tgen)
(bpf-object-close! tref)

(exit (if (zero? mismatches) 0 1))
