;;; edge-protection.scm --- a SYN-flood mitigation policy, for real.
;;;
;;; Shows: the edge-protection policy written in the tatara spelling
;;; (:name "syn-counter" ...), made real.  An XDP program written in
;;; Scheme (bpf-fn) drops TCP SYNs from sources in a blocklist (an LPM
;;; trie of networks) and from sources over a rate (SYNs per source per
;;; second, counted in an LRU hash keyed by a struct), and counts every
;;; dropped SYN in the per-CPU map syn-counter.  The policy is planned
;;; (a dry run prints the steps), applied, reported on, and removed.
;;;
;;; Traffic is real: the example makes a network namespace joined to
;;; this one by a veth pair, attaches the program to the veth end on
;;; this side, and opens TCP connections from three addresses on the
;;; other side -- a well-behaved client, a flooder and a blocklisted
;;; host -- then prints what the program counted.  Everything it made
;;; (policy, namespace, interfaces) is undone before it exits.
;;;
;;; Run (as root, with ip(8)):
;;;   ./pre-inst-env guile -s examples/edge-protection.scm
;;; It exits by itself in a few seconds.

(use-modules (ebpf) (ice-9 format) (ice-9 match))

(define (section title) (format #t "~%== ~a ==~%" title))

;;; The network: ns side 10.200.0.2 (client), .3 (flooder), 10.200.1.7
;;; (blocklisted network), this side 10.200.0.1 with the XDP program.
(define tag (number->string (getpid)))
(define netns (string-append "gebpf-edge-" tag))
(define veth-here (string-append "gedge" tag))   ; at most 15 characters
(define veth-there (string-append "gedgp" tag))
(define server "10.200.0.1")
(define port 8080)

(define (sh . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" args)))
(define (quiet . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))

(define (make-network!)
  (sh "ip" "netns" "add" netns)
  (sh "ip" "link" "add" veth-here "type" "veth" "peer" "name" veth-there)
  (sh "ip" "link" "set" veth-there "netns" netns)
  (sh "ip" "addr" "add" (string-append server "/16") "dev" veth-here)
  (sh "ip" "link" "set" veth-here "up")
  (for-each (lambda (a)
              (sh "ip" "-n" netns "addr" "add" (string-append a "/16")
                  "dev" veth-there))
            '("10.200.0.2" "10.200.0.3" "10.200.1.7"))
  (sh "ip" "-n" netns "link" "set" veth-there "up")
  (sh "ip" "-n" netns "link" "set" "lo" "up"))

(define (remove-network!)
  (quiet "ip" "link" "del" veth-here)
  (quiet "ip" "netns" "del" netns))

;;; ------------------------------------------------------------------
;;; The declarations.  The map and the policy are the tatara examples,
;;; verbatim; the program is the real one.

(defbpf-map
  :name "syn-counter"
  :kind :per-cpu-array
  :key-size 4 :value-size 8 :max-entries 1)

;; Blocked networks -> a reason code.
(defbpf-map blocklist #:kind 'lpm-trie #:key '(prefix ipv4) #:value 'u32
  #:max-entries 256)

;; SYNs seen per source and one-second window.
(defbpf-struct src-window (saddr ipv4) (window u32))
(defbpf-map syn-rate #:kind 'lru-hash #:key 'src-window #:value 'u64
  #:max-entries 4096)

;; What happened to the SYNs: 0 passed, 1 over the rate, 2 blocklisted.
(defbpf-map syn-verdicts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 3)

(define max-syn-per-second 10)

(bpf-fn drop-syn (ctx)
  (let ((ip (packet-ipv4 ctx))
        (tcp (packet-tcp ctx)))
    (when (and ip tcp (tcp-syn? tcp) (not (tcp-ack? tcp)))
      (let ((src (ipv4-saddr ip)))
        (when (map-get blocklist src)
          (map-increment! syn-counter 0)
          (map-increment! syn-verdicts 2)
          (return :xdp-drop))
        (let ((key (make-src-window #:saddr src
                                    #:window (/ (ktime-ns) 1000000000))))
          (map-increment! syn-rate key)
          (when (> (map-ref syn-rate key 0) ,max-syn-per-second)
            (map-increment! syn-counter 0)
            (map-increment! syn-verdicts 1)
            (return :xdp-drop)))
        (map-increment! syn-verdicts 0)))
    (return :xdp-pass)))

(defbpf-program drop-syn-flood
  #:kind 'xdp
  #:attach `(#:target ,veth-here #:mode auto)
  #:source drop-syn
  #:license "GPL")

(defbpf-policy
  :name "edge-protection"
  :description "L4 SYN-flood mitigation"
  :programs ("drop_syn_flood")
  :maps ("syn_counter"))

;;; ------------------------------------------------------------------
;;; Traffic: N connection attempts from SOURCE, each a new SYN.  A SYN
;;; that passes is answered (RST: nothing listens) and the attempt
;;; ends; a dropped one is abandoned after a short wait.

(define (client-script source n)
  (format #f "(let loop ((i 0))
  (when (< i ~a)
    (let ((s (socket AF_INET SOCK_STREAM 0)))
      (bind s AF_INET (inet-pton AF_INET ~s) 0)
      (fcntl s F_SETFL (logior O_NONBLOCK (fcntl s F_GETFL)))
      (catch 'system-error
        (lambda () (connect s AF_INET (inet-pton AF_INET ~s) ~a))
        (lambda _ #t))
      (select (list s) (list s) '() 0 5000)
      (close-port s)
      (loop (+ i 1)))))" n source server port))

(define (syns-from source n)
  (sh "ip" "netns" "exec" netns "guile" "--no-auto-compile" "-c"
      (client-script source n)))

;;; ------------------------------------------------------------------

(dynamic-wind
  (lambda () (remove-network!) (make-network!))
  (lambda ()
    (section "The plan (a dry run: nothing is touched)")
    (let ((r (bpf-policy-apply! edge-protection #:dry-run? #t)))
      (bpf-policy-print-plan (assq-ref r 'steps))
      (format #t "digest ~a~%" (assq-ref r 'digest)))

    (section "Apply")
    (let ((r (bpf-policy-apply! edge-protection)))
      (bpf-policy-print-plan (assq-ref r 'steps)))
    (bpf-map-set! blocklist "10.200.1.0/24" 1)
    (format #t "blocklist: 10.200.1.0/24; rate limit: ~a SYNs per source per second~%"
            max-syn-per-second)

    (section "Traffic from the namespace")
    (syns-from "10.200.0.2" 3)
    (format #t "client    10.200.0.2: 3 connection attempts~%")
    (syns-from "10.200.0.3" 40)
    (format #t "flooder   10.200.0.3: 40 connection attempts~%")
    (syns-from "10.200.1.7" 5)
    (format #t "blocked   10.200.1.7: 5 connection attempts~%")

    (section "What the program counted")
    (let ((passed (bpf-map-ref syn-verdicts 0))
          (rate (bpf-map-ref syn-verdicts 1))
          (blocked (bpf-map-ref syn-verdicts 2))
          (dropped (bpf-map-ref/sum syn-counter 0)))
      (format #t "SYNs passed: ~a~%" passed)
      (format #t "SYNs dropped over the rate: ~a~%" rate)
      (format #t "SYNs dropped by the blocklist: ~a~%" blocked)
      (format #t "syn-counter (dropped, summed over CPUs): ~a~%" dropped)
      (format #t "syn-counter = rate + blocklist: ~a~%"
              (if (= dropped (+ rate blocked)) "yes" "no")))
    (let ((st (bpf-policy-status edge-protection)))
      (for-each (lambda (p)
                  (format #t "program ~a: ~a on ~a, ~a runs~%"
                          (assq-ref p 'name) (assq-ref p 'kind)
                          (assq-ref p 'target) (assq-ref p 'run-count)))
                (assq-ref st 'programs)))

    (section "Remove")
    (bpf-policy-remove! edge-protection)
    (format #t "policy removed: ~a~%"
            (if (bpf-policy-applied? edge-protection) "no" "yes")))
  (lambda ()
    (when (bpf-policy-applied? "edge-protection")
      (bpf-policy-remove! "edge-protection"))
    (remove-network!)
    (format #t "namespace and interfaces removed~%")))
