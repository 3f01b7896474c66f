;;; xdp-redirect.scm --- forwarding with a devmap, after xdp-tutorial's
;;; packet03-redirecting (xdp_redirect_map) and tracing02-xdp-monitor.
;;;
;;; Shows: XDP redirection through maps, as the tutorial's C does it.  A
;;; hash map keyed by MAC address (redirect-params, the tutorial's
;;; redirect_params) says, for a sender, which destination MAC its
;;; frames get; map-get finds it and the pointer is written straight
;;; into the Ethernet header with set-field!; (redirect-map tx-port 0)
;;; sends the frame out of the interface slot 0 of a devmap holds.  A
;;; second program, on the xdp:xdp_exception tracepoint, counts the
;;; frames an XDP program aborted, by interface (the tutorial's
;;; xdp_monitor): here, UDP to port 9 is aborted on purpose.
;;;
;;; First the program runs once by BPF_PROG_TEST_RUN on a crafted echo
;;; request (the verdict and the new destination MAC are printed).  Then
;;; it is attached live: two network namespaces, "left" and "right",
;;; each joined to the host by a veth pair.  Pings from left are
;;; redirected by XDP on the left pair's host end to the right pair, and
;;; arrive in the right namespace (its receive counter is read); a UDP
;;; datagram from left is aborted and the tracepoint sees it.
;;;
;;; Run (as root, needs ip(8), ping(8) and python3):
;;;   ./pre-inst-env guile -s examples/xdp-redirect.scm [--duration SECONDS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long) (ice-9 popen)
             (ice-9 rdelim))

(define options
  (getopt-long (command-line)
               '((duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: xdp-redirect.scm [--duration SECONDS]\n")
  (exit 0))
(define duration (max 1 (string->number (option-ref options 'duration "2"))))

;;; ---- the programs ---------------------------------------------------

(defbpf-map tx-port #:kind 'devmap #:key 'u32 #:value 'u32 #:max-entries 8
  #:doc "Where redirected frames go: slot -> ifindex.")
(defbpf-map redirect-params #:kind 'hash #:key 'mac #:value 'mac
  #:max-entries 64 #:doc "Sender MAC -> the destination MAC its frames get.")
(defbpf-map redirected #:kind 'per-cpu-array #:key 'u32 #:value 'u64
  #:max-entries 1)
(defbpf-map exceptions #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 64
  #:doc "Frames aborted by an XDP program, by ifindex.")

(bpf-fn xdp-redirect-map (ctx)
  (let ((eth (packet-eth ctx))
        (ip (packet-ipv4 ctx))
        (udp (packet-udp ctx)))
    (when (and udp (= (udp-dport udp) 9))
      (return :xdp-aborted))
    (when (and ip (= (ipv4-protocol ip) :icmp))
      (let ((dst (map-get redirect-params (eth-h-source eth))))
        (when dst
          (set-field! eth 'h_dest dst)
          (map-increment! redirected 0)
          (return (redirect-map tx-port 0)))))
    (return :xdp-pass)))

(bpf-fn on-xdp-exception (ctx)
  (map-increment! exceptions (arg ctx 'ifindex)))

;;; ---- 1. BPF_PROG_TEST_RUN on a crafted request ----------------------

(define (test-run-check)
  (let* ((p (make-bpf-program `((name . "xdp-redirect-test") (kind . xdp)
                                (attach . "lo") (source . ,xdp-redirect-map))))
         (sender "02:00:00:00:00:0a"))
    (bpf-map-set! redirect-params sender "02:00:00:00:00:0b")
    (bpf-map-set! tx-port 0 1)          ; lo: any interface will do here
    (let* ((r (bpf-test-run p (make-icmp-packet #:src "10.215.0.2"
                                                #:dst "10.215.0.1"
                                                #:src-mac sender)))
           (out (parse-packet (bpf-run-result-data r))))
      (format #t "test run: ~a, destination MAC now ~a~%"
              (bpf-run-result-verdict r) (assq-ref out 'eth-dst)))
    (bpf-map-delete! redirect-params sender)
    (bpf-map-set! redirected 0 0)
    (bpf-unload! p)))

;;; ---- 2. live, between two namespaces ----------------------------------

(define tag (number->string (modulo (getpid) 100000)))
(define left (string-append "gebpf-left" tag))
(define right (string-append "gebpf-right" tag))
(define left-host (string-append "rl" tag "h"))
(define left-peer (string-append "rl" tag "p"))
(define right-host (string-append "rr" tag "h"))
(define right-peer (string-append "rr" tag "p"))

(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed:" (string-join args " "))))
(define (quietly . args)
  (system (string-append (string-join args " ") " >/dev/null 2>&1")))

(define (read-in-ns ns . args)
  ;; The first line COMMAND prints in namespace NS.
  (let* ((port (apply open-pipe* OPEN_READ "ip" "netns" "exec" ns args))
         (line (read-line port)))
    (close-pipe port)
    line))

(define (mac-in-ns ns ifname)
  (read-in-ns ns "cat" (string-append "/sys/class/net/" ifname "/address")))
(define (rx-packets ns ifname)
  (string->number
   (read-in-ns ns "cat" (string-append "/sys/class/net/" ifname
                                       "/statistics/rx_packets"))))
(define (ifindex ifname)
  (string->number
   (call-with-input-file (string-append "/sys/class/net/" ifname "/ifindex")
     read-line)))

(define (network-up!)
  (network-down!)
  (for-each (lambda (ns) (run! "ip" "netns" "add" ns)) (list left right))
  (for-each
   (lambda (ns host peer addr)
     (run! "ip" "link" "add" host "type" "veth" "peer" "name" peer)
     ;; No IPv6 on the host ends: the right namespace then receives only
     ;; what XDP sends it.
     (run! "sysctl" "-q" "-w"
           (string-append "net.ipv6.conf." host ".disable_ipv6=1"))
     (run! "ip" "link" "set" peer "netns" ns)
     (run! "ip" "link" "set" host "up")
     (run! "ip" "netns" "exec" ns "ip" "addr" "add" addr "dev" peer)
     (run! "ip" "netns" "exec" ns "ip" "link" "set" peer "up"))
   (list left right) (list left-host right-host) (list left-peer right-peer)
   (list "10.215.0.2/24" "10.216.0.2/24"))
  (run! "ip" "addr" "add" "10.215.0.1/24" "dev" left-host))

(define (network-down!)
  (for-each (lambda (ns) (quietly "ip netns del" ns)) (list left right))
  (for-each (lambda (i) (quietly "ip link del" i)) (list left-host right-host)))

(defbpf-program xdp-redirect
  #:kind 'xdp
  ;; Generic XDP redirects between any two interfaces.
  #:attach `(#:target ,left-host #:mode generic)
  #:source xdp-redirect-map
  #:license "GPL")

(defbpf-program xdp-monitor
  #:kind 'tracepoint
  #:attach "xdp:xdp_exception"
  #:source on-xdp-exception
  #:license "GPL")

(define programs (list xdp-redirect xdp-monitor))
(define attached? #f)
(sigaction SIGINT (lambda (sig) (throw 'interrupted)))
(sigaction SIGTERM (lambda (sig) (throw 'interrupted)))

(test-run-check)
(dynamic-wind
  (lambda () #f)
  (lambda ()
    (network-up!)
    ;; Frames from left's MAC go to right's, out of the right pair.
    (bpf-map-set! tx-port 0 (ifindex right-host))
    (bpf-map-set! redirect-params (mac-in-ns left left-peer)
                  (mac-in-ns right right-peer))
    (for-each bpf-attach! programs)
    (set! attached? #t)
    (format #t "XDP on ~a redirects ICMP from ~a to ~a~%" left-host left right-host)
    (let ((before (rx-packets right right-peer))
          (count (max 2 (* 2 duration))))
      ;; The pings get no answer: their requests leave by the other pair.
      (quietly "ip netns exec" left "ping -n -q -c" (number->string count)
               "-i 0.2 -W 1 10.215.0.1")
      (quietly "ip netns exec" left "python3 -c"
               "\"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.215.0.1', 9))\"")
      (format #t "redirected by XDP: ~a~%" (bpf-map-ref/sum redirected 0))
      (format #t "received in ~a: ~a of ~a echo requests~%" right
              (- (rx-packets right right-peer) before) count)
      (format #t "xdp_exception on ~a: ~a~%" left-host
              (bpf-map-ref exceptions (ifindex left-host) 0))))
  (lambda ()
    (when attached? (for-each bpf-unload! programs))
    (network-down!)
    (format #t "detached; test network removed~%")))
