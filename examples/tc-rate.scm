;;; tc-rate.scm --- a TC egress packet and byte rate counter.
;;;
;;; Shows: a tc program on the egress hook of an interface, counting
;;; packets and bytes in per-CPU counters (and bytes by IP protocol),
;;; read from Scheme once a second and printed as rates.
;;;
;;; The script builds its own test network and removes it at the end: a
;;; veth pair whose far end is in a network namespace (10.214.0.2), the
;;; near end here (10.214.0.1).  It generates the traffic itself: UDP
;;; datagrams of varied sizes, at a rate that grows each second, sent
;;; from Scheme to 10.214.0.2; they leave through the near end, where
;;; the counter sits (with the ARP exchange that precedes them).
;;;
;;; Run (as root, needs ip(8)):
;;;   ./pre-inst-env guile -s examples/tc-rate.scm [--duration SECONDS]
;;; Default 5 seconds; it exits by itself.

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (rnrs bytevectors))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: tc-rate.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (max 1 (string->number (option-ref options 'duration "5"))))

;;; ---- the test network ---------------------------------------------

(define tag (number->string (modulo (getpid) 100000)))
(define netns (string-append "gebpf-tc" tag))
(define host-if (string-append "tc" tag "h"))
(define peer-if (string-append "tc" tag "p"))
(define host-addr "10.214.0.1")
(define peer-addr "10.214.0.2")

(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" (string-join args " "))))
(define (quietly . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))

(define (network-up!)
  (quietly "ip netns del" netns)
  (run! "ip" "netns" "add" netns)
  (run! "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
  (run! "ip" "link" "set" peer-if "netns" netns)
  (run! "ip" "addr" "add" (string-append host-addr "/24") "dev" host-if)
  (run! "ip" "link" "set" host-if "up")
  (run! "ip" "netns" "exec" netns "ip" "addr" "add" (string-append peer-addr "/24")
        "dev" peer-if)
  (run! "ip" "netns" "exec" netns "ip" "link" "set" peer-if "up"))

(define (network-down!)
  (quietly "ip netns del" netns)
  (quietly "ip link del" host-if))

;;; ---- maps and the program -----------------------------------------

(defbpf-map egress-totals
  #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 2
  #:doc "Egress packets (0) and bytes (1).")

(defbpf-map egress-by-proto
  #:kind 'per-cpu-hash #:key 'u32 #:value 'u64 #:max-entries 256
  #:doc "Egress bytes by IP protocol number (0: not IP).")

(bpf-fn count-egress (ctx)
  (map-increment! egress-totals 0)
  (map-increment! egress-totals 1 (packet-length ctx))
  (map-increment! egress-by-proto (proto ctx) (packet-length ctx))
  (return :tc-act-ok))

(defbpf-program tc-rate
  #:kind 'tc
  #:attach `(#:target ,host-if #:direction egress)
  #:source count-egress
  #:license "GPL")

(define (totals)
  (cons (bpf-map-ref/sum egress-totals 0) (bpf-map-ref/sum egress-totals 1)))

(define protocol-names '((1 . "icmp") (6 . "tcp") (17 . "udp") (58 . "icmpv6")
                         (0 . "other")))

;;; ---- traffic ------------------------------------------------------

(define sock (socket PF_INET SOCK_DGRAM 0))
(define peer (make-socket-address AF_INET (inet-pton AF_INET peer-addr) 9))
(define payload (make-bytevector 1400 (char->integer #\x)))
(define sent 0)

(define (send-burst! second)
  ;; A burst of datagrams; the rate grows each second.
  (do ((i 0 (+ i 1))) ((= i (* 4 (+ second 1))))
    (let ((n (+ 64 (* 100 (modulo (+ i second) 14)))))
      (catch 'system-error
        (lambda ()
          (sendto sock (bytevector-slice payload n) peer)
          (set! sent (+ sent 1)))
        (lambda _ #f)))))

(define (bytevector-slice bv n)
  (let ((out (make-bytevector n)))
    (bytevector-copy! bv 0 out 0 n)
    out))

(define (now) (/ (get-internal-real-time) internal-time-units-per-second))

;;; ---- run ----------------------------------------------------------

(define attached? #f)
(sigaction SIGINT (lambda (sig) (throw 'interrupted)))
(sigaction SIGTERM (lambda (sig) (throw 'interrupted)))

(dynamic-wind
  (lambda () #f)
  (lambda ()
    (network-up!)
    (bpf-attach! tc-rate)
    (set! attached? #t)
    (format #t "counting egress of ~a (TC egress hook), sending traffic to ~a~%"
            host-if peer-addr)
    (format #t "~8a ~10@a ~12@a ~10@a~%" "TIME(s)" "PKTS/s" "BYTES/s" "Mbit/s")
    (let ((start (now)))
      (let loop ((second 0) (last (totals)) (mark start))
        (when (< second duration)
          (let wait ()
            (when (< (now) (+ mark 1))
              (send-burst! second)
              (usleep 10000)
              (wait)))
          (let* ((t (totals))
                 (dt (- (now) mark))
                 (pps (/ (- (car t) (car last)) dt))
                 (bps (/ (- (cdr t) (cdr last)) dt)))
            (format #t "~8d ~10,1f ~12,1f ~10,3f~%"
                    (+ second 1) pps bps (/ (* 8 bps) 1e6))
            (loop (+ second 1) t (now))))))
    (let ((t (totals)))
      (format #t "~%total: ~a packets, ~a bytes (~a UDP datagrams sent from Scheme)~%"
              (car t) (cdr t) sent)
      (format #t "bytes by protocol:~%")
      (for-each (lambda (e)
                  (format #t "  @[~a]: ~a~%"
                          (or (assv-ref protocol-names (car e)) (car e))
                          (cdr e)))
                (sort (map (lambda (k) (cons k (bpf-map-ref/sum egress-by-proto k)))
                           (map car (bpf-map->alist egress-by-proto)))
                      (lambda (a b) (> (cdr a) (cdr b)))))))
  (lambda ()
    (close sock)
    (when attached? (bpf-unload! tc-rate))
    (network-down!)
    (format #t "detached; test network removed~%")))
