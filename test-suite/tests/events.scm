;;; Events into Scheme against the kernel: ring buffers (poll, consumer
;;; thread, drops, wake-up modes, the pollable fd, handler errors), perf
;;; buffers, the trace pipe, stack symbols and probe listing.  Events come
;;; from a tracepoint on the getpid calls of this process's main thread
;;; (other threads call getpid too: glibc's pthread_kill does, when the
;;; garbage collector stops the world), gated by a map so that only the
;;; calls of a test count.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (ice-9 rdelim) (ice-9 regex) (ice-9 threads) (rnrs bytevectors))

(harness-begin "events" 'kernel)

(define me (getpid))
(define (calls n thunk) (do ((i 0 (+ i 1))) ((= i n)) (thunk)))

(defbpf-struct tick (seq u64) (cpu u32) (pid u32))
(defbpf-map gate #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(defbpf-map seqs #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 1)
(defbpf-map ticks #:kind 'ringbuf #:max-entries (* 16 1024 1024))
(defbpf-map tiny #:kind 'ringbuf #:max-entries 4096)
(defbpf-map pids #:kind 'ringbuf #:value 'u32)
(defbpf-map untyped #:kind 'ringbuf)
(defbpf-map pevs #:kind 'perf-event-array)
(defbpf-map stacks #:kind 'stack-trace #:max-entries 256)
(defbpf-map sids #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)

(bpf-fn tick-probe (ctx)
  (when (and (= (tid) (const me)) (= (map-ref gate 0 0) 1))
    (map-increment! seqs 0)
    (let ((t (make-tick #:seq (map-ref seqs 0 0) #:cpu (cpu) #:pid (pid))))
      (emit! ticks t)
      (emit! tiny t))
    (emit! pids (pid))
    (emit! untyped (+ 1000 (cpu)))
    (perf-emit! pevs (pid))
    (printk "guile-ebpf-events %d" (pid))
    ;; A stack whose hash bucket holds another one gets -EEXIST: keep
    ;; the last id that was taken, so the test reads a stack, not a
    ;; collision.
    (let ((k (stack-id ctx stacks))
          (u (stack-id ctx stacks #:user? #t)))
      (when (>= k 0) (map-set! sids 0 (+ 1 k)))
      (when (>= u 0) (map-set! sids 1 (+ 1 u))))))

(define prog (make-bpf-program
              `((name . "tick-probe") (kind . tracepoint)
                (attach . "syscalls/sys_enter_getpid") (source . ,tick-probe)
                (constants . ((me . ,me))))))
(bpf-attach! prog)

(define (gated n)
  ;; N getpid calls that the program sees.
  (bpf-map-set! gate 0 1)
  (calls n getpid)
  (bpf-map-set! gate 0 0))

(define (drain! rb)
  (let lp () (when (> (bpf-ringbuf-poll rb (const #t) #:timeout-ms 0) 0) (lp))))

(define (per-cpu-seqs)
  (bpf-map-ref seqs 0))

;; ---- 100,000 events through a consumer thread, none lost ----

(define received '())
(define before (per-cpu-seqs))
(bpf-ringbuf-start! ticks (lambda (e) (set! received (cons e received))))
(test-assert "a consumer thread runs" (bpf-ringbuf-running? ticks))
(test-equal "the consumer drains in batches (no wake-ups)" 'batch
            (bpf-ringbuf-wakeup ticks))
(gated 100000)
(define stats (bpf-ringbuf-stop! ticks))
(define events (reverse received))
(test-assert "stopped" (not (bpf-ringbuf-running? ticks)))
(test-equal "wake-ups restored on stop" 'adaptive (bpf-ringbuf-wakeup ticks))
;; The program counts what it emits (seqs); Guile's collector may add a
;; getpid call of its own (glibc's pthread_kill asks the kernel for the
;; pid), so the count is checked against the kernel's, not a constant.
(define emitted (apply + (map - (vector->list (per-cpu-seqs)) (vector->list before))))
(test-assert "at least 100,000 events emitted" (>= emitted 100000))
(test-equal "every event emitted was delivered" emitted (length events))
(test-equal "stats: delivered" emitted (assq-ref stats 'delivered))
(test-equal "stats: none dropped with a 16 MiB ring" 0 (assq-ref stats 'dropped))
(test-assert "decoded as tick records" (every tick? events))
(test-assert "every event is this process's" (every (lambda (e) (= (tick-pid e) me)) events))
(test-assert "in order per CPU, no gaps"
             (let ((last (make-hash-table)))
               (every (lambda (e)
                        (let* ((c (tick-cpu e))
                               (prev (hash-ref last c (vector-ref before c))))
                          (hash-set! last c (tick-seq e))
                          (= (tick-seq e) (+ prev 1))))
                      events)))
(test-equal "per-CPU counts agree with the kernel's counters"
            (map - (vector->list (per-cpu-seqs)) (vector->list before))
            (map (lambda (c) (count (lambda (e) (= (tick-cpu e) c)) events))
                 (iota (vector-length before))))

;; ---- a tiny ring: drops counted by emit!, never silent ----

(define tiny-stats (bpf-ringbuf-stats tiny))
(test-assert "tiny ring: drops counted" (> (assq-ref tiny-stats 'dropped) 90000))
(drain! tiny)
(test-equal "tiny ring: delivered + dropped = emitted" emitted
            (+ (assq-ref (bpf-ringbuf-stats tiny) 'delivered)
               (assq-ref (bpf-ringbuf-stats tiny) 'dropped)))
(test-assert "metrics-visible ring names" (member "tiny" (bpf-ringbuf-names)))

;; ---- records decode by the map's type, or the type emit! writes ----

(drain! untyped)
(define pid-values '())
(bpf-ringbuf-poll pids (lambda (p) (set! pid-values (cons p pid-values))) #:timeout-ms 0)
(test-equal "a #:value 'u32 ring decodes integers" (list me) (delete-duplicates pid-values))
(test-equal "an untyped ring decodes by what emit! writes" 'u64
            (bpf-type-spec (bpf-record-type untyped)))
(gated 3)
(define untyped-values '())
(bpf-ringbuf-poll untyped (lambda (v) (set! untyped-values (cons v untyped-values))))
(test-assert "... integers" (and (= 3 (length untyped-values))
                                 (every (lambda (v) (>= v 1000)) untyped-values)))

;; ---- bpf-ringbuf-poll: order, pending records after a raise ----

(drain! ticks)
(gated 10)
(define seen '())
(test-assert "a raising handler propagates"
             (catch 'boom
               (lambda ()
                 (bpf-ringbuf-poll ticks (lambda (e)
                                           (set! seen (cons e seen))
                                           (when (= (length seen) 4) (throw 'boom))))
                 #f)
               (const #t)))
(test-equal "... and the records not handled stay pending" 6
            (assq-ref (bpf-ringbuf-stats ticks) 'pending))
(test-equal "the next poll hands them over" 6
            (bpf-ringbuf-poll ticks (lambda (e) (set! seen (cons e seen))) #:timeout-ms 0))
(test-equal "ten records, in order" (iota 10 (tick-seq (last seen)))
            (map tick-seq (reverse seen)))

;; One poll spans several takes from the ring (they are taken in chunks
;; of a few thousand); #:max still bounds it, and order holds across.
(drain! ticks)
(gated 20000)
(define big '())
(test-equal "a poll of #:max 17000 over 20000 records hands over 17000" 17000
            (bpf-ringbuf-poll ticks (lambda (e) (set! big (cons e big)))
                              #:timeout-ms 0 #:max 17000))
(test-equal "... the rest in the next poll" 3000
            (bpf-ringbuf-poll ticks (lambda (e) (set! big (cons e big)))
                              #:timeout-ms 0))
(test-assert "... all 20000, each CPU's in order across takes"
             ;; seq counts per CPU: each CPU's records are consecutive.
             (let ((all (reverse big)))
               (and (= 20000 (length all))
                    (every (lambda (c)
                             (let ((seqs (map tick-seq
                                              (filter (lambda (e) (= c (tick-cpu e))) all))))
                               (equal? seqs (iota (length seqs) (car seqs)))))
                           (delete-duplicates (map tick-cpu all))))))
(test-ebpf-error "a bad #:max is named" 'ebpf-validation-error ("record count")
                 (bpf-ringbuf-poll ticks (const #t) #:timeout-ms 0 #:max 0))

;; ---- the consumer thread survives handler errors ----

(define err (open-output-string))
(define good 0)
(bpf-ringbuf-start! ticks (lambda (e)
                            (if (zero? (modulo (tick-seq e) 3))
                                (error "handler failure" (tick-seq e))
                                (set! good (+ good 1))))
                    #:interval-ms #f #:error-port err)
(test-equal "adaptive wake-ups with #:interval-ms #f" 'adaptive (bpf-ringbuf-wakeup ticks))
(gated 30)
(define s2 (bpf-ringbuf-stop! ticks))
(test-equal "handler errors counted" 10 (assq-ref s2 'handler-errors))
(test-equal "the other records handled" 20 good)
(test-assert "handler errors reported on the error port"
             (string-contains (get-output-string err) "handler failure"))
(test-ebpf-error "one consumer per ring" 'ebpf-error ("consumer thread")
                 (begin (bpf-ringbuf-start! ticks (const #t))
                        (dynamic-wind (const #t)
                                      (lambda () (bpf-ringbuf-poll ticks (const #t)))
                                      (lambda () (bpf-ringbuf-stop! ticks)))))

;; ---- a pollable fd for select or Fibers ----

(drain! ticks)
(define fd (bpf-ringbuf-fd ticks))
(test-assert "the fd is an integer" (and (integer? fd) (>= fd 0)))
(test-equal "nothing to read: select times out" '()
            (car (select (list fd) '() '() 0 20000)))
(gated 1)
(test-equal "an event makes it readable" (list fd)
            (car (select (list fd) '() '() 1)))
(test-equal "then poll without waiting" 1 (bpf-ringbuf-poll ticks (const #t) #:timeout-ms 0))

;; ---- wake-up modes ----

(test-equal "set batch" 'batch (begin (bpf-ringbuf-set-wakeup! ticks 'batch)
                                       (bpf-ringbuf-wakeup ticks)))
(gated 5)
(test-equal "batch: records are there for an interval drain" 5
            (bpf-ringbuf-poll ticks (const #t) #:timeout-ms 0))
(bpf-ringbuf-set-wakeup! ticks 'adaptive)
(test-ebpf-error "unknown mode" 'ebpf-validation-error ("wake-up mode" "adaptive")
                 (bpf-ringbuf-set-wakeup! ticks 'sometimes))
(test-ebpf-error "poll of a non-ring map" 'ebpf-validation-error ("gate" "ringbuf")
                 (bpf-ringbuf-poll gate (const #t)))
(test-ebpf-error "poll of an unknown map" 'ebpf-map-error ("nosuch")
                 (bpf-ringbuf-poll "nosuch" (const #t)))

;; ---- perf buffers ----

(bpf-perf-poll pevs (const #t) #:timeout-ms 0)   ; opens the buffers
(gated 50)
(define perf-pids '())
(let lp ()
  (when (> (bpf-perf-poll pevs (lambda (p) (set! perf-pids (cons p perf-pids)))
                          #:timeout-ms 50)
           0)
    (lp)))
(test-equal "perf samples decoded" 50 (length perf-pids))
(test-equal "... as this process's pid" (list me) (delete-duplicates perf-pids))
(test-equal "perf stats" '((delivered . 50) (lost . 0)) (bpf-perf-stats pevs))
(test-assert "perf fd" (integer? (bpf-perf-fd pevs)))

;; Packet metadata and the packet's first bytes in one sample
;; (xdp-tutorial tracing04, xdp_sample_pkts): #:packet-bytes N sends at
;; most N bytes of the packet after the record.
(defbpf-struct pkt-meta (cookie u16) (pkt-len u16))
(defbpf-map pkt-samples #:kind 'perf-event-array #:value 'pkt-meta)
(define (sampler kind n)
  (bpf-fn sample-pkt (ctx)
    (perf-emit! pkt-samples (make-pkt-meta #:cookie #xdead
                                           #:pkt-len (packet-length ctx))
                #:packet-bytes ,n)
    (return ,(if (eq? kind 'xdp) 2 0)))   ; xdp-pass, tc-act-ok
  (make-bpf-program `((name . ,(format #f "sample-~a-~a" kind n)) (kind . ,kind)
                      (attach . "lo") (source . ,sample-pkt))))
(define sampled-pkt (make-udp-packet #:src "10.0.0.1" #:dst "10.0.0.2"
                                     #:sport 1 #:dport 2 #:payload "sampled"))
(define (head bv n)
  (let ((h (make-bytevector n))) (bytevector-copy! bv 0 h 0 n) h))
(bpf-perf-poll pkt-samples (const #t) #:timeout-ms 0)
(for-each
 (lambda (kind n)
   (bpf-test-run (sampler kind n) sampled-pkt)
   (let ((got '()))
     (bpf-perf-poll pkt-samples (lambda (s) (set! got (cons s got)))
                    #:timeout-ms 100 #:packet-bytes? #t)
     (match got
       (((m . bytes))
        (let ((want (min n (bytevector-length sampled-pkt))))
          (test-equal (format #f "~a #:packet-bytes ~a: the record" kind n)
                      '(#xdead #t)
                      (list (pkt-meta-cookie m)
                            (= (pkt-meta-pkt-len m)
                               (bytevector-length sampled-pkt))))
          (test-equal (format #f "~a #:packet-bytes ~a: ~a packet bytes after it"
                              kind n want)
                      (head sampled-pkt want)
                      (head bytes want))
          (test-assert (format #f "~a #:packet-bytes ~a: then at most 7 bytes of padding"
                               kind n)
                       (< (- (bytevector-length bytes) want) 8))))
       (_ (test-assert (format #f "~a #:packet-bytes ~a: one sample, got ~a"
                               kind n got)
                       #f)))))
 '(xdp xdp tc) '(16 1500 1500))

;; ---- the trace pipe ----

(define pipe-out (open-output-string))
(define pipe-thread
  (call-with-new-thread
   (lambda ()
     (bpf-trace-pipe #:duration-ms 1500 #:match (format #f "guile-ebpf-events ~a" me)
                     pipe-out))))
(usleep 300000)
(gated 3)
(define piped (join-thread pipe-thread))
(test-assert "printk lines copied from the trace pipe" (>= piped 3))
(test-assert "... as the kernel writes them"
             (string-contains (get-output-string pipe-out) "bpf_trace_printk: guile-ebpf-events"))

;; ---- stacks ----

(define kstack (bpf-stack-symbols stacks (- (bpf-map-ref sids 0) 1)))
(define ustack (bpf-stack-symbols stacks (- (bpf-map-ref sids 1) 1)))
(test-assert "kernel stack symbolized from kallsyms"
             (any (lambda (f) (string-contains f "do_syscall_64+")) kstack))
(test-assert "user stack symbolized from ELF symbols"
             (any (lambda (f) (string-prefix? "getpid+" f)) ustack))
(test-assert "frames are SYMBOL+OFFSET or 0xADDRESS"
             (every (lambda (f) (or (string-match "^[^+]+\\+[0-9]+$" f)
                                    (string-prefix? "0x" f)))
                    (append kstack ustack)))
(test-ebpf-error "a failed stack-id" 'ebpf-validation-error ("errno 14")
                 (bpf-stack-symbols stacks -14))

;; ---- probes ----

(test-equal "tracepoints by glob"
            '("tracepoint:syscalls:sys_enter_getpid" "tracepoint:syscalls:sys_enter_getppid")
            (bpf-list-probes "syscalls:sys_enter_get*pid"))
(test-assert "fentry targets from BTF"
             (member "fentry:vfs_read" (bpf-list-probes "fentry:vfs_read*")))
(test-equal "LSM hooks from BTF" '("lsm:file_open") (bpf-list-probes "lsm:file_open"))
(test-assert "a bare name searches every kind"
             (let ((all (bpf-list-probes "*sys_getpid")))
               (every (lambda (p) (string-prefix? "fentry:" p)) all)))

(bpf-unload! prog)
(for-each bpf-ringbuf-close! (list ticks tiny pids untyped))
(bpf-perf-close! pevs)
(harness-end)
