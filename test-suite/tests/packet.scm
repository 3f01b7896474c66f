;;; (ebpf packet): frame layouts checked byte by byte, checksums checked
;;; by an independent computation, parse-packet round trips, bad input.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (rnrs bytevectors))

(harness-begin "packet")

(define (bytes bv start end) (bytevector->u8-list (sub bv start end)))
(define (sub bv start end)
  (let ((out (make-bytevector (- end start))))
    (bytevector-copy! bv start out 0 (- end start))
    out))
(define (append-bytes a b)
  (u8-list->bytevector (append (bytevector->u8-list a) (bytevector->u8-list b))))
(define (be16 bv i) (bytevector-u16-ref bv i (endianness big)))
(define (u8 bv i) (bytevector-u8-ref bv i))
(define (field p k) (assq-ref p k))

;; An independent one's complement sum: over a list of bytes, pairing them
;; into big-endian words, carries folded at the end.
(define (sum16 byte-list)
  (let loop ((l byte-list) (acc 0))
    (cond ((null? l)
           (let fold ((s acc))
             (if (> s #xffff) (fold (+ (logand s #xffff) (ash s -16))) s)))
          ((null? (cdr l)) (loop '() (+ acc (* 256 (car l)))))
          (else (loop (cddr l) (+ acc (* 256 (car l)) (cadr l)))))))

;; Data that carries a right checksum sums to #xffff.
(define (sums-to-ffff? byte-list) (= #xffff (sum16 byte-list)))

(define (pseudo-v4 frame ip-off proto len)
  (append (bytes frame (+ ip-off 12) (+ ip-off 20))
          (list 0 proto (ash len -8) (logand len 255))))
(define (pseudo-v6 frame ip-off proto len)
  (append (bytes frame (+ ip-off 8) (+ ip-off 40))
          (list (logand (ash len -24) 255) (logand (ash len -16) 255)
                (logand (ash len -8) 255) (logand len 255) 0 0 0 proto)))

;; Checks for a frame without VLAN tag: IPv4 at 14, L4 after the IHL.
(define (v4-header-ok? frame)
  (let ((ihl (* 4 (logand (u8 frame 14) 15))))
    (sums-to-ffff? (bytes frame 14 (+ 14 ihl)))))
(define (v4-l4-ok? frame)
  (let* ((ihl (* 4 (logand (u8 frame 14) 15)))
         (l4 (+ 14 ihl))
         (len (- (bytevector-length frame) l4))
         (proto (u8 frame 23)))
    (sums-to-ffff? (append (if (= proto 1) '() (pseudo-v4 frame 14 proto len))
                           (bytes frame l4 (bytevector-length frame))))))
(define (v6-l4-ok? frame l4 proto)
  (let ((len (- (bytevector-length frame) l4)))
    (sums-to-ffff? (append (pseudo-v6 frame 14 proto len)
                           (bytes frame l4 (bytevector-length frame))))))

;;; ------------------------------------------------------------------
;;; Checksum known answers.

;; RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
(test-equal "RFC 1071 example" (logxor #xffff #xddf2)
            (packet-checksum #vu8(#x00 #x01 #xf2 #x03 #xf4 #xf5 #xf6 #xf7)))
;; The classic IPv4 header 4500 0073 0000 4000 4011 xxxx c0a8 0001 c0a8 00c7.
(define classic-ip
  #vu8(#x45 #x00 #x00 #x73 #x00 #x00 #x40 #x00 #x40 #x11 #x00 #x00
       #xc0 #xa8 #x00 #x01 #xc0 #xa8 #x00 #xc7))
(test-equal "classic IPv4 header checksum" #xb861 (packet-checksum classic-ip))
(let ((h (bytevector-copy classic-ip)))
  (bytevector-u16-set! h 10 #xb861 (endianness big))
  (test-equal "checksum over a right header is 0" 0 (packet-checksum h)))
(test-equal "odd length pads with zero" (logxor #xffff #x0402)
            (packet-checksum #vu8(1 2 3)))
(test-equal "range" (packet-checksum #vu8(1 2 3)) (packet-checksum #vu8(9 9 1 2 3 9) 2 5))
(test-equal "empty range" #xffff (packet-checksum #vu8(1 2) 1 1))
(test-equal "carries fold: ffff+0002 = 1 0001 -> 0002" (logxor #xffff #x0002) (packet-checksum #vu8(#xff #xff #x00 #x02)))

;;; ------------------------------------------------------------------
;;; A minimal IPv4 TCP SYN, byte by byte.
;;; IPv4 checksum by hand: 4500+0028+4006+0a00+0001+0a00+0002 = 9931 -> 66ce.
;;; TCP checksum by hand: pseudo-header 0a00+0001+0a00+0002+0006+0014 = 141d,
;;; header 3039+0050+5002+ffff = 1808a -> 808b; 808b+141d = 94a8 -> 6b57.

(define syn (make-tcp-packet #:src "10.0.0.1" #:dst "10.0.0.2"
                             #:sport 12345 #:dport 80 #:ttl 64))
(test-equal "SYN is 54 bytes" 54 (bytevector-length syn))
(test-equal "SYN exact bytes"
            '(2 0 0 0 0 2  2 0 0 0 0 1  #x08 #x00               ; Ethernet
              #x45 0 0 40  0 0 0 0  64 6 #x66 #xce  10 0 0 1  10 0 0 2 ; IPv4
              #x30 #x39 0 80  0 0 0 0  0 0 0 0  #x50 #x02 #xff #xff
              #x6b #x57 0 0)                                   ; TCP
            (bytevector->u8-list syn))
(test-equal "ethertype IPv4" #x0800 (be16 syn 12))
(test-equal "version 4, IHL 5" #x45 (u8 syn 14))
(test-equal "total length" 40 (be16 syn 16))
(test-equal "protocol 6" 6 (u8 syn 23))
(test-equal "TTL" 64 (u8 syn 22))
(test-equal "addresses" '(10 0 0 1 10 0 0 2) (bytes syn 26 34))
(test-equal "ports in network order" '(#x30 #x39 0 80) (bytes syn 34 38))
(test-equal "data offset 5" 5 (ash (u8 syn 46) -4))
(test-equal "flags byte SYN" #x02 (u8 syn 47))
(test-assert "IPv4 header checksum validates" (v4-header-ok? syn))
(test-assert "TCP checksum validates" (v4-l4-ok? syn))
(test-equal "packet-checksum over the IPv4 header is 0" 0 (packet-checksum syn 14 34))

;; Flags, sequence numbers, window, TTL, payload.
(define synack (make-tcp-packet #:flags '(syn ack) #:seq #x01020304
                                #:ack-seq #xa0b0c0d0 #:window 1024 #:ttl 3
                                #:payload "hello"))
(test-equal "SYN|ACK byte" #x12 (u8 synack 47))
(test-equal "seq" '(1 2 3 4) (bytes synack 38 42))
(test-equal "ack-seq" '(#xa0 #xb0 #xc0 #xd0) (bytes synack 42 46))
(test-equal "window" 1024 (be16 synack 48))
(test-equal "TTL 3" 3 (u8 synack 22))
(test-equal "payload placed after the TCP header" (string->utf8 "hello") (sub synack 54 59))
(test-equal "total length counts the payload" 45 (be16 synack 16))
(test-assert "odd-length TCP checksum validates" (v4-l4-ok? synack))
(test-assert "IPv4 checksum validates" (v4-header-ok? synack))
(test-equal "every flag" #xff
            (u8 (make-tcp-packet #:flags '(fin syn rst psh ack urg ece cwr)) 47))
(test-equal "no flag" 0 (u8 (make-tcp-packet #:flags '()) 47))
(let ((p (make-tcp-packet #:tcp-options #vu8(2 4 5 180 1))))
  (test-equal "TCP options: data offset 7" 7 (ash (u8 p 46) -4))
  (test-equal "TCP options padded" '(2 4 5 180 1 0 0 0) (bytes p 54 62))
  (test-assert "TCP options checksum" (v4-l4-ok? p)))
(let ((p (make-tcp-packet #:src-mac "aa:bb:cc:dd:ee:ff" #:dst-mac "1:2:3:4:5:6")))
  (test-equal "MACs" '(1 2 3 4 5 6 #xaa #xbb #xcc #xdd #xee #xff) (bytes p 0 12)))

;;; ------------------------------------------------------------------
;;; VLAN, IPv4 options, fragments.

(let ((p (make-tcp-packet #:vlan 100 #:vlan-priority 3)))
  (test-equal "VLAN frame is 58 bytes" 58 (bytevector-length p))
  (test-equal "TPID 0x8100" #x8100 (be16 p 12))
  (test-equal "TCI = priority 3, id 100" (logior (ash 3 13) 100) (be16 p 14))
  (test-equal "inner ethertype" #x0800 (be16 p 16))
  (test-equal "IPv4 after the tag" #x45 (u8 p 18))
  (test-equal "rest as untagged" (bytes syn 14 54) (bytes p 18 58)))

(let ((p (make-tcp-packet #:vlan '(7 42))))
  (test-equal "QinQ frame is 62 bytes" 62 (bytevector-length p))
  (test-equal "QinQ: outer TPID 0x88a8" #x88a8 (be16 p 12))
  (test-equal "QinQ: outer id" 7 (be16 p 14))
  (test-equal "QinQ: inner TPID 0x8100" #x8100 (be16 p 16))
  (test-equal "QinQ: inner id" 42 (be16 p 18))
  (test-equal "QinQ: rest as untagged" (bytes syn 12 54) (bytes p 20 62))
  (test-equal "QinQ parses back, outer first" '(7 42)
              (assq-ref (parse-packet p) 'vlans)))

(let ((p (make-tcp-packet #:ip-options #vu8(7 3 4))))
  (test-equal "options: IHL 6" #x46 (u8 p 14))
  (test-equal "options: total length 44" 44 (be16 p 16))
  (test-equal "options padded to 4 bytes" '(7 3 4 0) (bytes p 34 38))
  (test-equal "TCP after the options" 12345 (be16 p 38))
  (test-assert "header checksum covers the options" (v4-header-ok? p))
  (test-assert "TCP checksum with options" (v4-l4-ok? p)))
(test-equal "40 bytes of options: IHL 15" #x4f
            (u8 (make-udp-packet #:ip-options (make-bytevector 40 1)) 14))

(let ((p (make-udp-packet #:fragment-offset 1480 #:more-fragments? #t #:ip-id #x1234)))
  (test-equal "MF and offset 1480/8" (logior #x2000 185) (be16 p 20))
  (test-equal "identification" #x1234 (be16 p 18))
  (test-assert "fragment header checksum" (v4-header-ok? p)))
(test-equal "DF" #x4000 (be16 (make-udp-packet #:dont-fragment? #t) 20))
(test-equal "MF alone" #x2000 (be16 (make-udp-packet #:more-fragments? #t) 20))
(test-equal "largest offset" #x1fff (be16 (make-udp-packet #:fragment-offset 65528) 20))

;;; ------------------------------------------------------------------
;;; UDP and ICMP over IPv4.

(let ((p (make-udp-packet #:sport 5353 #:dport 53 #:payload #vu8(1 2 3))))
  (test-equal "UDP frame length" (+ 14 20 8 3) (bytevector-length p))
  (test-equal "protocol 17" 17 (u8 p 23))
  (test-equal "UDP ports" '(#x14 #xe9 0 53) (bytes p 34 38))
  (test-equal "UDP length" 11 (be16 p 38))
  (test-equal "UDP payload" '(1 2 3) (bytes p 42 45))
  (test-assert "UDP checksum validates" (v4-l4-ok? p))
  (test-assert "UDP checksum is not 0" (not (zero? (be16 p 40)))))

(let ((p (make-icmp-packet #:id 7 #:sequence 9 #:payload "ping")))
  (test-equal "ICMP protocol 1" 1 (u8 p 23))
  (test-equal "echo request type 8 code 0" '(8 0) (bytes p 34 36))
  (test-equal "id and sequence" '(0 7 0 9) (bytes p 38 42))
  (test-equal "ICMP payload" (string->utf8 "ping") (sub p 42 46))
  (test-assert "ICMP checksum validates (no pseudo-header)" (v4-l4-ok? p)))
(test-equal "echo reply type 0" 0 (u8 (make-icmp-packet #:icmp-type 'echo-reply) 34))
(let ((p (make-icmp-packet #:icmp-type 3 #:icmp-code 4)))
  (test-equal "numeric type and code" '(3 4) (bytes p 34 36))
  (test-equal "non-echo: rest of header 0" '(0 0 0 0) (bytes p 38 42))
  (test-assert "non-echo checksum" (v4-l4-ok? p)))

;;; ------------------------------------------------------------------
;;; IPv6.

(let ((p (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2" #:ttl 9
                          #:payload "abc")))
  (test-equal "IPv6 UDP length" (+ 14 40 8 3) (bytevector-length p))
  (test-equal "ethertype 0x86dd" #x86dd (be16 p 12))
  (test-equal "version 6" 6 (ash (u8 p 14) -4))
  (test-equal "payload length" 11 (be16 p 18))
  (test-equal "next header 17" 17 (u8 p 20))
  (test-equal "hop limit" 9 (u8 p 21))
  (test-equal "source address" '(#x20 1 #xd #xb8 0 0 0 0 0 0 0 0 0 0 0 1) (bytes p 22 38))
  (test-equal "destination address" '(#x20 1 #xd #xb8 0 0 0 0 0 0 0 0 0 0 0 2) (bytes p 38 54))
  (test-equal "UDP ports" '(#x30 #x39 0 80) (bytes p 54 58))
  (test-assert "UDP checksum with the IPv6 pseudo-header" (v6-l4-ok? p 54 17)))

(let ((p (make-tcp-packet #:src "fe80::1" #:dst "fe80::2" #:flags '(ack psh)
                          #:tos #xb8 #:flow-label #x12345)))
  (test-equal "IPv6 TCP" 6 (u8 p 20))
  (test-equal "traffic class and flow label" (logior (ash 6 28) (ash #xb8 20) #x12345)
              (bytevector-u32-ref p 14 (endianness big)))
  (test-assert "TCP checksum with the IPv6 pseudo-header" (v6-l4-ok? p 54 6)))

(let ((p (make-icmp-packet #:src "2001:db8::1" #:dst "2001:db8::2" #:payload #vu8(5))))
  (test-equal "ICMPv6 next header 58" 58 (u8 p 20))
  (test-equal "ICMPv6 echo request 128" 128 (u8 p 54))
  (test-assert "ICMPv6 checksum with the pseudo-header" (v6-l4-ok? p 54 58)))
(test-equal "ICMPv6 echo reply 129" 129
            (u8 (make-icmp-packet #:src "::1" #:dst "::2" #:icmp-type 'echo-reply) 54))

;; Extension headers chained by next-header values.
(let ((p (make-tcp-packet #:src "2001:db8::1" #:dst "2001:db8::2"
                          #:ipv6-ext '(hop-by-hop destination routing fragment)
                          #:fragment-offset 64 #:more-fragments? #t #:ip-id 77)))
  (test-equal "four 8-byte headers" (+ 14 40 32 20) (bytevector-length p))
  (test-equal "payload length counts them" 52 (be16 p 18))
  (test-equal "IPv6 -> hop-by-hop (0)" 0 (u8 p 20))
  (test-equal "hop-by-hop -> destination (60)" 60 (u8 p 54))
  (test-equal "hop-by-hop length 0" 0 (u8 p 55))
  (test-equal "destination -> routing (43)" 43 (u8 p 62))
  (test-equal "routing -> fragment (44)" 44 (u8 p 70))
  (test-equal "routing: segments left 0" 0 (u8 p 73))
  (test-equal "fragment -> TCP (6)" 6 (u8 p 78))
  (test-equal "fragment offset 64/8, M" (logior (ash 8 3) 1) (be16 p 80))
  (test-equal "fragment identification" 77 (bytevector-u32-ref p 82 (endianness big)))
  (test-equal "TCP after the chain" 12345 (be16 p 86))
  (test-assert "TCP checksum after extension headers" (v6-l4-ok? p 86 6)))
(let ((p (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2" #:fragment-offset 8)))
  (test-equal "fragment-offset adds a fragment header" 44 (u8 p 20))
  (test-equal "its next header is UDP" 17 (u8 p 54))
  (test-equal "offset 1, no M" 8 (be16 p 56)))
(let ((p (make-udp-packet #:src "2001:db8::1" #:dst "2001:db8::2"
                          #:ipv6-ext '(hop-by-hop) #:more-fragments? #f)))
  (test-equal "more-fragments? given: fragment header after hop-by-hop" 44 (u8 p 54))
  (test-equal "M clear" 0 (be16 p 64)))
(test-equal "no extension headers unless asked" 17
            (u8 (make-udp-packet #:src "::1" #:dst "::2") 20))

;;; ------------------------------------------------------------------
;;; ARP.

(let ((p (make-arp-packet #:src "10.0.0.1" #:dst "10.0.0.2")))
  (test-equal "ARP frame is 14 + 28 bytes" 42 (bytevector-length p))
  (test-equal "request goes to broadcast" '(255 255 255 255 255 255) (bytes p 0 6))
  (test-equal "ethertype 0x0806" #x0806 (be16 p 12))
  (test-equal "htype 1, ptype 0x0800, hlen 6, plen 4, op 1"
              '(0 1 8 0 6 4 0 1) (bytes p 14 22))
  (test-equal "sender MAC and IP" '(2 0 0 0 0 1 10 0 0 1) (bytes p 22 32))
  (test-equal "target MAC zero, target IP" '(0 0 0 0 0 0 10 0 0 2) (bytes p 32 42)))
(let ((p (make-arp-packet #:op 'reply #:src "10.0.0.2" #:dst "10.0.0.1"
                          #:src-mac "02:00:00:00:00:02" #:dst-mac "02:00:00:00:00:01")))
  (test-equal "reply op 2" 2 (be16 p 20))
  (test-equal "reply unicast" '(2 0 0 0 0 1) (bytes p 0 6))
  (test-equal "reply target MAC" '(2 0 0 0 0 1 10 0 0 1) (bytes p 32 42)))
(let ((p (make-arp-packet #:vlan 7 #:sender-mac "0a:0b:0c:0d:0e:0f"
                          #:target-ip "192.168.1.1")))
  (test-equal "ARP with VLAN" 46 (bytevector-length p))
  (test-equal "ARP VLAN tag" '(#x81 0 0 7 8 6) (bytes p 12 18))
  (test-equal "sender-mac overrides" '(10 11 12 13 14 15) (bytes p 26 32))
  (test-equal "target-ip overrides" '(192 168 1 1) (bytes p 42 46)))

;;; ------------------------------------------------------------------
;;; parse-packet round trips.

(let ((p (parse-packet (make-tcp-packet #:src "192.0.2.1" #:dst "198.51.100.7"
                                        #:sport 40000 #:dport 443 #:flags '(ack fin)
                                        #:seq 100 #:ack-seq 200 #:ttl 17
                                        #:vlan 42 #:payload "xyz"))))
  (test-equal "tcp: eth-proto" #x0800 (field p 'eth-proto))
  (test-equal "tcp: vlan" 42 (field p 'vlan))
  (test-equal "tcp: src" "192.0.2.1" (field p 'src))
  (test-equal "tcp: dst" "198.51.100.7" (field p 'dst))
  (test-equal "tcp: protocol" 6 (field p 'protocol))
  (test-equal "tcp: ports" '(40000 443) (list (field p 'sport) (field p 'dport)))
  (test-equal "tcp: flags" '(fin ack) (field p 'flags))
  (test-equal "tcp: seq" '(100 200) (list (field p 'seq) (field p 'ack-seq)))
  (test-equal "tcp: ttl" 17 (field p 'ttl))
  (test-equal "tcp: payload length" 3 (field p 'payload-length))
  (test-equal "tcp: payload" (string->utf8 "xyz") (field p 'payload))
  (test-assert "tcp: checksums ok" (and (field p 'ip-checksum-ok?) (field p 'checksum-ok?))))

(let ((p (parse-packet (make-udp-packet #:src "10.1.1.1" #:dst "10.2.2.2"
                                        #:sport 1 #:dport 2 #:fragment-offset 16
                                        #:more-fragments? #t #:ip-options #vu8(1)
                                        #:payload (make-bytevector 10 7)))))
  (test-equal "udp: protocol" 17 (field p 'protocol))
  (test-equal "udp: vlan" #f (field p 'vlan))
  (test-equal "udp: ports" '(1 2) (list (field p 'sport) (field p 'dport)))
  (test-equal "udp: fragment" '(16 #t) (list (field p 'fragment-offset) (field p 'more-fragments?)))
  (test-equal "udp: header length" 24 (field p 'ip-header-length))
  (test-equal "udp: options" #vu8(1 0 0 0) (field p 'ip-options))
  (test-equal "udp: payload length" 10 (field p 'payload-length))
  (test-assert "udp: checksums ok" (and (field p 'ip-checksum-ok?) (field p 'checksum-ok?))))

(let ((p (parse-packet (make-udp-packet #:src "2001:db8::a" #:dst "2001:db8::b"
                                        #:ipv6-ext '(hop-by-hop routing)
                                        #:fragment-offset 24 #:ttl 200
                                        #:payload "six"))))
  (test-equal "udp6: eth-proto" #x86dd (field p 'eth-proto))
  (test-equal "udp6: version" 6 (field p 'ip-version))
  (test-equal "udp6: addresses" '("2001:db8::a" "2001:db8::b")
              (list (field p 'src) (field p 'dst)))
  (test-equal "udp6: ext chain" '(hop-by-hop routing fragment) (field p 'ipv6-ext))
  (test-equal "udp6: fragment" '(24 #f) (list (field p 'fragment-offset) (field p 'more-fragments?)))
  (test-equal "udp6: protocol" 17 (field p 'protocol))
  (test-equal "udp6: hop limit" 200 (field p 'ttl))
  (test-equal "udp6: payload" (string->utf8 "six") (field p 'payload))
  (test-assert "udp6: checksum ok" (field p 'checksum-ok?)))

(let ((p (parse-packet (make-icmp-packet #:id 3 #:sequence 4 #:payload "p"))))
  (test-equal "icmp: type/code/id/seq" '(8 0 3 4)
              (map (lambda (k) (field p k)) '(icmp-type icmp-code id sequence)))
  (test-equal "icmp: protocol" 1 (field p 'protocol))
  (test-equal "icmp: payload length" 1 (field p 'payload-length))
  (test-assert "icmp: checksum ok" (field p 'checksum-ok?)))
(let ((p (parse-packet (make-icmp-packet #:src "::1" #:dst "::2"))))
  (test-equal "icmpv6: type and protocol" '(128 58) (list (field p 'icmp-type) (field p 'protocol)))
  (test-assert "icmpv6: checksum ok" (field p 'checksum-ok?)))

(let ((p (parse-packet (make-arp-packet #:op 'reply #:src "10.9.9.9" #:dst "10.8.8.8"))))
  (test-equal "arp: eth-proto" #x0806 (field p 'eth-proto))
  (test-equal "arp: op" 2 (field p 'arp-op))
  (test-equal "arp: sender" '("02:00:00:00:00:01" "10.9.9.9")
              (list (field p 'sender-mac) (field p 'sender-ip)))
  (test-equal "arp: target" '("02:00:00:00:00:02" "10.8.8.8")
              (list (field p 'target-mac) (field p 'target-ip))))

;; A rewritten packet: parse-packet notices a stale checksum.
(let ((p (make-tcp-packet)))
  (bytevector-u8-set! p 22 63)          ;TTL decremented, checksum not fixed
  (test-assert "stale IPv4 checksum seen" (not (field (parse-packet p) 'ip-checksum-ok?)))
  (bytevector-u8-set! p 22 64)
  (bytevector-u16-set! p 36 8080 (endianness big))
  (test-assert "stale TCP checksum seen" (not (field (parse-packet p) 'checksum-ok?))))
(let ((p (parse-packet (append-bytes (make-udp-packet #:payload "a") (make-bytevector 10 0)))))
  (test-equal "Ethernet padding is not payload" 1 (field p 'payload-length))
  (test-assert "padding outside the checksum" (field p 'checksum-ok?)))

;;; ------------------------------------------------------------------
;;; Bad input.

(test-ebpf-error "unknown TCP flag" 'ebpf-validation-error ("sin" "#:flags")
                 (make-tcp-packet #:flags '(sin)))
(test-ebpf-error "flags not a list" 'ebpf-validation-error ("#:flags")
                 (make-tcp-packet #:flags 'syn))
(test-ebpf-error "mixed families" 'ebpf-validation-error ("10.0.0.1" "2001:db8::1")
                 (make-udp-packet #:src "10.0.0.1" #:dst "2001:db8::1"))
(test-ebpf-error "bad IPv4 address" 'ebpf-validation-error ("10.0.0.300" "#:src")
                 (make-tcp-packet #:src "10.0.0.300"))
(test-ebpf-error "bad IPv6 address" 'ebpf-validation-error ("2001:db8::zz" "#:dst")
                 (make-tcp-packet #:src "::1" #:dst "2001:db8::zz"))
(test-ebpf-error "address not a string" 'ebpf-validation-error ("#:dst" "42")
                 (make-icmp-packet #:dst 42))
(test-ebpf-error "sport out of range" 'ebpf-validation-error ("#:sport" "70000")
                 (make-tcp-packet #:sport 70000))
(test-ebpf-error "dport negative" 'ebpf-validation-error ("#:dport" "-1")
                 (make-udp-packet #:dport -1))
(test-ebpf-error "odd fragment offset" 'ebpf-validation-error ("#:fragment-offset" "100")
                 (make-udp-packet #:fragment-offset 100))
(test-ebpf-error "fragment offset too large" 'ebpf-validation-error ("65536")
                 (make-udp-packet #:fragment-offset 65536))
(test-ebpf-error "unknown extension header" 'ebpf-validation-error ("jumbo" "#:ipv6-ext")
                 (make-udp-packet #:src "::1" #:dst "::2" #:ipv6-ext '(jumbo)))
(test-ebpf-error "hop-by-hop not first" 'ebpf-validation-error ("hop-by-hop")
                 (make-udp-packet #:src "::1" #:dst "::2" #:ipv6-ext '(routing hop-by-hop)))
(test-ebpf-error "ipv6-ext on IPv4" 'ebpf-validation-error ("#:ipv6-ext" "IPv4")
                 (make-udp-packet #:ipv6-ext '(fragment)))
(test-ebpf-error "ip-options on IPv6" 'ebpf-validation-error ("#:ip-options" "IPv6")
                 (make-udp-packet #:src "::1" #:dst "::2" #:ip-options #vu8(1)))
(test-ebpf-error "dont-fragment? on IPv6" 'ebpf-validation-error ("#:dont-fragment?")
                 (make-udp-packet #:src "::1" #:dst "::2" #:dont-fragment? #t))
(test-ebpf-error "ip-options too long" 'ebpf-validation-error ("#:ip-options" "41")
                 (make-udp-packet #:ip-options (make-bytevector 41 1)))
(test-ebpf-error "ip-options not bytes" 'ebpf-validation-error ("#:ip-options")
                 (make-udp-packet #:ip-options '(1 2)))
(test-ebpf-error "payload of a wrong type" 'ebpf-validation-error ("#:payload" "(1 2)")
                 (make-tcp-packet #:payload '(1 2)))
(test-ebpf-error "payload too large" 'ebpf-validation-error ("65535" "#:payload")
                 (make-udp-packet #:payload (make-bytevector 65536 0)))
(test-ebpf-error "TTL out of range" 'ebpf-validation-error ("#:ttl" "256")
                 (make-icmp-packet #:ttl 256))
(test-ebpf-error "VLAN id out of range" 'ebpf-validation-error ("#:vlan" "4096")
                 (make-tcp-packet #:vlan 4096))
(test-ebpf-error "three VLAN tags" 'ebpf-validation-error ("has 3 tags" "QinQ")
                 (make-tcp-packet #:vlan '(1 2 3)))
(test-ebpf-error "bad MAC" 'ebpf-validation-error ("#:src-mac" "02:00:00")
                 (make-tcp-packet #:src-mac "02:00:00"))
(test-ebpf-error "unknown keyword" 'ebpf-validation-error ("#:sprot" "#:sport")
                 (make-tcp-packet #:sprot 80))
(test-ebpf-error "keyword of another builder" 'ebpf-validation-error ("#:flags" "make-udp-packet")
                 (make-udp-packet #:flags '(syn)))
(test-ebpf-error "positional argument" 'ebpf-validation-error ("\"10.0.0.1\"")
                 (make-tcp-packet "10.0.0.1"))
(test-ebpf-error "seq out of range" 'ebpf-validation-error ("#:seq")
                 (make-tcp-packet #:seq (expt 2 32)))
(test-ebpf-error "bad ICMP type" 'ebpf-validation-error ("ping" "#:icmp-type")
                 (make-icmp-packet #:icmp-type 'ping))
(test-ebpf-error "ICMP id out of range" 'ebpf-validation-error ("#:id")
                 (make-icmp-packet #:id 65536))
(test-ebpf-error "ARP with IPv6" 'ebpf-validation-error ("2001:db8::1" "ARP")
                 (make-arp-packet #:src "2001:db8::1"))
(test-ebpf-error "bad ARP op" 'ebpf-validation-error ("#:op" "ask")
                 (make-arp-packet #:op 'ask))
(test-ebpf-error "ARP takes no ports" 'ebpf-validation-error ("#:sport")
                 (make-arp-packet #:sport 1))
(test-ebpf-error "checksum of a non-bytevector" 'ebpf-validation-error ("\"abc\"")
                 (packet-checksum "abc"))
(test-ebpf-error "checksum range" 'ebpf-validation-error ("0..9")
                 (packet-checksum #vu8(1 2 3) 0 9))
(test-ebpf-error "parse a non-bytevector" 'ebpf-validation-error ("42")
                 (parse-packet 42))
(test-ebpf-error "parse a short frame" 'ebpf-validation-error ("Ethernet")
                 (parse-packet #vu8(1 2 3)))
(test-ebpf-error "parse a truncated IPv4 header" 'ebpf-validation-error ("IPv4")
                 (parse-packet (sub (make-tcp-packet) 0 30)))
(test-ebpf-error "parse a truncated IPv6 header" 'ebpf-validation-error ("IPv6")
                 (parse-packet (sub (make-udp-packet #:src "::1" #:dst "::2") 0 40)))

(harness-end)
