;;; Forms whose generated C is kept as golden files (test-suite/golden/*.c).
;;; Regenerate with `make golden' after a deliberate change to the
;;; emitter, and review the diff.
(define-module (golden forms)
  #:use-module (ebpf)
  #:export (golden-cases))

(defbpf-map blocked #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u32
  #:max-entries 1024)
(defbpf-map verdicts #:kind 'per-cpu-array #:key 'u32 #:value 'u64
  #:max-entries 5)
(defbpf-struct exec-event (pid u32) (comm (string 16)))
(defbpf-map exec-events #:kind 'ringbuf #:value 'exec-event)

;; DESIGN's seed example.
(bpf-fn drop-syn (ctx)
  (if (= (proto ctx) :tcp)
      (return :xdp-drop)
      (return :xdp-pass)))

;; Headers, an LPM lookup by address, a per-CPU counter.
(bpf-fn firewall (ctx)
  (let* ((ip (packet-ipv4 ctx))
         (tcp (packet-tcp ip))
         (verdict (if (and tcp (tcp-syn? tcp) (map-get blocked (ipv4-saddr ip)))
                      :xdp-drop
                      :xdp-pass)))
    (map-increment! verdicts verdict)
    (return verdict)))

;; A struct event into a ring buffer.
(bpf-fn exec-snoop (ctx)
  (emit! exec-events (make-exec-event #:pid (pid) #:comm (comm))))

(define golden-cases
  (list (list "drop-syn" drop-syn 'xdp #f)
        (list "firewall" firewall 'xdp #f)
        (list "exec-snoop" exec-snoop 'tracepoint "sched/sched_process_exec")))
