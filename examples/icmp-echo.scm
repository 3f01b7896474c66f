;;; icmp-echo.scm --- an ICMP echo responder in XDP, written in Scheme.
;;;
;;; Shows: packet writes.  The program answers every echo request for
;;; one IPv4 address itself: it swaps the MAC and IP addresses, turns
;;; type 8 (request) into type 0 (reply) and sends the frame back out of
;;; the interface it came in on (XDP_TX).  set-field! keeps the IPv4 and
;;; ICMP checksums correct by itself; no C is written.
;;;
;;; First the program is run by BPF_PROG_TEST_RUN on a crafted echo
;;; request, and the frame it returns is compared byte for byte with the
;;; reply built in Scheme (checksums computed from scratch).  Then it is
;;; attached live: the script builds a network namespace holding one end
;;; of a veth pair (10.214.0.2) and pings 10.214.0.77 from it.  No host
;;; has that address -- the namespace only knows its MAC (a static
;;; neighbour entry) -- so every reply ping receives came from XDP.
;;;
;;; Run (as root, needs ip(8) and ping(8)):
;;;   ./pre-inst-env guile -s examples/icmp-echo.scm [--duration SECONDS]
;;;                                                  [--mode generic|native]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 popen)
             (ice-9 rdelim) (ice-9 regex))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (mode (single-char #\m) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: icmp-echo.scm [--duration SECONDS] [--mode generic|native]\n")
  (exit 0))
(define duration (max 1 (string->number (option-ref options 'duration "3"))))
;; Generic XDP works on any veth; native XDP_TX on a veth needs the peer
;; to run XDP (or GRO) too.
(define mode (string->symbol (option-ref options 'mode "generic")))

(define served "10.214.0.77")           ; the address XDP answers for

;;; ---- the program ----------------------------------------------------

(defbpf-map echo-replies
  #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 1
  #:doc "Echo requests answered by XDP.")

(bpf-fn icmp-echo (ctx)
  (let ((eth (packet-eth ctx))
        (ip (packet-ipv4 ctx))
        (icmp (packet-icmp ctx)))
    (when (and eth ip icmp
               (= (icmp-type icmp) 8)
               (= (ipv4-daddr ip) (ipv4 ,served))
               (not (ipv4-fragment? ip)))
      (let ((mac (eth-h-source eth))
            (client (ipv4-saddr ip)))
        (set-field! eth 'h_source (eth-h-dest eth))
        (set-field! eth 'h_dest mac)
        (set-field! ip 'saddr (ipv4-daddr ip))
        (set-field! ip 'daddr client)
        (set-field! icmp 'type 0)       ; echo reply; checksums follow
        (map-increment! echo-replies 0)
        (return :xdp-tx)))
    (return :xdp-pass)))

;;; ---- 1. BPF_PROG_TEST_RUN on a crafted request ----------------------

(define (echo type src dst src-mac dst-mac)
  (make-icmp-packet #:icmp-type type #:src src #:dst dst #:src-mac src-mac
                    #:dst-mac dst-mac #:id #x1234 #:sequence 1
                    #:payload "guile-ebpf echo test"))

(define (test-run-check)
  (let* ((p (make-bpf-program `((name . "icmp-echo-test") (kind . xdp)
                                (attach . "lo") (source . ,icmp-echo))))
         (request (echo 'echo-request "10.214.0.2" served
                        "02:00:00:00:00:02" "02:00:00:00:00:4d"))
         (expected (echo 'echo-reply served "10.214.0.2"
                         "02:00:00:00:00:4d" "02:00:00:00:00:02"))
         (r (bpf-test-run p request))
         (reply (parse-packet (bpf-run-result-data r))))
    (format #t "test run: ~a, ~a -> ~a type ~a, IPv4 checksum ~a, ICMP checksum ~a~%"
            (bpf-run-result-verdict r) (assq-ref reply 'src)
            (assq-ref reply 'dst) (assq-ref reply 'icmp-type)
            (if (assq-ref reply 'ip-checksum-ok?) "valid" "INVALID")
            (if (assq-ref reply 'checksum-ok?) "valid" "INVALID"))
    (if (and (eq? (bpf-run-result-verdict r) 'xdp-tx)
             (equal? (bpf-run-result-data r) expected))
        (format #t "test run: the reply equals the one built in Scheme, byte for byte~%")
        (begin
          (format #t "test run: the reply DIFFERS from the expected one~%")
          (exit 1)))
    (bpf-unload! p)))

;;; ---- 2. live, on a veth pair ----------------------------------------

(define tag (number->string (modulo (getpid) 100000)))
(define netns (string-append "gebpf-echo" tag))
(define host-if (string-append "ec" tag "h"))
(define peer-if (string-append "ec" tag "p"))
(define client "10.214.0.2")

(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" (string-join args " "))))
(define (quietly . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))
(define (in-ns . args) (apply run! "ip" "netns" "exec" netns args))

(define (mac-of ifname)
  (call-with-input-file (string-append "/sys/class/net/" ifname "/address")
    read-line))

(define (network-up!)
  (quietly "ip netns del" netns)
  (run! "ip" "netns" "add" netns)
  (run! "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
  (run! "ip" "link" "set" peer-if "netns" netns)
  (run! "ip" "link" "set" host-if "up")
  (in-ns "ip" "addr" "add" (string-append client "/24") "dev" peer-if)
  (in-ns "ip" "link" "set" peer-if "up")
  (in-ns "ip" "link" "set" "lo" "up")
  ;; The served address exists nowhere: the namespace learns only where
  ;; to send its frames.
  (in-ns "ip" "neigh" "add" served "lladdr" (mac-of host-if) "dev" peer-if))

(define (network-down!)
  (quietly "ip netns del" netns)
  (quietly "ip link del" host-if))

(define (ping count)
  ;; Ping the served address from the namespace; return (SENT . RECEIVED).
  (let* ((port (open-pipe* OPEN_READ "ip" "netns" "exec" netns "ping" "-n"
                           "-q" "-c" (number->string count) "-i" "0.2"
                           "-W" "1" served))
         (text (let loop ((acc '()))
                 (let ((l (read-line port)))
                   (if (eof-object? l) (string-join (reverse acc) "\n")
                       (loop (cons l acc))))))
         (m (string-match "([0-9]+) packets transmitted, ([0-9]+) received"
                          text)))
    (close-pipe port)
    (if m
        (cons (string->number (match:substring m 1))
              (string->number (match:substring m 2)))
        (cons count 0))))


(defbpf-program icmp-echo-responder
  #:kind 'xdp
  #:attach `(#:target ,host-if #:mode ,mode)
  #:source icmp-echo
  #:license "GPL")

(define attached? #f)
(sigaction SIGINT (lambda (sig) (throw 'interrupted)))
(sigaction SIGTERM (lambda (sig) (throw 'interrupted)))

(test-run-check)
(bpf-map-set! echo-replies 0 0)
(dynamic-wind
  (lambda () #f)
  (lambda ()
    (network-up!)
    (bpf-attach! icmp-echo-responder)
    (set! attached? #t)
    (format #t "XDP echo responder for ~a attached to ~a (~a mode); pinging from namespace ~a~%"
            served host-if mode netns)
    (let* ((count (max 2 (* 5 duration)))
           (r (ping count)))
      (format #t "ping ~a: ~a/~a replies~%" served (cdr r) (car r))
      (format #t "echo requests answered by XDP: ~a~%"
              (bpf-map-ref/sum echo-replies 0))))
  (lambda ()
    (when attached? (bpf-unload! icmp-echo-responder))
    (network-down!)
    (format #t "detached; test network removed~%")))
