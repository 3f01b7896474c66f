;;; Packet writes against the real kernel: set-field! on every header
;;; kind, run by BPF_PROG_TEST_RUN on frames from (ebpf packet), the
;;; output compared byte for byte with a frame built with the new values
;;; (whose checksums the builder computes from scratch) and its checksums
;;; verified again here, independently; xdp-adjust-head!/-tail!,
;;; redirect, redirect-map (also live, between veth pairs in two network
;;; namespaces) and VLAN-tagged frames; the lowering's
;;; refusals.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64)
             (rnrs bytevectors) (ice-9 popen) (ice-9 rdelim) (ice-9 regex))

(harness-begin "packet-writes" 'kernel)

(define-syntax-rule (lower-error name (part ...) expr)
  (test-ebpf-error name 'ebpf-lower-error (part ...) expr))

(define (prog kind name fn)
  ;; Names are unique to this file: other suites run concurrently.
  (make-bpf-program `((name . ,(string-append "pw-" name)) (kind . ,kind)
                      (attach . "lo") (source . ,fn))))
(define (run p frame) (bpf-test-run p frame))
(define (out p frame) (bpf-run-result-data (run p frame)))

;;; ---- an independent checksum check -----------------------------------

(define (u16 bv i) (bytevector-u16-ref bv i (endianness big)))

(define (ones-sum bv start end acc)
  ;; One's-complement sum of the 16-bit words of BV[START, END), odd
  ;; trailing byte padded with zero.
  (let loop ((i start) (s acc))
    (cond ((>= i end) s)
          ((= i (- end 1)) (+ s (ash (bytevector-u8-ref bv i) 8)))
          (else (loop (+ i 2) (+ s (u16 bv i)))))))

(define (fold s) (if (> s #xffff) (fold (+ (logand s #xffff) (ash s -16))) s))

(define (l3-offset frame)
  (let loop ((off 12))
    (if (memv (u16 frame off) '(#x8100 #x88a8)) (loop (+ off 4)) (+ off 2))))

(define (checksums-valid? frame)
  ;; Every checksum of an IPv4 or IPv6 frame sums to 0xffff: the IPv4
  ;; header's, and the TCP, UDP (unless 0) or ICMP/ICMPv6 one over the
  ;; segment and its pseudo-header.
  (let* ((l3 (l3-offset frame))
         (v4? (= (ash (bytevector-u8-ref frame l3) -4) 4))
         (hlen (if v4? (* 4 (logand (bytevector-u8-ref frame l3) 15)) 40))
         (l4 (+ l3 hlen))
         (end (if v4? (+ l3 (u16 frame (+ l3 2))) (+ l4 (u16 frame (+ l3 4)))))
         (proto (bytevector-u8-ref frame (+ l3 (if v4? 9 6))))
         (addrs (if v4? (ones-sum frame (+ l3 12) (+ l3 20) 0)
                    (ones-sum frame (+ l3 8) (+ l3 40) 0)))
         (pseudo (+ addrs proto (- end l4))))
    (and (or (not v4?) (= #xffff (fold (ones-sum frame l3 l4 0))))
         (case proto
           ((6) (= #xffff (fold (ones-sum frame l4 end pseudo))))
           ((17) (or (and v4? (zero? (u16 frame (+ l4 6))))
                     (= #xffff (fold (ones-sum frame l4 end pseudo)))))
           ((1) (= #xffff (fold (ones-sum frame l4 end 0))))
           ((58) (= #xffff (fold (ones-sum frame l4 end pseudo))))
           (else #t)))))

(define-syntax-rule (test-frame name expected got)
  ;; GOT equals EXPECTED byte for byte and its checksums are valid.
  (let ((e expected) (g got))
    (test-assert (string-append name ": checksums valid") (checksums-valid? g))
    (test-equal (string-append name ": bytes") e g)))

;;; ---- parameters of the write programs --------------------------------

(defbpf-map pw-sel #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2
  #:doc "Slot 0: which field to write; slot 1: the integer value.")
(defbpf-map pw-a4 #:kind 'array #:key 'u32 #:value 'ipv4 #:max-entries 1)
(defbpf-map pw-a6 #:kind 'array #:key 'u32 #:value 'ipv6 #:max-entries 1)
(defbpf-map pw-mac #:kind 'array #:key 'u32 #:value 'mac #:max-entries 1)

(define (select! which value)
  (bpf-map-set! pw-sel 0 which)
  (bpf-map-set! pw-sel 1 value))

;;; ---- the ICMP echo reply, the issue's example ------------------------

(bpf-fn pw-echo (ctx)
  (let ((eth (packet-eth ctx))
        (ip (packet-ipv4 ctx))
        (icmp (packet-icmp ctx)))
    (when (and eth ip icmp (= (icmp-type icmp) 8))
      (let ((mac (eth-h-source eth))
            (src (ipv4-saddr ip)))
        (set-field! eth 'h_source (eth-h-dest eth))
        (set-field! eth 'h_dest mac)
        (set-field! ip 'saddr (ipv4-daddr ip))
        (set-field! ip 'daddr src)
        (set-field! icmp 'type 0)
        (return :xdp-tx)))
    (return :xdp-pass)))
(define p-echo (prog 'xdp "echo" pw-echo))

(define (echo-frame type src dst smac dmac . rest)
  (apply make-icmp-packet #:icmp-type type #:src src #:dst dst #:src-mac smac
         #:dst-mac dmac #:id 4660 #:sequence 7 #:ttl 63 #:ip-id 999
         #:payload "0123456789abcdefghij" rest))

(let* ((req (echo-frame 'echo-request "192.0.2.10" "198.51.100.1"
                        "02:00:00:00:00:0a" "02:00:00:00:00:01"))
       (r (run p-echo req)))
  (test-equal "echo: xdp-tx" 'xdp-tx (bpf-run-result-verdict r))
  (test-frame "echo: the reply"
              (echo-frame 'echo-reply "198.51.100.1" "192.0.2.10"
                          "02:00:00:00:00:01" "02:00:00:00:00:0a")
              (bpf-run-result-data r)))
(test-equal "echo: a reply passes" 'xdp-pass
            (bpf-run-result-verdict
             (run p-echo (echo-frame 'echo-reply "1.2.3.4" "5.6.7.8"
                                     "02:00:00:00:00:0a" "02:00:00:00:00:01"))))

;;; ---- Ethernet --------------------------------------------------------

(bpf-fn pw-eth (ctx)
  (let ((eth (packet-eth ctx)))
    (case (map-ref pw-sel 0 0)
      ((1) (set-field! eth 'h_dest (map-ref pw-mac 0 (eth-h-dest eth))))
      ((2) (set-field! eth 'h_source (map-ref pw-mac 0 (eth-h-dest eth))))
      ((3) (set-field! eth 'h-proto (map-ref pw-sel 1 0))))
    (return :xdp-pass)))
(define p-eth (prog 'xdp "eth" pw-eth))
(define base-tcp
  (make-tcp-packet #:src "10.1.0.1" #:dst "10.1.0.2" #:sport 1000 #:dport 80
                   #:seq 1 #:ack-seq 2 #:flags '(syn) #:payload "xyz"))
(bpf-map-set! pw-mac 0 "0a:0b:0c:0d:0e:0f")
(select! 1 0)
(test-equal "eth h_dest"
            (make-tcp-packet #:src "10.1.0.1" #:dst "10.1.0.2" #:sport 1000
                             #:dport 80 #:seq 1 #:ack-seq 2 #:flags '(syn)
                             #:payload "xyz" #:dst-mac "0a:0b:0c:0d:0e:0f")
            (out p-eth base-tcp))
(select! 2 0)
(test-equal "eth h_source"
            (make-tcp-packet #:src "10.1.0.1" #:dst "10.1.0.2" #:sport 1000
                             #:dport 80 #:seq 1 #:ack-seq 2 #:flags '(syn)
                             #:payload "xyz" #:src-mac "0a:0b:0c:0d:0e:0f")
            (out p-eth base-tcp))
(select! 3 #x86dd)
(test-equal "eth h_proto (host order in, network order out)" #x86dd
            (u16 (out p-eth base-tcp) 12))

;;; ---- IPv4: every writable field, on TCP, UDP and ICMP ----------------

(bpf-fn pw-ip4 (ctx)
  (let ((ip (packet-ipv4 ctx))
        (v (map-ref pw-sel 1 0)))
    (case (map-ref pw-sel 0 0)
      ((1) (set-field! ip 'ttl v))
      ((2) (set-field! ip 'tos v))
      ((3) (set-field! ip 'id v))
      ((4) (set-field! ip 'frag_off v))
      ((5) (set-field! ip 'saddr (map-ref pw-a4 0 (ipv4 "0.0.0.0"))))
      ((6) (set-field! ip 'daddr (map-ref pw-a4 0 (ipv4 "0.0.0.0"))))
      ((7) (set-field! ip 'check v))
      ((8) (let ((s (ipv4-saddr ip)))
             (set-field! ip 'saddr (ipv4-daddr ip))
             (set-field! ip 'daddr s))))
    (return :xdp-pass)))
(define p-ip4 (prog 'xdp "ip4" pw-ip4))

(define (l4-frame kind . kw)
  (case kind
    ((tcp) (apply make-tcp-packet #:sport 4321 #:dport 443 #:seq 77
                  #:ack-seq 88 #:flags '(ack psh) #:payload "hello, tcp" kw))
    ((udp) (apply make-udp-packet #:sport 5353 #:dport 53
                  #:payload "hello, udp!" kw))
    ((icmp) (apply make-icmp-packet #:id 9 #:sequence 10
                   #:payload "ping" kw))))

(define base4 '(#:src "10.9.8.7" #:dst "10.0.0.2" #:ttl 64 #:tos 0
                #:ip-id 100))
(define (with kw key value)
  ;; KW with KEY's value replaced.
  (let loop ((l kw))
    (cond ((null? l) (list key value))
          ((eq? (car l) key) (cons* key value (cddr l)))
          (else (cons* (car l) (cadr l) (loop (cddr l)))))))

(for-each
 (lambda (kind)
   (define (check name sel value key new)
     (select! sel value)
     (test-frame (format #f "ipv4 ~a on ~a" name kind)
                 (apply l4-frame kind (with base4 key new))
                 (out p-ip4 (apply l4-frame kind base4))))
   (check "ttl" 1 17 #:ttl 17)
   (check "tos" 2 #xb8 #:tos #xb8)
   (check "id" 3 #xbeef #:ip-id #xbeef)
   (bpf-map-set! pw-a4 0 "203.0.113.77")
   (check "saddr" 5 0 #:src "203.0.113.77")
   (check "daddr" 6 0 #:dst "203.0.113.77")
   (select! 8 0)
   (test-frame (format #f "ipv4 saddr<->daddr on ~a" kind)
               (apply l4-frame kind (with (with base4 #:src "10.0.0.2")
                                          #:dst "10.9.8.7"))
               (out p-ip4 (apply l4-frame kind base4))))
 '(tcp udp icmp))

(select! 4 #x4000)
(test-frame "ipv4 frag_off (DF)"
            (apply l4-frame 'udp #:dont-fragment? #t base4)
            (out p-ip4 (apply l4-frame 'udp base4)))
(select! 7 #x1234)
(test-equal "ipv4 check is written as given" #x1234
            (u16 (out p-ip4 (apply l4-frame 'tcp base4)) 24))

;; A UDP checksum of 0 means none: an address change leaves it 0.
(let ((nocsum (apply l4-frame 'udp base4)))
  (bytevector-u16-set! nocsum 40 0 (endianness big))
  (bpf-map-set! pw-a4 0 "192.0.2.200")
  (select! 5 0)
  (let ((o (out p-ip4 nocsum)))
    (test-equal "udp without checksum keeps 0" 0 (u16 o 40))
    (test-assert "udp without checksum: ipv4 checksum valid"
                 (checksums-valid? o))))

;; An IPv4 header with options: the L4 header is found after them.
(let ((opts #vu8(1 1 1 0)))
  (bpf-map-set! pw-a4 0 "198.18.0.1")
  (select! 6 0)
  (test-frame "ipv4 daddr with IP options"
              (apply l4-frame 'tcp #:ip-options opts (with base4 #:dst "198.18.0.1"))
              (out p-ip4 (apply l4-frame 'tcp #:ip-options opts base4))))

;;; ---- IPv6 ------------------------------------------------------------

(bpf-fn pw-ip6 (ctx)
  (let ((ip6 (packet-ipv6 ctx)))
    (case (map-ref pw-sel 0 0)
      ((1) (set-field! ip6 'hop_limit (map-ref pw-sel 1 0)))
      ((2) (set-field! ip6 'saddr (map-ref pw-a6 0 (ipv6 "::"))))
      ((3) (set-field! ip6 'daddr (map-ref pw-a6 0 (ipv6 "::")))))
    (return :xdp-pass)))
(define p-ip6 (prog 'xdp "ip6" pw-ip6))
(define base6 '(#:src "2001:db8::10" #:dst "2001:db8:1::2" #:ttl 64))
(bpf-map-set! pw-a6 0 "fd00:1234::abcd")
(for-each
 (lambda (kind)
   (define (check name sel value key new)
     (select! sel value)
     (test-frame (format #f "ipv6 ~a on ~a" name kind)
                 (apply l4-frame kind (with base6 key new))
                 (out p-ip6 (apply l4-frame kind base6))))
   (check "hop_limit" 1 3 #:ttl 3)
   (check "saddr" 2 0 #:src "fd00:1234::abcd")
   (check "daddr" 3 0 #:dst "fd00:1234::abcd"))
 '(tcp udp icmp))

;;; ---- TCP, UDP, ICMP fields -------------------------------------------

(bpf-fn pw-l4 (ctx)
  (let ((tcp (packet-tcp ctx))
        (udp (packet-udp ctx))
        (icmp (packet-icmp ctx))
        (v (map-ref pw-sel 1 0)))
    (case (map-ref pw-sel 0 0)
      ((1) (set-field! tcp 'source v))
      ((2) (set-field! tcp 'dest v))
      ((3) (set-field! tcp 'seq v))
      ((4) (set-field! tcp 'ack_seq v))
      ((5) (set-field! tcp 'window v))
      ((6) (set-field! tcp 'flags v))
      ((7) (set-field! tcp 'urg_ptr v))
      ((8) (set-field! tcp 'syn v))
      ((9) (set-field! tcp 'ack (= v 1)))
      ((11) (set-field! udp 'source v))
      ((12) (set-field! udp 'dest v))
      ((13) (set-field! udp 'len v))
      ((21) (set-field! icmp 'type v))
      ((22) (set-field! icmp 'code v))
      ((23) (set-field! icmp 'id v))
      ((24) (set-field! icmp 'sequence v)))
    (return :xdp-pass)))
(define p-l4 (prog 'xdp "l4" pw-l4))

(for-each
 (lambda (family)
   (define base (if (eq? family 'ipv4) base4 base6))
   (define (check kind name sel value key new)
     (select! sel value)
     (test-frame (format #f "~a ~a over ~a" kind name family)
                 (apply l4-frame kind key new base)
                 (out p-l4 (apply l4-frame kind base))))
   (check 'tcp "source" 1 1111 #:sport 1111)
   (check 'tcp "dest" 2 8443 #:dport 8443)
   (check 'tcp "seq" 3 #xdeadbeef #:seq #xdeadbeef)
   (check 'tcp "ack_seq" 4 #x01020304 #:ack-seq #x01020304)
   (check 'tcp "window" 5 512 #:window 512)
   (check 'tcp "flags" 6 #x12 #:flags '(syn ack))
   (check 'tcp "urg_ptr" 7 99 #:urgent 99)
   (check 'tcp "syn bit set" 8 1 #:flags '(ack psh syn))
   (check 'tcp "ack bit cleared" 9 0 #:flags '(psh))
   (check 'udp "source" 11 7 #:sport 7)
   (check 'udp "dest" 12 65535 #:dport 65535)
   (check 'icmp "type" 21 (if (eq? family 'ipv4) 0 129) #:icmp-type 'echo-reply)
   (check 'icmp "code" 22 5 #:icmp-code 5)
   (check 'icmp "id" 23 31337 #:id 31337)
   (check 'icmp "sequence" 24 65000 #:sequence 65000))
 '(ipv4 ipv6))

;; UDP's length is also in the pseudo-header: the checksum over the
;; header's new length (and the segment as it is) must hold.
(select! 13 (+ 8 11 2))
(let* ((o (out p-l4 (apply l4-frame 'udp base4)))
       (pseudo (+ (ones-sum o 26 34 0) 17 (u16 o 38))))
  (test-equal "udp len written" 21 (u16 o 38))
  (test-equal "udp len: checksum over the new pseudo-header length" #xffff
              (fold (ones-sum o 34 (+ 34 19) pseudo))))

;;; ---- tc: the same writes on an skb -----------------------------------

(bpf-fn pw-tc (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (set-field! ip 'ttl (- (ipv4-ttl ip) 1))
    (set-field! ip 'daddr (ipv4 "192.0.2.99"))
    (return :tc-act-ok)))
(define p-tc (prog 'tc "tc" pw-tc))
(test-frame "tc: ttl and daddr"
            (apply l4-frame 'tcp (with (with base4 #:ttl 63) #:dst "192.0.2.99"))
            (out p-tc (apply l4-frame 'tcp base4)))

;;; ---- VLAN-tagged frames ----------------------------------------------

(defbpf-map pw-seen #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn pw-vlan (ctx)
  (let ((ip (packet-ipv4 ctx))
        (tcp (packet-tcp ctx)))
    (map-set! pw-seen 0 (if (and ip (= (ipv4-saddr ip) (ipv4 "10.9.8.7"))) 1 0))
    (map-set! pw-seen 1 (if tcp (tcp-dport tcp) 0))
    (map-set! pw-seen 2 (proto ctx))
    (set-field! ip 'ttl 9)
    (return :xdp-pass)))
(define p-vlan (prog 'xdp "vlan" pw-vlan))
(for-each
 (lambda (name frame expect)
   (for-each (lambda (i) (bpf-map-set! pw-seen i 0)) '(0 1 2))
   (let ((o (out p-vlan frame)))
     (test-equal (string-append name ": ipv4 saddr") 1 (bpf-map-ref pw-seen 0))
     (test-equal (string-append name ": tcp dport") 443 (bpf-map-ref pw-seen 1))
     (test-equal (string-append name ": proto") 6 (bpf-map-ref pw-seen 2))
     (test-frame (string-append name ": ttl written") expect o)))
 '("untagged" "802.1Q" "QinQ")
 (list (apply l4-frame 'tcp base4)
       (apply l4-frame 'tcp #:vlan 42 base4)
       (apply l4-frame 'tcp #:vlan '(7 42) base4))
 (list (apply l4-frame 'tcp (with base4 #:ttl 9))
       (apply l4-frame 'tcp #:vlan 42 (with base4 #:ttl 9))
       (apply l4-frame 'tcp #:vlan '(7 42) (with base4 #:ttl 9))))

;;; ---- xdp-adjust-head! / xdp-adjust-tail! -----------------------------

(bpf-fn pw-adjust (ctx)
  (case (map-ref pw-sel 0 0)
    ((1) (map-set! pw-seen 0 (xdp-adjust-head! ctx 14)))
    ((2) (map-set! pw-seen 0 (xdp-adjust-tail! ctx -4)))
    ((3) (map-set! pw-seen 0 (if (< (xdp-adjust-head! ctx 4000) 0) 1 0)))
    ((4)
     ;; Push an 802.1Q tag: 4 bytes in front, then the MACs moved and the
     ;; type set; the old source MAC's last two bytes become the TCI.
     (let* ((eth (packet-eth ctx))
            (dst (eth-h-dest eth))
            (src (eth-h-source eth)))
       (when (= (xdp-adjust-head! ctx -4) 0)
         (let ((eth (packet-eth ctx)))
           (set-field! eth 'h_dest dst)
           (set-field! eth 'h_source src)
           (set-field! eth 'h_proto #x8100)))))
    ;; xdp-tutorial experiment01-tailgrow: a positive delta grows.
    ((5) (map-set! pw-seen 0 (xdp-adjust-tail! ctx 8))))
  (return :xdp-pass))
(define p-adjust (prog 'xdp "adjust" pw-adjust))
(define plain (apply l4-frame 'udp #:src-mac "02:00:00:00:00:2a" base4))
(define plain-len (bytevector-length plain))

(select! 1 0)
(let ((o (out p-adjust plain)))
  (test-equal "adjust-head 14: returns 0" 0 (bpf-map-ref pw-seen 0))
  (test-equal "adjust-head 14: Ethernet header removed" (- plain-len 14)
              (bytevector-length o))
  (test-equal "adjust-head 14: the IP packet is left"
              (let ((bv (make-bytevector (- plain-len 14))))
                (bytevector-copy! plain 14 bv 0 (- plain-len 14))
                bv)
              o))
(select! 2 0)
(let ((o (out p-adjust plain)))
  (test-equal "adjust-tail -4: 4 bytes shorter" (- plain-len 4)
              (bytevector-length o))
  (test-equal "adjust-tail -4: the rest unchanged" (bytevector-u8-ref plain 20)
              (bytevector-u8-ref o 20)))
(select! 5 0)
(let ((o (out p-adjust plain)))
  (test-equal "adjust-tail 8: returns 0" 0 (bpf-map-ref pw-seen 0))
  (test-equal "adjust-tail 8: 8 bytes longer" (+ plain-len 8)
              (bytevector-length o))
  (test-equal "adjust-tail 8: the new bytes are zero" (make-bytevector 8 0)
              (let ((bv (make-bytevector 8)))
                (bytevector-copy! o plain-len bv 0 8)
                bv)))
(select! 3 0)
(let ((o (out p-adjust plain)))
  (test-equal "adjust-head beyond the packet fails with an error" 1
              (bpf-map-ref pw-seen 0))
  (test-equal "adjust-head failure leaves the packet" plain o))
(select! 4 0)
(let ((o (out p-adjust plain)))
  (test-equal "vlan push: 4 bytes longer" (+ plain-len 4) (bytevector-length o))
  (test-equal "vlan push: tagged 42 (from the source MAC)" 42
              (assq-ref (parse-packet o) 'vlan))
  (test-equal "vlan push: the same frame with a tag"
              (apply l4-frame 'udp #:src-mac "02:00:00:00:00:2a" #:vlan 42 base4)
              o))

;;; ---- redirect, redirect-map ------------------------------------------

(defbpf-map pw-ports #:kind 'devmap #:max-entries 4)
(bpf-fn pw-redirect (ctx)
  (case (map-ref pw-sel 0 0)
    ((1) (return (redirect 1)))
    (else (return (redirect-map pw-ports (map-ref pw-sel 1 0))))))
(define p-redirect (prog 'xdp "redirect" pw-redirect))
(bpf-map-set! pw-ports 0 1)              ; lo
(select! 1 0)
(test-equal "redirect: xdp-redirect" 'xdp-redirect
            (bpf-run-result-verdict (run p-redirect plain)))
(select! 2 0)
(test-equal "redirect-map to a present port: xdp-redirect" 'xdp-redirect
            (bpf-run-result-verdict (run p-redirect plain)))
(select! 2 3)
(test-equal "redirect-map to a missing port: xdp-aborted" 'xdp-aborted
            (bpf-run-result-verdict (run p-redirect plain)))


;; The kernel side of AF_XDP (xdp-tutorial advanced03): an xskmap slot
;; without a socket makes the redirect fail.
(defbpf-map pw-xsks #:kind 'xskmap #:max-entries 4)
(bpf-fn pw-af-xdp (ctx)
  (return (redirect-map pw-xsks (packet-ifindex ctx))))
(test-equal "redirect-map to an empty xskmap slot: xdp-aborted" 'xdp-aborted
            (bpf-run-result-verdict (run (prog 'xdp "af-xdp" pw-af-xdp) plain)))

(bpf-fn pw-tc-peer (ctx) (return (redirect-peer 1)))
(test-equal "tc redirect-peer: tc-act-redirect" 'tc-act-redirect
            (bpf-run-result-verdict
             (run (prog 'tc "tc-peer" pw-tc-peer) plain)))
(lower-error "redirect-peer in xdp" ("redirect-peer" "tc programs")
             (bpf-fn->c (bpf-fn pw-xdp-peer (ctx) (return (redirect-peer 1)))
                        #:kind 'xdp))

;;; ---- socket buffer fields: ctx-field, set-field! of the context ----

;; tc sets the mark and priority the stack then routes and queues by
;; (and classifies by tc_classid); each is read back in the program.
(defbpf-map pw-skb #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(bpf-fn pw-tc-mark (ctx)
  (map-set! pw-skb 0 (ctx-field ctx 'mark))
  (set-field! ctx 'mark #x2a)
  (set-field! ctx 'priority 6)
  (set-field! ctx 'tc-classid #x11)
  (map-set! pw-skb 1 (ctx-field ctx 'mark))
  (map-set! pw-skb 2 (ctx-field ctx 'priority))
  (map-set! pw-skb 3 (ctx-field ctx 'tc_classid))
  (map-set! pw-skb 4 (ctx-field ctx 'protocol))
  (map-set! pw-skb 5 (ctx-field ctx 'len))
  (return :tc-act-ok))
(test-equal "tc: ctx-field and set-field! of mark, priority, tc_classid"
            `(tc-act-ok 0 #x2a 6 #x11 #x0800 ,(bytevector-length plain))
            (cons (bpf-run-result-verdict
                   (run (prog 'tc "tc-mark" pw-tc-mark) plain))
                  (map (lambda (i) (bpf-map-ref pw-skb i)) (iota 6))))
;; cgroup-skb may set the mark and priority; socket filters only read.
(bpf-fn pw-cg-mark (ctx)
  (set-field! ctx 'mark 9)
  (map-set! pw-skb 6 (ctx-field ctx 'mark))
  (return 1))
(let ((p (make-bpf-program `((name . "pw-cg-mark") (kind . cgroup-skb)
                              (attach . "/sys/fs/cgroup")
                              (source . ,pw-cg-mark)))))
  (test-assert "cgroup-skb: set-field! of the mark through the verifier"
               (begin (bpf-load! p) (bpf-unload! p) #t)))
(bpf-fn pw-sf-len (ctx)
  (map-set! pw-skb 7 (ctx-field ctx 'len))
  (return (ctx-field ctx 'len)))
(let ((p (make-bpf-program `((name . "pw-sf-len") (kind . socket-filter)
                              (source . ,pw-sf-len)))))
  (test-assert "socket-filter: ctx-field through the verifier"
               (begin (bpf-load! p) (bpf-unload! p) #t)))

(bpf-fn pw-tc-redirect (ctx) (return (redirect 1)))
(test-equal "tc redirect: tc-act-redirect" 'tc-act-redirect
            (bpf-run-result-verdict
             (run (prog 'tc "tc-redirect" pw-tc-redirect) plain)))

;;; ---- live: redirect between veth pairs --------------------------------

;; Frames sent from namespace X leave through veth a1 and arrive on a0,
;; where XDP (generic mode) redirects them out of b0: namespace Y sees
;; them arrive on b1.  First by ifindex, then through the devmap.
(define (sh . args)
  (zero? (status:exit-val (system (string-join args " ")))))
(define (sysfs-number ns ifname file)
  (let* ((port (open-pipe* OPEN_READ "ip" "netns" "exec" ns "cat"
                           (string-append "/sys/class/net/" ifname "/" file)))
         (n (string->number (string-trim-both (read-string port)))))
    (close-pipe port)
    n))
(define tag (number->string (modulo (getpid) 100000)))
(define ns-x (string-append "gebpf-pwx" tag))
(define ns-y (string-append "gebpf-pwy" tag))
(define a0 (string-append "pwa" tag "h"))
(define a1 (string-append "pwa" tag "p"))
(define b0 (string-append "pwb" tag "h"))
(define b1 (string-append "pwb" tag "p"))

(bpf-fn pw-live (ctx)
  (if (= (map-ref pw-sel 0 0) 1)
      (return (redirect (map-ref pw-sel 1 0)))
      (return (redirect-map pw-ports 1))))

(define (pings-arriving)
  ;; Send 5 pings from X to an address only a static neighbour entry
  ;; knows; return how many more packets b1 in Y received meanwhile.
  (let ((before (sysfs-number ns-y b1 "statistics/rx_packets")))
    (sh "ip netns exec" ns-x "ping -n -q -c 5 -i 0.1 -W 1 10.215.0.9"
        ">/dev/null 2>&1")
    (- (sysfs-number ns-y b1 "statistics/rx_packets") before)))

(define live-prog #f)
(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each
     (lambda (cmd) (unless (apply sh cmd) (error "command failed:" cmd)))
     `(("ip netns add" ,ns-x) ("ip netns add" ,ns-y)
       ("ip link add" ,a0 "type veth peer name" ,a1)
       ("ip link add" ,b0 "type veth peer name" ,b1)
       ("ip link set" ,a1 "netns" ,ns-x) ("ip link set" ,b1 "netns" ,ns-y)
       ;; No IPv6 chatter on the path: b1 counts only what is redirected.
       ("sysctl -qw" ,(string-append "net.ipv6.conf." b0 ".disable_ipv6=1"))
       ("ip netns exec" ,ns-x "sysctl -qw"
        ,(string-append "net.ipv6.conf." a1 ".disable_ipv6=1"))
       ("ip link set" ,a0 "up") ("ip link set" ,b0 "up")
       ("ip netns exec" ,ns-x "ip addr add 10.215.0.1/24 dev" ,a1)
       ("ip netns exec" ,ns-x "ip link set" ,a1 "up")
       ("ip netns exec" ,ns-x "ip neigh add 10.215.0.9 lladdr 02:00:00:00:00:09 dev" ,a1)
       ("ip netns exec" ,ns-y "ip link set" ,b1 "up")))
    (let ((b0-index (call-with-input-file
                        (string-append "/sys/class/net/" b0 "/ifindex")
                      (lambda (p) (string->number (string-trim-both (read-string p)))))))
      (set! live-prog
            (make-bpf-program `((name . "pw-live") (kind . xdp)
                                (attach . (#:target ,a0 #:mode generic))
                                (source . ,pw-live))))
      (bpf-attach! live-prog)
      (select! 1 b0-index)
      (test-equal "live redirect by ifindex: the pings arrive in the other namespace"
                  5 (pings-arriving))
      (bpf-map-set! pw-ports 1 b0-index)
      (select! 2 0)
      (test-equal "live redirect-map: the pings arrive in the other namespace"
                  5 (pings-arriving))
      (bpf-map-delete! pw-ports 1)
      (test-assert "live redirect-map without the entry: nothing arrives"
                   (zero? (pings-arriving)))
      ;; tc on a0's ingress puts the frames straight into b0's peer, b1,
      ;; in namespace Y (bpf_redirect_peer).
      (bpf-unload! live-prog)
      (set! live-prog
            (make-bpf-program `((name . "pw-live-peer") (kind . tc)
                                (attach . (#:target ,a0 #:direction ingress))
                                (source . ,(bpf-fn pw-live-peer (ctx)
                                             (return (redirect-peer ,b0-index)))))))
      (bpf-attach! live-prog)
      (test-equal "live tc redirect-peer: the pings arrive on the peer in its namespace"
                  5 (pings-arriving))))
  (lambda ()
    (when live-prog (bpf-unload! live-prog))
    (sh "ip netns del" ns-x ">/dev/null 2>&1")
    (sh "ip netns del" ns-y ">/dev/null 2>&1")
    (sh "ip link del" a0 ">/dev/null 2>&1")
    (sh "ip link del" b0 ">/dev/null 2>&1")))

;;; ---- live: fib-lookup, XDP as a router --------------------------------

;; xdp-tutorial's xdp_router: the host routes between namespaces X
;; (10.218.1.0/24 on r0) and Y (10.218.2.0/24 on s0).  XDP on r0 asks
;; the kernel's FIB where each packet goes; fib-lookup rewrites the MACs
;; (the next hop's is a static neighbour entry), the TTL is decremented
;; and the packet redirected out of s0.  Y's replies come back through
;; the host's stack, so every ping is answered only if every request
;; XDP forwarded was right.
(define r0 (string-append "pwr" tag "h"))
(define r1 (string-append "pwr" tag "p"))
(define s0 (string-append "pws" tag "h"))
(define s1 (string-append "pws" tag "p"))
(defbpf-map pw-routed #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(bpf-fn pw-router (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (when (and ip (> (ipv4-ttl ip) 1))
      (let ((out (fib-lookup ctx ip)))
        (when (> out 0)
          (set-field! ip 'ttl (- (ipv4-ttl ip) 1))
          (map-increment! pw-routed 0)
          (map-set! pw-routed 1 out)
          (return (redirect out)))))
    (return :xdp-pass)))

(define (ns-ping ns addr count)
  ;; The number of replies.
  (let* ((port (open-pipe* OPEN_READ "ip" "netns" "exec" ns "ping" "-n" "-q"
                           "-c" (number->string count) "-i" "0.2" "-W" "1"
                           addr))
         (text (read-string port))
         (m (string-match "([0-9]+) received" text)))
    (close-pipe port)
    (if m (string->number (match:substring m 1)) 0)))

;; fib-lookup-status: the kernel's code for each destination, and the
;; drops xdp_router makes of blackhole, unreachable and prohibit routes.
(defbpf-map pw-fib-st #:kind 'hash #:key 'ipv4 #:value 'i64 #:max-entries 16)
(defbpf-map pw-fib-drops #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn pw-fib-status (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (when (and ip (= (ipv4-protocol ip) :icmp))
      (let ((st (fib-lookup-status ctx ip)))
        (map-set! pw-fib-st (ipv4-daddr ip) st)
        (case st
          ((:fib-blackhole :fib-unreachable :fib-prohibit)
           (map-increment! pw-fib-drops 0)
           (return :xdp-drop))
          (else #t))))
    (return :xdp-pass)))
(define fib-routes
  '(("blackhole" "10.218.3.0/24") ("unreachable" "10.218.4.0/24")
    ("prohibit" "10.218.5.0/24")))

(define router-prog #f)
(define status-prog #f)
(dynamic-wind
  (lambda () #f)
  (lambda ()
    (for-each
     (lambda (cmd) (unless (apply sh cmd) (error "command failed:" cmd)))
     `(("ip netns add" ,ns-x) ("ip netns add" ,ns-y)
       ("ip link add" ,r0 "type veth peer name" ,r1)
       ("ip link add" ,s0 "type veth peer name" ,s1)
       ("ip link set" ,r1 "netns" ,ns-x) ("ip link set" ,s1 "netns" ,ns-y)
       ;; Forwarding on these two interfaces only (the FIB lookup
       ;; needs it on the ingress one, the replies on s0).
       ("sysctl -qw" ,(string-append "net.ipv4.conf." r0 ".forwarding=1"))
       ("sysctl -qw" ,(string-append "net.ipv4.conf." s0 ".forwarding=1"))
       ("ip addr add 10.218.1.1/24 dev" ,r0) ("ip link set" ,r0 "up")
       ("ip addr add 10.218.2.1/24 dev" ,s0) ("ip link set" ,s0 "up")
       ("ip netns exec" ,ns-x "ip addr add 10.218.1.2/24 dev" ,r1)
       ("ip netns exec" ,ns-x "ip link set" ,r1 "up")
       ("ip netns exec" ,ns-x "ip route add default via 10.218.1.1")
       ("ip netns exec" ,ns-y "ip addr add 10.218.2.2/24 dev" ,s1)
       ("ip netns exec" ,ns-y "ip link set" ,s1 "up")
       ("ip netns exec" ,ns-y "ip route add default via 10.218.2.1")))
    (let* ((port (open-pipe* OPEN_READ "ip" "netns" "exec" ns-y "cat"
                             (string-append "/sys/class/net/" s1 "/address")))
           (mac (string-trim-both (read-string port))))
      (close-pipe port)
      (sh "ip neigh replace 10.218.2.2 lladdr" mac "dev" s0 "nud permanent"))
    (set! router-prog
          (make-bpf-program `((name . "pw-router") (kind . xdp)
                              (attach . (#:target ,r0 #:mode generic))
                              (source . ,pw-router))))
    (bpf-attach! router-prog)
    (test-equal "fib-lookup: every ping through the XDP router is answered"
                4 (ns-ping ns-x "10.218.2.2" 4))
    (test-equal "fib-lookup: XDP forwarded the requests, out of the FIB's interface"
                (list 4 (call-with-input-file
                            (string-append "/sys/class/net/" s0 "/ifindex")
                          (lambda (p) (string->number (string-trim-both (read-string p))))))
                (list (bpf-map-ref pw-routed 0) (bpf-map-ref pw-routed 1)))
    (bpf-unload! router-prog)
    (set! router-prog #f)
    (for-each (lambda (r)
                (unless (sh "ip route add" (car r) (cadr r))
                  (error "command failed: ip route add" r)))
              fib-routes)
    (set! status-prog
          (make-bpf-program `((name . "pw-fib-status") (kind . xdp)
                              (attach . (#:target ,r0 #:mode generic))
                              (source . ,pw-fib-status))))
    (bpf-attach! status-prog)
    ;; 10.218.2.3 is on s0's subnet with no neighbour entry.
    (for-each (lambda (a) (ns-ping ns-x a 1))
              '("10.218.2.2" "10.218.3.1" "10.218.4.1" "10.218.5.1"
                "10.218.2.3"))
    (test-equal "fib-lookup-status: success, blackhole, unreachable, prohibit, no neighbour"
                '(0 1 2 3 7)
                (map (lambda (a) (bpf-map-ref pw-fib-st a #f))
                     '("10.218.2.2" "10.218.3.1" "10.218.4.1" "10.218.5.1"
                       "10.218.2.3")))
    (test-equal "fib-lookup-status: :fib-blackhole :fib-unreachable :fib-prohibit dropped"
                3 (bpf-map-ref pw-fib-drops 0)))
  (lambda ()
    (when router-prog (bpf-unload! router-prog))
    (when status-prog (bpf-unload! status-prog))
    (for-each (lambda (r) (sh "ip route del" (car r) (cadr r) ">/dev/null 2>&1"))
              fib-routes)
    (sh "ip netns del" ns-x ">/dev/null 2>&1")
    (sh "ip netns del" ns-y ">/dev/null 2>&1")
    (sh "ip link del" r0 ">/dev/null 2>&1")
    (sh "ip link del" s0 ">/dev/null 2>&1")))

(bpf-fn pw-fib-v6 (ctx)
  (let ((ip6 (packet-ipv6 ctx)))
    (when (> (fib-lookup ctx ip6) 0) (return :xdp-tx))
    (return :xdp-pass)))
(test-equal "fib-lookup of an IPv6 header loads; no route from lo: 0"
            'xdp-pass
            (bpf-run-result-verdict
             (run (prog 'xdp "fib-v6" pw-fib-v6)
                  (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2"))))
(defbpf-map pw-fib-st6 #:kind 'array #:key 'u32 #:value 'i64 #:max-entries 1)
(bpf-fn pw-fib-status-v6 (ctx)
  (map-set! pw-fib-st6 0 (fib-lookup-status ctx (packet-ipv6 ctx)))
  (return :xdp-pass))
(test-assert "fib-lookup-status of an IPv6 header loads; from lo: a failure code"
             (begin
               (bpf-map-set! pw-fib-st6 0 -100)
               (run (prog 'xdp "fib-st6" pw-fib-status-v6)
                    (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2"))
               (<= 1 (bpf-map-ref pw-fib-st6 0) 8)))
(bpf-fn pw-fib-status-arp (ctx)
  (map-set! pw-fib-st6 0 (fib-lookup-status ctx (packet-ipv4 ctx)))
  (return :xdp-pass))
(test-equal "fib-lookup-status without an IP header: :fib-not-forwarded"
            4
            (begin
              (run (prog 'xdp "fib-st-none" pw-fib-status-arp)
                   (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2"))
              (bpf-map-ref pw-fib-st6 0)))
(bpf-fn pw-tc-fib (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (when (> (fib-lookup ctx ip) 0) (return :tc-act-shot))
    (return :tc-act-ok)))
(test-equal "fib-lookup in tc loads; a local destination is not forwarded"
            'tc-act-ok
            (bpf-run-result-verdict
             (run (prog 'tc "tc-fib" pw-tc-fib)
                  (make-udp-packet #:src "10.0.0.1" #:dst "127.0.0.1"))))

;;; ---- address equality: ipv6, ipv4, mac --------------------------------

;; = and != of header addresses with constants and map values, on frames
;; whose addresses match one slot in two: a bit per comparison.
(defbpf-map pw-eq-a6 #:kind 'array #:key 'u32 #:value 'ipv6 #:max-entries 1)
(defbpf-map pw-eq-a4 #:kind 'array #:key 'u32 #:value 'ipv4 #:max-entries 1)
(defbpf-map pw-eq-mac #:kind 'array #:key 'u32 #:value 'mac #:max-entries 1)
(defbpf-map pw-eq #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn pw-addr-eq (ctx)
  (let ((eth (packet-eth ctx)) (ip6 (packet-ipv6 ctx)) (ip (packet-ipv4 ctx)))
    (map-set! pw-eq 0
              (logior (if (and ip6 (= (ipv6-saddr ip6) (ipv6 "2001:db8::1"))) 1 0)
                      (if (and ip6 (!= (ipv6 "2001:db8::2") (ipv6-daddr ip6))) 2 0)
                      (if (and ip6 (= (ipv6-daddr ip6)
                                      (map-ref pw-eq-a6 0 (ipv6 "::"))))
                          4 0)
                      (if (and ip (= (ipv4-daddr ip) (map-ref pw-eq-a4 0 (ipv4 "0.0.0.0"))))
                          8 0)
                      (if (and eth (= (eth-h-source eth) (map-ref pw-eq-mac 0 (eth-h-dest eth))))
                          16 0)
                      (if (and eth (!= (eth-h-dest eth) (map-ref pw-eq-mac 0 (eth-h-dest eth))))
                          32 0)))
    (return :xdp-pass)))
(bpf-map-set! pw-eq-a6 0 "2001:db8::9")
(bpf-map-set! pw-eq-a4 0 "10.1.2.3")
(bpf-map-set! pw-eq-mac 0 "02:00:00:00:00:01")
(let ((p (prog 'xdp "addr-eq" pw-addr-eq)))
  (define (bits frame) (run p frame) (bpf-map-ref pw-eq 0))
  (test-equal "ipv6 =, != with constants and a map value: all match"
              (logior 1 2 4 16 32)
              (bits (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::9"
                                     #:src-mac "02:00:00:00:00:01"
                                     #:dst-mac "02:00:00:00:00:02")))
  (test-equal "ipv6 =, != with constants and a map value: none match"
              0
              (bits (make-udp-packet #:src "2001:db8::8" #:dst "2001:db8::2"
                                     #:src-mac "02:00:00:00:00:03"
                                     #:dst-mac "02:00:00:00:00:01")))
  (test-equal "ipv4 = with a map value, mac = and !="
              (logior 8 16 32)
              (bits (make-udp-packet #:src "10.0.0.1" #:dst "10.1.2.3"
                                     #:src-mac "02:00:00:00:00:01"
                                     #:dst-mac "02:00:00:00:00:02")))
  #t)

;;; ---- what the lowering refuses ---------------------------------------

(define (lower kind fn) (bpf-fn->c fn #:kind kind))

(bpf-fn bad-field (ctx) (set-field! (packet-ipv4 ctx) 'source 1))
(lower-error "set-field! of the context in a socket filter"
             ("cannot write the context's 'mark in socket-filter"
              "tc programs (mark")
             (bpf-fn->c (bpf-fn pw-e1 (ctx) (set-field! ctx 'mark 1) (return 0))
                        #:kind 'socket-filter))
(lower-error "set-field! of a read-only context field"
             ("cannot write the context's 'len in tc" "'mark 'priority")
             (bpf-fn->c (bpf-fn pw-e2 (ctx) (set-field! ctx 'len 1) (return 0))
                        #:kind 'tc))
(lower-error "ctx-field in xdp" ("ctx-field" "xdp" "packet-length")
             (bpf-fn->c (bpf-fn pw-e3 (ctx) (return (ctx-field ctx 'mark)))
                        #:kind 'xdp))
(lower-error "ctx-field of an unknown field" ("no socket buffer field 'marks"
                                               "'mark")
             (bpf-fn->c (bpf-fn pw-e4 (ctx) (return (ctx-field ctx 'marks)))
                        #:kind 'tc))
(lower-error "set-field! of the context: a value too wide" ("does not fit")
             (bpf-fn->c (bpf-fn pw-e5 (ctx) (set-field! ctx 'mark #x100000000)
                          (return 0))
                        #:kind 'tc))
(lower-error "unknown field: lists the header's fields"
             ("no field 'source" "'ttl" "'saddr") (lower 'xdp bad-field))
(bpf-fn bad-type (ctx)
  (set-field! (packet-ipv4 ctx) 'saddr (eth-h-source (packet-eth ctx))))
(lower-error "mac into an ipv4 field" ("'saddr needs an ipv4 address")
             (lower 'xdp bad-type))
(bpf-fn bad-range (ctx) (set-field! (packet-ipv4 ctx) 'ttl 300))
(lower-error "literal too big for the field" ("300 does not fit in 1 bytes")
             (lower 'xdp bad-range))
(bpf-fn bad-bit (ctx) (set-field! (packet-tcp ctx) 'syn 2))
(lower-error "a flag bit takes 0 or 1" ("2 does not fit in 1 bit")
             (lower 'xdp bad-bit))
(bpf-fn bad-fib (ctx) (fib-lookup ctx (packet-tcp ctx)))
(lower-error "fib-lookup of a TCP header" ("fib-lookup needs an IP header")
             (lower 'xdp bad-fib))
(lower-error "fib-lookup outside xdp and tc"
             ("fib-lookup is not available in socket-filter")
             (lower 'socket-filter
                    (bpf-fn bad-fib2 (ctx) (fib-lookup ctx (packet-ipv4 ctx)))))
(bpf-fn bad-fib-st (ctx) (fib-lookup-status ctx (packet-udp ctx)))
(lower-error "fib-lookup-status of a UDP header"
             ("fib-lookup-status needs an IP header") (lower 'xdp bad-fib-st))
(lower-error "fib-lookup-status outside xdp and tc"
             ("fib-lookup-status is not available in cgroup-skb")
             (lower 'cgroup-skb
                    (bpf-fn bad-fib-st2 (ctx)
                      (fib-lookup-status ctx (packet-ipv4 ctx)))))
(bpf-fn bad-header (ctx) (set-field! ctx 'ttl 3))
(lower-error "not a header" ("needs a packet header") (lower 'xdp bad-header))
(lower-error "unquoted field name, at definition" ("quoted name" "'ttl")
             (bpf-fn bad-quote (ctx) (set-field! (packet-ipv4 ctx) ttl 3)))
(bpf-fn sf-write (ctx) (set-field! (packet-ipv4 ctx) 'ttl 1))
(lower-error "set-field! in a socket filter" ("set-field! is not available in socket-filter")
             (lower 'socket-filter sf-write))
(lower-error "set-field! in cgroup-skb" ("set-field! is not available in cgroup-skb")
             (lower 'cgroup-skb sf-write))
(bpf-fn bad-adjust (ctx) (xdp-adjust-head! ctx 4) 0)
(lower-error "xdp-adjust-head! in tc" ("not available in tc")
             (lower 'tc bad-adjust))
(bpf-fn bad-map (ctx) (return (redirect-map pw-sel 0)))
(lower-error "redirect-map to an array" ("needs a devmap") (lower 'xdp bad-map))
(bpf-fn stale (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (xdp-adjust-head! ctx 4)
    (set-field! ip 'ttl 1)))
(lower-error "a header parsed before xdp-adjust-head! is refused"
             ("header ip was parsed before xdp-adjust-head!" "parse the header again")
             (lower 'xdp stale))
(bpf-fn stale-loop (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (do-times (i 2)
      (when ip (set-field! ip 'ttl 1))
      (xdp-adjust-tail! ctx -1))))
(lower-error "a loop's next iteration sees the adjustment" ("parsed before")
             (lower 'xdp stale-loop))
(bpf-fn fresh (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (xdp-adjust-head! ctx 0)
    (set! ip (packet-ipv4 ctx))
    (set-field! ip 'ttl 1)))
(test-assert "a header parsed again after the adjustment is accepted"
             (string? (lower 'xdp fresh)))
(bpf-fn exclusive (ctx)
  (let ((ip (packet-ipv4 ctx))
        (x (map-ref pw-sel 0 0)))
    (if (= x 1)
        (xdp-adjust-head! ctx 4)
        (cond ((= x 2) (xdp-adjust-tail! ctx -4))
              ((= x 3) (set-field! ip 'ttl 2))
              (else (case x
                      ((4) (xdp-adjust-head! ctx 4))
                      (else (set-field! ip 'ttl 4))))))
    (return :xdp-pass)))
(test-assert "branches that exclude the adjustment may use the header"
             (string? (lower 'xdp exclusive)))
(test-equal "... and the verifier agrees" 'xdp-pass
            (begin (select! 5 0)
                   (bpf-run-result-verdict
                    (run (prog 'xdp "exclusive" exclusive) plain))))
(bpf-fn after-branch (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (cond ((= (map-ref pw-sel 0 0) 2) (xdp-adjust-tail! ctx -4)))
    (set-field! ip 'ttl 1)))
(lower-error "after a branch that adjusts, the header is stale" ("parsed before")
             (lower 'xdp after-branch))
(bpf-fn maybe-fresh (ctx)
  (let ((ip (packet-ipv4 ctx)))
    (xdp-adjust-head! ctx 0)
    (when (= (map-ref pw-sel 0 0) 1) (set! ip (packet-ipv4 ctx)))
    (set-field! ip 'ttl 1)))
(lower-error "a header parsed again only when a test holds is still stale"
             ("parsed before") (lower 'xdp maybe-fresh))
(define-bpf-inline (pw-dec-ttl ip) (set-field! ip 'ttl 1))
(bpf-fn in-inline (ctx) (pw-dec-ttl (packet-ipv4 ctx)))
(lower-error "set-field! in an inline" ("inside define-bpf-inline")
             (lower 'xdp in-inline))

(harness-end)
