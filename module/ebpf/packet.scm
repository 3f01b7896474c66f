;;; (ebpf packet) --- build and parse Ethernet frames for tests.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Whole Ethernet frames as bytevectors, ready for BPF_PROG_TEST_RUN
;;; (bpf-test-run) or for a raw socket: TCP, UDP, ICMP/ICMPv6 and ARP,
;;; over IPv4 or IPv6 (chosen by the addresses), with an optional 802.1Q
;;; tag, IPv4 options and fragments, and IPv6 extension headers.  Every
;;; checksum is filled in.  parse-packet reads such a frame back into an
;;; alist, which is how tests check what a program rewrote.
;;;
;;; Pure Scheme: nothing here needs the C extension or the kernel.

(define-module (ebpf packet)
  #:use-module (ebpf error)
  #:use-module (rnrs bytevectors)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:export (make-tcp-packet
            make-udp-packet
            make-icmp-packet
            make-arp-packet
            packet-checksum
            parse-packet))


;;; Errors and argument checks.

(define (fail who message fix)
  (raise-ebpf-error 'ebpf-validation-error who message #:fix fix))

(define (check-keywords who args allowed)
  "Refuse anything in ARGS (the rest list of a keyword procedure) that is
not a keyword of ALLOWED followed by its value."
  (let loop ((a args))
    (match a
      (() #t)
      (((? keyword? k) _ . rest)
       (unless (memq k allowed)
         (fail who (format #f "~a does not take the keyword ~s" who k)
               (string-append
                "use only "
                (string-join (map (lambda (k) (format #f "~s" k)) allowed)
                             " "))))
       (loop rest))
      ((x . _)
       (fail who (format #f "~s is not a keyword argument of ~a" x who)
             (format #f "call (~a #:keyword value ...), e.g. #:src \"10.0.0.1\""
                     who))))))

(define (given? k args)
  "True if the keyword K appears among the keyword ARGS."
  (let loop ((a args))
    (match a
      (((? keyword? x) _ . rest) (or (eq? x k) (loop rest)))
      (_ #f))))

(define (check-int who name v lo hi what)
  (unless (and (exact-integer? v) (<= lo v hi))
    (fail who (format #f "#:~a ~s is out of range: ~a is an integer from ~a to ~a"
                      name v what lo hi)
          (format #f "give #:~a an integer from ~a to ~a" name lo hi)))
  v)

(define (u16! bv i v) (bytevector-u16-set! bv i v (endianness big)))
(define (u32! bv i v) (bytevector-u32-set! bv i v (endianness big)))
(define (u16 bv i) (bytevector-u16-ref bv i (endianness big)))
(define (u32 bv i) (bytevector-u32-ref bv i (endianness big)))

(define (concat . bvs)
  (let* ((out (make-bytevector (apply + (map bytevector-length bvs)) 0)))
    (let loop ((bvs bvs) (i 0))
      (match bvs
        (() out)
        ((b . rest)
         (bytevector-copy! b 0 out i (bytevector-length b))
         (loop rest (+ i (bytevector-length b))))))))

(define (sub bv start end)
  (let ((out (make-bytevector (- end start))))
    (bytevector-copy! bv start out 0 (- end start))
    out))


;;; Addresses.

(define (uint->bytevector n size)
  (let ((bv (make-bytevector size 0)))
    (bytevector-uint-set! bv 0 n (endianness big) size)
    bv))

(define (parse-ip who name s)
  "Return (FAMILY . BYTES) for the address S given as #:NAME: FAMILY is 4
or 6, BYTES its 4 or 16 bytes in network order."
  (define (bad family example)
    (fail who (format #f "#:~a ~s is not a valid ~a address" name s family)
          (format #f "write #:~a like ~s" name example)))
  (cond
   ((and (string? s) (string-index s #\:))
    (let ((n (false-if-exception (inet-pton AF_INET6 s))))
      (unless n (bad "IPv6" "2001:db8::1"))
      (cons 6 (uint->bytevector n 16))))
   ((string? s)
    (let ((n (false-if-exception (inet-pton AF_INET s))))
      (unless n (bad "IPv4" "10.0.0.1"))
      (cons 4 (uint->bytevector n 4))))
   ((and (bytevector? s) (memv (bytevector-length s) '(4 16)))
    (cons (if (= (bytevector-length s) 4) 4 6) (sub s 0 (bytevector-length s))))
   (else
    (fail who (format #f "#:~a ~s is not an IP address" name s)
          (format #f "give #:~a a string such as \"10.0.0.1\" or \"2001:db8::1\""
                  name)))))

(define (ip->string bv start family)
  (if (= family 4)
      (inet-ntop AF_INET (bytevector-uint-ref bv start (endianness big) 4))
      (inet-ntop AF_INET6 (bytevector-uint-ref bv start (endianness big) 16))))

(define (parse-mac who name s)
  "Return the 6 bytes of the MAC address S (\"02:00:00:00:00:01\" or a
6-byte bytevector) given as #:NAME."
  (define (bad)
    (fail who (format #f "#:~a ~s is not a MAC address" name s)
          (format #f "write #:~a as six hex bytes, like \"02:00:00:00:00:01\""
                  name)))
  (cond
   ((string? s)
    (let ((parts (string-split s #\:)))
      (unless (and (= (length parts) 6)
                   (every (lambda (p)
                            (and (<= 1 (string-length p) 2)
                                 (string-every char-set:hex-digit p)))
                          parts))
        (bad))
      (u8-list->bytevector (map (lambda (p) (string->number p 16)) parts))))
   ((and (bytevector? s) (= (bytevector-length s) 6))
    (sub s 0 6))
   (else (bad))))

(define (mac->string bv start)
  (string-join (map (lambda (i)
                      (let ((s (number->string (bytevector-u8-ref bv (+ start i)) 16)))
                        (if (= (string-length s) 1) (string-append "0" s) s)))
                    (iota 6))
               ":"))

(define (parse-payload who p)
  (cond ((bytevector? p) p)
        ((string? p) (string->utf8 p))
        (else
         (fail who (format #f "#:payload ~s is neither a bytevector nor a string" p)
               "give #:payload a bytevector such as #vu8(1 2 3) or a string"))))


;;; Checksums (RFC 1071).

(define (ones-sum bv start end acc)
  "Add the 16-bit big-endian words of BV from START to END to ACC; an odd
last byte is padded with a zero byte."
  (let loop ((i start) (acc acc))
    (cond ((<= (+ i 2) end)
           (loop (+ i 2) (+ acc (u16 bv i))))
          ((< i end)
           (+ acc (ash (bytevector-u8-ref bv i) 8)))
          (else acc))))

(define (fold16 s)
  (if (> s #xffff)
      (fold16 (+ (logand s #xffff) (ash s -16)))
      s))

(define (finish-checksum sum)
  (logxor #xffff (fold16 sum)))

(define* (packet-checksum bv #:optional (start 0)
                          (end (and (bytevector? bv) (bytevector-length bv))))
  "Return the Internet checksum (RFC 1071) of the bytes of @var{bv} from
@var{start} (default 0) to @var{end} (default its length): the one's
complement of the one's complement sum of its 16-bit big-endian words, an
odd last byte padded with zero.  Written into a zeroed checksum field of
the data it covers, it makes the data sum to @code{#xffff}; computed over
data whose checksum is right, it is 0."
  (unless (bytevector? bv)
    (fail 'packet-checksum (format #f "~s is not a bytevector" bv)
          "give packet-checksum a bytevector, e.g. a frame from make-tcp-packet"))
  (let ((len (bytevector-length bv)))
    (unless (and (exact-integer? start) (exact-integer? end)
                 (<= 0 start end len))
      (fail 'packet-checksum
            (format #f "range ~s..~s is not within the ~a bytes of the bytevector"
                    start end len)
            (format #f "give 0 <= start <= end <= ~a" len)))
    (finish-checksum (ones-sum bv start end 0))))

(define (pseudo-header-sum family src dst proto len)
  "The one's complement sum of the IPv4 or IPv6 pseudo-header."
  (if (= family 4)
      (+ (ones-sum src 0 4 0) (ones-sum dst 0 4 0) proto len)
      (+ (ones-sum src 0 16 0) (ones-sum dst 0 16 0)
         (ash len -16) (logand len #xffff) proto)))


;;; Layer 2.

(define (ethernet-header dst-mac src-mac vlan priority ethertype)
  ;; VLAN is #f, an id (one 802.1Q tag) or a list of ids, outer first:
  ;; two make a QinQ frame, the outer tag 802.1ad.  PRIORITY goes into
  ;; every tag.
  (let* ((ids (cond ((not vlan) '()) ((list? vlan) vlan) (else (list vlan))))
         (n (length ids))
         (bv (make-bytevector (+ 14 (* 4 n)) 0)))
    (bytevector-copy! dst-mac 0 bv 0 6)
    (bytevector-copy! src-mac 0 bv 6 6)
    (let loop ((ids ids) (off 12))
      (if (null? ids)
          (u16! bv off ethertype)
          (begin
            (u16! bv off (if (and (= n 2) (= off 12)) #x88a8 #x8100))
            (u16! bv (+ off 2) (logior (ash priority 13) (car ids)))
            (loop (cdr ids) (+ off 4)))))
    bv))

(define (check-vlan who vlan priority)
  (cond ((not vlan))
        ((list? vlan)
         (unless (<= 1 (length vlan) 2)
           (fail who (format #f "#:vlan ~s has ~a tags" vlan (length vlan))
                 "give one VLAN id, or a list of two (outer first) for QinQ"))
         (for-each (lambda (v) (check-int who 'vlan v 0 4095 "a VLAN id")) vlan))
        (else (check-int who 'vlan vlan 0 4095 "a VLAN id")))
  (check-int who 'vlan-priority priority 0 7 "an 802.1Q priority"))


;;; Layer 3.

(define ipv6-ext-codes
  '((hop-by-hop . 0) (routing . 43) (fragment . 44) (destination . 60)
    (ah . 51)))

(define ipv6-ext-buildable '(hop-by-hop destination routing fragment))

(define (check-ipv6-ext who ext fragment?)
  "Validate the #:ipv6-ext list EXT; add a fragment header at its end when
FRAGMENT? and the list has none."
  (unless (list? ext)
    (fail who (format #f "#:ipv6-ext ~s is not a list" ext)
          "give #:ipv6-ext a list such as '(hop-by-hop fragment)"))
  (for-each
   (lambda (e)
     (unless (memq e ipv6-ext-buildable)
       (fail who (format #f "#:ipv6-ext has the unknown extension header ~s" e)
             "use the symbols hop-by-hop, destination, routing and fragment")))
   ext)
  (when (memq 'hop-by-hop (if (pair? ext) (cdr ext) '()))
    (fail who (format #f "#:ipv6-ext ~s puts hop-by-hop after another header" ext)
          "put hop-by-hop first: it must follow the IPv6 header (RFC 8200)"))
  (when (> (count (lambda (e) (eq? e 'fragment)) ext) 1)
    (fail who (format #f "#:ipv6-ext ~s has more than one fragment header" ext)
          "list fragment once"))
  (if (and fragment? (not (memq 'fragment ext)))
      (append ext '(fragment))
      ext))

(define (ipv6-ext-header kind next frag-offset more? frag-id)
  (let ((bv (make-bytevector 8 0)))
    (bytevector-u8-set! bv 0 next)
    (case kind
      ((hop-by-hop destination)
       ;; Header length 0 (8 bytes), padded by one PadN option.
       (bytevector-u8-set! bv 2 1)
       (bytevector-u8-set! bv 3 4))
      ((routing)
       ;; Routing type 0 with segments left 0: skipped by every node.
       #t)
      ((fragment)
       (u16! bv 2 (logior (ash (quotient frag-offset 8) 3) (if more? 1 0)))
       (u32! bv 4 frag-id)))
    bv))

(define (ipv6-ext-headers ext proto frag-offset more? frag-id)
  "The bytes of the extension headers EXT chained to the upper-layer
protocol PROTO, and the next-header value of the first."
  (let loop ((rest ext) (out '()))
    (match rest
      (() (values (apply concat (reverse out))
                  (match ext
                    (() proto)
                    ((k . _) (assq-ref ipv6-ext-codes k)))))
      ((kind . rest)
       (let ((next (match rest
                     (() proto)
                     ((k . _) (assq-ref ipv6-ext-codes k)))))
         (loop rest (cons (ipv6-ext-header kind next frag-offset more? frag-id)
                          out)))))))

(define (pad-options who opts)
  (unless (bytevector? opts)
    (fail who (format #f "#:ip-options ~s is not a bytevector" opts)
          "give #:ip-options the raw option bytes, e.g. #vu8(1 1 1 0)"))
  (let* ((n (bytevector-length opts))
         (padded (* 4 (quotient (+ n 3) 4))))
    (when (> padded 40)
      (fail who (format #f "#:ip-options is ~a bytes; IPv4 allows at most 40" n)
            "give at most 40 bytes of IPv4 options"))
    (let ((bv (make-bytevector padded 0)))
      (bytevector-copy! opts 0 bv 0 n)
      bv)))

(define* (ip-frame who args #:key src dst src-mac dst-mac ttl tos ip-id
                   flow-label vlan vlan-priority fragment-offset
                   more-fragments? dont-fragment? ip-options ipv6-ext
                   proto4 proto6 make-l4)
  "Build the frame: Ethernet, IPv4 or IPv6 and what MAKE-L4 returns when
called with the family and the source and destination address bytes."
  (let* ((s (parse-ip who 'src src))
         (d (parse-ip who 'dst dst))
         (family (car s)))
    (unless (= (car s) (car d))
      (fail who (format #f "#:src ~s is IPv~a but #:dst ~s is IPv~a"
                        src (car s) dst (car d))
            "give two IPv4 or two IPv6 addresses"))
    (let ((src-mac (parse-mac who 'src-mac src-mac))
          (dst-mac (parse-mac who 'dst-mac dst-mac)))
      (check-vlan who vlan vlan-priority)
      (check-int who 'ttl ttl 0 255 (if (= family 4) "a TTL" "a hop limit"))
      (check-int who 'tos tos 0 255 "a type of service / traffic class")
      (when fragment-offset
        (check-int who 'fragment-offset fragment-offset 0 65528
                   "a fragment offset in bytes")
        (unless (zero? (remainder fragment-offset 8))
          (fail who (format #f "#:fragment-offset ~a is not a multiple of 8"
                            fragment-offset)
                (format #f "give a fragment offset in bytes that is a multiple of 8, e.g. ~a"
                        (* 8 (quotient fragment-offset 8))))))
      (let ((frag-offset (or fragment-offset 0))
            (eth (lambda (type)
                   (ethernet-header dst-mac src-mac vlan vlan-priority type))))
        (case family
          ((4)
           (when ipv6-ext
             (fail who (format #f "#:ipv6-ext ~s is given for an IPv4 packet"
                               ipv6-ext)
                   "drop #:ipv6-ext, or give IPv6 addresses as #:src and #:dst"))
           (when flow-label
             (fail who (format #f "#:flow-label ~s is given for an IPv4 packet"
                               flow-label)
                   "drop #:flow-label, or give IPv6 addresses as #:src and #:dst"))
           (check-int who 'ip-id (or ip-id 0) 0 65535 "an IPv4 identification")
           (let* ((opts (pad-options who (or ip-options #vu8())))
                  (l4 (make-l4 4 (cdr s) (cdr d)))
                  (hlen (+ 20 (bytevector-length opts)))
                  (total (+ hlen (bytevector-length l4))))
             (when (> total 65535)
               (fail who (format #f "the IPv4 packet would be ~a bytes, more than 65535"
                                 total)
                     "give a shorter #:payload"))
             (let ((ip (make-bytevector hlen 0)))
               (bytevector-u8-set! ip 0 (logior #x40 (quotient hlen 4)))
               (bytevector-u8-set! ip 1 tos)
               (u16! ip 2 total)
               (u16! ip 4 (or ip-id 0))
               (u16! ip 6 (logior (if dont-fragment? #x4000 0)
                                  (if more-fragments? #x2000 0)
                                  (quotient frag-offset 8)))
               (bytevector-u8-set! ip 8 ttl)
               (bytevector-u8-set! ip 9 proto4)
               (bytevector-copy! (cdr s) 0 ip 12 4)
               (bytevector-copy! (cdr d) 0 ip 16 4)
               (bytevector-copy! opts 0 ip 20 (bytevector-length opts))
               (u16! ip 10 (packet-checksum ip))
               (concat (eth #x0800) ip l4))))
          ((6)
           (when ip-options
             (fail who (format #f "#:ip-options ~s is given for an IPv6 packet"
                               ip-options)
                   "use #:ipv6-ext for IPv6, or give IPv4 addresses"))
           (when dont-fragment?
             (fail who "#:dont-fragment? is given for an IPv6 packet, which has no DF bit"
                   "drop #:dont-fragment?, or give IPv4 addresses"))
           (check-int who 'flow-label (or flow-label 0) 0 #xfffff
                      "an IPv6 flow label")
           (check-int who 'ip-id (or ip-id 0) 0 #xffffffff
                      "an IPv6 fragment identification")
           (let* ((ext (check-ipv6-ext who (or ipv6-ext '())
                                       (or (given? #:fragment-offset args)
                                           (given? #:more-fragments? args))))
                  (l4 (make-l4 6 (cdr s) (cdr d)))
                  (ip (make-bytevector 40 0)))
             (call-with-values
                 (lambda ()
                   (ipv6-ext-headers ext proto6 frag-offset more-fragments?
                                     (or ip-id 0)))
               (lambda (ext-bytes first-next)
                 (let ((plen (+ (bytevector-length ext-bytes)
                                (bytevector-length l4))))
                   (when (> plen 65535)
                     (fail who (format #f "the IPv6 payload would be ~a bytes, more than 65535"
                                       plen)
                           "give a shorter #:payload"))
                   (u32! ip 0 (logior (ash 6 28) (ash tos 20) (or flow-label 0)))
                   (u16! ip 4 plen)
                   (bytevector-u8-set! ip 6 first-next)
                   (bytevector-u8-set! ip 7 ttl)
                   (bytevector-copy! (cdr s) 0 ip 8 16)
                   (bytevector-copy! (cdr d) 0 ip 24 16)
                   (concat (eth #x86dd) ip ext-bytes l4)))))))))))


;;; Layer 4.

(define tcp-flag-bits
  '((fin . #x01) (syn . #x02) (rst . #x04) (psh . #x08)
    (ack . #x10) (urg . #x20) (ece . #x40) (cwr . #x80)))

(define (tcp-flags->byte who flags)
  (unless (list? flags)
    (fail who (format #f "#:flags ~s is not a list of TCP flags" flags)
          "give #:flags a list such as '(syn ack)"))
  (fold (lambda (f acc)
          (let ((bit (assq-ref tcp-flag-bits f)))
            (unless bit
              (fail who (format #f "#:flags has the unknown TCP flag ~s" f)
                    "use the symbols fin syn rst psh ack urg ece cwr"))
            (logior acc bit)))
        0 flags))

(define (byte->tcp-flags b)
  (filter-map (match-lambda ((name . bit) (and (logtest b bit) name)))
              tcp-flag-bits))

(define (l4-checksum! seg offset family src dst proto)
  (u16! seg offset 0)
  (let ((c (finish-checksum
            (ones-sum seg 0 (bytevector-length seg)
                      (pseudo-header-sum family src dst proto
                                         (bytevector-length seg))))))
    (u16! seg offset c)
    c))

(define default-src "10.0.0.1")
(define default-dst "10.0.0.2")
(define default-src-mac "02:00:00:00:00:01")
(define default-dst-mac "02:00:00:00:00:02")

(define common-keywords
  '(#:src #:dst #:src-mac #:dst-mac #:ttl #:tos #:ip-id #:flow-label
    #:vlan #:vlan-priority #:fragment-offset #:more-fragments?
    #:dont-fragment? #:ip-options #:ipv6-ext #:payload))

(define* (make-tcp-packet #:key (src default-src) (dst default-dst)
                          (src-mac default-src-mac) (dst-mac default-dst-mac)
                          (sport 12345) (dport 80) (flags '(syn))
                          (seq 0) (ack-seq 0) (window 65535) (urgent 0)
                          (tcp-options #vu8())
                          (ttl 64) (tos 0) ip-id flow-label
                          vlan (vlan-priority 0)
                          fragment-offset more-fragments? dont-fragment?
                          ip-options ipv6-ext (payload #vu8())
                          #:allow-other-keys #:rest args)
  "Return an Ethernet frame (a bytevector) carrying a TCP segment.

@code{#:src} and @code{#:dst} are IP addresses (default
@code{\"10.0.0.1\"} and @code{\"10.0.0.2\"}); IPv6 addresses such as
@code{\"2001:db8::1\"} make an IPv6 packet.  @code{#:src-mac} and
@code{#:dst-mac} default to @code{\"02:00:00:00:00:01\"} and
@code{\"02:00:00:00:00:02\"}.  TCP: @code{#:sport} (12345), @code{#:dport}
(80), @code{#:flags} a list of @code{fin syn rst psh ack urg ece cwr}
(default @code{'(syn)}), @code{#:seq}, @code{#:ack-seq}, @code{#:window}
(65535), @code{#:urgent}, @code{#:tcp-options} (raw bytes, padded to 4).
IP: @code{#:ttl} (TTL or hop limit, 64), @code{#:tos} (TOS or traffic
class), @code{#:ip-id}, @code{#:flow-label} (IPv6), @code{#:fragment-offset}
(bytes, a multiple of 8), @code{#:more-fragments?}, @code{#:dont-fragment?}
(IPv4), @code{#:ip-options} (raw IPv4 options, padded to 4 bytes),
@code{#:ipv6-ext} (a list of @code{hop-by-hop destination routing
fragment}; a fragment header is added when @code{#:fragment-offset} or
@code{#:more-fragments?} is given).  @code{#:vlan} (an id) and
@code{#:vlan-priority} add an 802.1Q tag; a list of two ids (outer
first) makes a QinQ frame, the outer tag 802.1ad.  @code{#:payload} is a bytevector
or a string.  The TCP header is always present, and every checksum is
computed over this frame's contents."
  (let ((who 'make-tcp-packet))
    (check-keywords who args
                    (append '(#:sport #:dport #:flags #:seq #:ack-seq #:window
                              #:urgent #:tcp-options)
                            common-keywords))
    (check-int who 'sport sport 0 65535 "a port")
    (check-int who 'dport dport 0 65535 "a port")
    (check-int who 'seq seq 0 #xffffffff "a sequence number")
    (check-int who 'ack-seq ack-seq 0 #xffffffff "an acknowledgment number")
    (check-int who 'window window 0 65535 "a window")
    (check-int who 'urgent urgent 0 65535 "an urgent pointer")
    (let ((flag-byte (tcp-flags->byte who flags))
          (data (parse-payload who payload))
          (opts (if (bytevector? tcp-options)
                    (let* ((n (bytevector-length tcp-options))
                           (bv (make-bytevector (* 4 (quotient (+ n 3) 4)) 0)))
                      (bytevector-copy! tcp-options 0 bv 0 n)
                      bv)
                    (fail who (format #f "#:tcp-options ~s is not a bytevector"
                                      tcp-options)
                          "give #:tcp-options the raw option bytes, e.g. #vu8(2 4 5 180)"))))
      (when (> (bytevector-length opts) 40)
        (fail who (format #f "#:tcp-options is ~a bytes; TCP allows at most 40"
                          (bytevector-length tcp-options))
              "give at most 40 bytes of TCP options"))
      (ip-frame
       who args #:src src #:dst dst #:src-mac src-mac #:dst-mac dst-mac
       #:ttl ttl #:tos tos #:ip-id ip-id #:flow-label flow-label
       #:vlan vlan #:vlan-priority vlan-priority
       #:fragment-offset fragment-offset #:more-fragments? more-fragments?
       #:dont-fragment? dont-fragment? #:ip-options ip-options
       #:ipv6-ext ipv6-ext #:proto4 6 #:proto6 6
       #:make-l4
       (lambda (family s d)
         (let* ((hlen (+ 20 (bytevector-length opts)))
                (seg (make-bytevector (+ hlen (bytevector-length data)) 0)))
           (u16! seg 0 sport)
           (u16! seg 2 dport)
           (u32! seg 4 seq)
           (u32! seg 8 ack-seq)
           (bytevector-u8-set! seg 12 (ash (quotient hlen 4) 4))
           (bytevector-u8-set! seg 13 flag-byte)
           (u16! seg 14 window)
           (u16! seg 18 urgent)
           (bytevector-copy! opts 0 seg 20 (bytevector-length opts))
           (bytevector-copy! data 0 seg hlen (bytevector-length data))
           (l4-checksum! seg 16 family s d 6)
           seg))))))

(define* (make-udp-packet #:key (src default-src) (dst default-dst)
                          (src-mac default-src-mac) (dst-mac default-dst-mac)
                          (sport 12345) (dport 80)
                          (ttl 64) (tos 0) ip-id flow-label
                          vlan (vlan-priority 0)
                          fragment-offset more-fragments? dont-fragment?
                          ip-options ipv6-ext (payload #vu8())
                          #:allow-other-keys #:rest args)
  "Return an Ethernet frame (a bytevector) carrying a UDP datagram.

UDP: @code{#:sport} (default 12345) and @code{#:dport} (80).  The other
keywords are those of @code{make-tcp-packet}: @code{#:src #:dst} (IPv4 or
IPv6 addresses, the same family), @code{#:src-mac #:dst-mac #:ttl #:tos
#:ip-id #:flow-label #:vlan #:vlan-priority #:fragment-offset
#:more-fragments? #:dont-fragment? #:ip-options #:ipv6-ext #:payload}.  The
UDP checksum covers the IPv4 or IPv6 pseudo-header; a computed 0 is sent
as @code{#xffff}."
  (let ((who 'make-udp-packet))
    (check-keywords who args (append '(#:sport #:dport) common-keywords))
    (check-int who 'sport sport 0 65535 "a port")
    (check-int who 'dport dport 0 65535 "a port")
    (let ((data (parse-payload who payload)))
      (ip-frame
       who args #:src src #:dst dst #:src-mac src-mac #:dst-mac dst-mac
       #:ttl ttl #:tos tos #:ip-id ip-id #:flow-label flow-label
       #:vlan vlan #:vlan-priority vlan-priority
       #:fragment-offset fragment-offset #:more-fragments? more-fragments?
       #:dont-fragment? dont-fragment? #:ip-options ip-options
       #:ipv6-ext ipv6-ext #:proto4 17 #:proto6 17
       #:make-l4
       (lambda (family s d)
         (let* ((len (+ 8 (bytevector-length data)))
                (seg (make-bytevector len 0)))
           (when (> len 65535)
             (fail who (format #f "the UDP datagram would be ~a bytes, more than 65535"
                               len)
                   "give a shorter #:payload"))
           (u16! seg 0 sport)
           (u16! seg 2 dport)
           (u16! seg 4 len)
           (bytevector-copy! data 0 seg 8 (bytevector-length data))
           (when (zero? (l4-checksum! seg 6 family s d 17))
             (u16! seg 6 #xffff))
           seg))))))

(define icmp-type-names
  ;; name -> (ICMPv4 type . ICMPv6 type)
  '((echo-request . (8 . 128))
    (echo-reply . (0 . 129))
    (dest-unreachable . (3 . 1))
    (time-exceeded . (11 . 3))))

(define* (make-icmp-packet #:key (src default-src) (dst default-dst)
                           (src-mac default-src-mac) (dst-mac default-dst-mac)
                           (icmp-type 'echo-request) (icmp-code 0)
                           id sequence
                           (ttl 64) (tos 0) ip-id flow-label
                           vlan (vlan-priority 0)
                           fragment-offset more-fragments? dont-fragment?
                           ip-options ipv6-ext (payload #vu8())
                           #:allow-other-keys #:rest args)
  "Return an Ethernet frame (a bytevector) carrying an ICMP message, or an
ICMPv6 message when @code{#:src} and @code{#:dst} are IPv6 addresses.

@code{#:icmp-type} is a number or one of @code{echo-request} (the default;
8, or 128 for ICMPv6), @code{echo-reply}, @code{dest-unreachable},
@code{time-exceeded}; @code{#:icmp-code} defaults to 0.  @code{#:id} and
@code{#:sequence} fill the second 32-bit word (default 1 and 1 for echo
messages, 0 otherwise), then comes @code{#:payload}.  The other keywords
are those of @code{make-tcp-packet}.  The ICMP checksum covers the message;
the ICMPv6 checksum also covers the IPv6 pseudo-header."
  (let ((who 'make-icmp-packet))
    (check-keywords who args
                    (append '(#:icmp-type #:icmp-code #:id #:sequence)
                            common-keywords))
    (unless (or (assq icmp-type icmp-type-names)
                (and (exact-integer? icmp-type) (<= 0 icmp-type 255)))
      (fail who (format #f "#:icmp-type ~s is neither an ICMP type number nor a known name"
                        icmp-type)
            (string-append
             "give an integer from 0 to 255 or one of "
             (string-join (map symbol->string (map car icmp-type-names)) " "))))
    (check-int who 'icmp-code icmp-code 0 255 "an ICMP code")
    (when id (check-int who 'id id 0 65535 "an ICMP identifier"))
    (when sequence (check-int who 'sequence sequence 0 65535 "an ICMP sequence number"))
    (let ((data (parse-payload who payload)))
      (ip-frame
       who args #:src src #:dst dst #:src-mac src-mac #:dst-mac dst-mac
       #:ttl ttl #:tos tos #:ip-id ip-id #:flow-label flow-label
       #:vlan vlan #:vlan-priority vlan-priority
       #:fragment-offset fragment-offset #:more-fragments? more-fragments?
       #:dont-fragment? dont-fragment? #:ip-options ip-options
       #:ipv6-ext ipv6-ext #:proto4 1 #:proto6 58
       #:make-l4
       (lambda (family s d)
         (let* ((type (match (assq-ref icmp-type-names icmp-type)
                        ((v4 . v6) (if (= family 4) v4 v6))
                        (#f icmp-type)))
                (echo? (memv type (if (= family 4) '(0 8) '(128 129))))
                (seg (make-bytevector (+ 8 (bytevector-length data)) 0)))
           (bytevector-u8-set! seg 0 type)
           (bytevector-u8-set! seg 1 icmp-code)
           (u16! seg 4 (or id (if echo? 1 0)))
           (u16! seg 6 (or sequence (if echo? 1 0)))
           (bytevector-copy! data 0 seg 8 (bytevector-length data))
           (if (= family 4)
               (u16! seg 2 (packet-checksum seg))
               (l4-checksum! seg 2 6 s d 58))
           seg))))))

(define* (make-arp-packet #:key (op 'request)
                          (src default-src) (dst default-dst)
                          (src-mac default-src-mac) dst-mac
                          sender-mac sender-ip target-mac target-ip
                          vlan (vlan-priority 0)
                          #:allow-other-keys #:rest args)
  "Return an Ethernet frame (a bytevector, 42 bytes, 46 with a VLAN tag)
carrying an ARP message for IPv4 over Ethernet.

@code{#:op} is @code{request} (the default), @code{reply} or an opcode
number.  @code{#:src} and @code{#:dst} (IPv4 addresses) are the sender's
and the target's protocol addresses, unless @code{#:sender-ip} or
@code{#:target-ip} is given.  @code{#:src-mac} is the Ethernet source and,
unless @code{#:sender-mac} is given, the sender hardware address.
@code{#:dst-mac} is the Ethernet destination: by default
@code{\"ff:ff:ff:ff:ff:ff\"} for a request and @code{\"02:00:00:00:00:02\"}
otherwise.  @code{#:target-mac} defaults to all zeros for a request and to
the Ethernet destination otherwise.  @code{#:vlan} and
@code{#:vlan-priority} add an 802.1Q tag."
  (let ((who 'make-arp-packet))
    (check-keywords who args
                    '(#:op #:src #:dst #:src-mac #:dst-mac #:sender-mac
                      #:sender-ip #:target-mac #:target-ip #:vlan
                      #:vlan-priority))
    (let* ((opcode (match op
                     ('request 1)
                     ('reply 2)
                     ((? exact-integer?) (check-int who 'op op 0 65535 "an ARP opcode"))
                     (_ (fail who (format #f "#:op ~s is not an ARP operation" op)
                              "give #:op 'request, 'reply or an opcode number"))))
           (request? (= opcode 1))
           (ipv4 (lambda (name a)
                   (match (parse-ip who name a)
                     ((4 . bytes) bytes)
                     ((6 . _)
                      (fail who (format #f "#:~a ~s is an IPv6 address; ARP is for IPv4"
                                        name a)
                            "give IPv4 addresses (IPv6 resolves neighbours with ICMPv6)")))))
           (spa (ipv4 (if sender-ip 'sender-ip 'src) (or sender-ip src)))
           (tpa (ipv4 (if target-ip 'target-ip 'dst) (or target-ip dst)))
           (eth-src (parse-mac who 'src-mac src-mac))
           (eth-dst (parse-mac who 'dst-mac
                               (or dst-mac
                                   (if request? "ff:ff:ff:ff:ff:ff" default-dst-mac))))
           (sha (if sender-mac (parse-mac who 'sender-mac sender-mac) eth-src))
           (tha (cond (target-mac (parse-mac who 'target-mac target-mac))
                      (request? (make-bytevector 6 0))
                      (else eth-dst)))
           (body (make-bytevector 28 0)))
      (check-vlan who vlan vlan-priority)
      (u16! body 0 1)                   ;Ethernet
      (u16! body 2 #x0800)              ;IPv4
      (bytevector-u8-set! body 4 6)
      (bytevector-u8-set! body 5 4)
      (u16! body 6 opcode)
      (bytevector-copy! sha 0 body 8 6)
      (bytevector-copy! spa 0 body 14 4)
      (bytevector-copy! tha 0 body 18 6)
      (bytevector-copy! tpa 0 body 24 4)
      (concat (ethernet-header eth-dst eth-src vlan vlan-priority #x0806) body))))


;;; Parsing.

(define (truncated what off need len)
  (fail 'parse-packet
        (format #f "the frame is truncated: ~a at offset ~a needs ~a bytes, the frame has ~a"
                what off need (max 0 (- len off)))
        "give a whole Ethernet frame, as the make-*-packet procedures build"))

(define (parse-l4 frame proto off end family src dst)
  "Fields of the TCP, UDP or ICMP header at OFF (the segment ends at END),
with the checksum checked; the payload fields alone for other protocols."
  (define (payload-fields start)
    `((payload-length . ,(- end start))
      (payload . ,(sub frame start end))))
  (define (checksum-ok? pseudo-proto)
    (zero? (finish-checksum
            (ones-sum frame off end
                      (if pseudo-proto
                          (pseudo-header-sum family src dst pseudo-proto
                                             (- end off))
                          0)))))
  (define (room n) (<= (+ off n) end))
  (cond
   ((and (= proto 6) (room 20))
    (let* ((hlen (* 4 (ash (bytevector-u8-ref frame (+ off 12)) -4)))
           (data (min end (+ off (max hlen 20)))))
      `((sport . ,(u16 frame off))
        (dport . ,(u16 frame (+ off 2)))
        (seq . ,(u32 frame (+ off 4)))
        (ack-seq . ,(u32 frame (+ off 8)))
        (tcp-header-length . ,hlen)
        (flags . ,(byte->tcp-flags (bytevector-u8-ref frame (+ off 13))))
        (window . ,(u16 frame (+ off 14)))
        (urgent . ,(u16 frame (+ off 18)))
        (tcp-options . ,(sub frame (+ off 20) data))
        (checksum-ok? . ,(checksum-ok? 6))
        ,@(payload-fields data))))
   ((and (= proto 17) (room 8))
    `((sport . ,(u16 frame off))
      (dport . ,(u16 frame (+ off 2)))
      (udp-length . ,(u16 frame (+ off 4)))
      (checksum-ok? . ,(or (and (= family 4) (zero? (u16 frame (+ off 6))))
                           (checksum-ok? 17)))
      ,@(payload-fields (+ off 8))))
   ((and (or (and (= proto 1) (= family 4)) (and (= proto 58) (= family 6)))
         (room 8))
    `((icmp-type . ,(bytevector-u8-ref frame off))
      (icmp-code . ,(bytevector-u8-ref frame (+ off 1)))
      (id . ,(u16 frame (+ off 4)))
      (sequence . ,(u16 frame (+ off 6)))
      (checksum-ok? . ,(checksum-ok? (and (= family 6) 58)))
      ,@(payload-fields (+ off 8))))
   (else (payload-fields off))))

(define (parse-ipv4 frame off len)
  (when (< (- len off) 20) (truncated "the IPv4 header" off 20 len))
  (let* ((b0 (bytevector-u8-ref frame off))
         (hlen (* 4 (logand b0 15)))
         (total (u16 frame (+ off 2)))
         (frag (u16 frame (+ off 6)))
         (proto (bytevector-u8-ref frame (+ off 9))))
    (unless (= (ash b0 -4) 4)
      (fail 'parse-packet
            (format #f "the IPv4 header at offset ~a has version ~a" off (ash b0 -4))
            "give a frame whose ethertype 0x0800 is followed by an IPv4 header"))
    (when (< hlen 20)
      (fail 'parse-packet
            (format #f "the IPv4 header at offset ~a has IHL ~a, less than 5"
                    off (logand b0 15))
            "give a frame whose IPv4 header length (IHL) is at least 5"))
    (when (> (+ off hlen) len) (truncated "the IPv4 header" off hlen len))
    (let ((end (max (+ off hlen) (min len (+ off total))))
          (src (sub frame (+ off 12) (+ off 16)))
          (dst (sub frame (+ off 16) (+ off 20))))
      `((ip-version . 4)
        (ip-header-length . ,hlen)
        (tos . ,(bytevector-u8-ref frame (+ off 1)))
        (total-length . ,total)
        (ip-id . ,(u16 frame (+ off 4)))
        (dont-fragment? . ,(logtest frag #x4000))
        (more-fragments? . ,(logtest frag #x2000))
        (fragment-offset . ,(* 8 (logand frag #x1fff)))
        (ttl . ,(bytevector-u8-ref frame (+ off 8)))
        (protocol . ,proto)
        (ip-checksum-ok? . ,(zero? (packet-checksum frame off (+ off hlen))))
        (src . ,(ip->string frame (+ off 12) 4))
        (dst . ,(ip->string frame (+ off 16) 4))
        (ip-options . ,(sub frame (+ off 20) (+ off hlen)))
        ,@(parse-l4 frame proto (+ off hlen) end 4 src dst)))))

(define (parse-ipv6 frame off len)
  (when (< (- len off) 40) (truncated "the IPv6 header" off 40 len))
  (let* ((w0 (u32 frame off))
         (plen (u16 frame (+ off 4)))
         (end (min len (+ off 40 plen)))
         (src (sub frame (+ off 8) (+ off 24)))
         (dst (sub frame (+ off 24) (+ off 40))))
    (unless (= (ash w0 -28) 6)
      (fail 'parse-packet
            (format #f "the IPv6 header at offset ~a has version ~a" off (ash w0 -28))
            "give a frame whose ethertype 0x86dd is followed by an IPv6 header"))
    (let loop ((next (bytevector-u8-ref frame (+ off 6)))
               (at (+ off 40))
               (ext '())
               (frag '()))
      (let ((kind (find (match-lambda ((k . code) (= code next)))
                        ipv6-ext-codes)))
        (cond
         (kind
          (when (> (+ at 8) end)
            (truncated (format #f "the IPv6 ~a header" (car kind)) at 8 end))
          (let ((size (case (car kind)
                        ((fragment) 8)
                        ((ah) (* 4 (+ 2 (bytevector-u8-ref frame (+ at 1)))))
                        (else (* 8 (+ 1 (bytevector-u8-ref frame (+ at 1))))))))
            (when (> (+ at size) end)
              (truncated (format #f "the IPv6 ~a header" (car kind)) at size end))
            (loop (bytevector-u8-ref frame at) (+ at size)
                  (cons (car kind) ext)
                  (if (eq? (car kind) 'fragment)
                      (let ((f (u16 frame (+ at 2))))
                        `((fragment-offset . ,(* 8 (ash f -3)))
                          (more-fragments? . ,(logtest f 1))
                          (fragment-id . ,(u32 frame (+ at 4)))))
                      frag))))
         (else
          `((ip-version . 6)
            (tos . ,(logand (ash w0 -20) #xff))
            (flow-label . ,(logand w0 #xfffff))
            (ipv6-payload-length . ,plen)
            (ttl . ,(bytevector-u8-ref frame (+ off 7)))
            (src . ,(ip->string frame (+ off 8) 6))
            (dst . ,(ip->string frame (+ off 24) 6))
            (ipv6-ext . ,(reverse ext))
            ,@(if (null? frag)
                  '((fragment-offset . 0) (more-fragments? . #f))
                  frag)
            (protocol . ,next)
            ,@(parse-l4 frame next at end 6 src dst))))))))

(define (parse-arp frame off len)
  (when (< (- len off) 28) (truncated "the ARP message" off 28 len))
  (let ((hlen (bytevector-u8-ref frame (+ off 4)))
        (plen (bytevector-u8-ref frame (+ off 5))))
    `((arp-htype . ,(u16 frame off))
      (arp-ptype . ,(u16 frame (+ off 2)))
      (arp-op . ,(u16 frame (+ off 6)))
      ,@(if (and (= hlen 6) (= plen 4))
            `((sender-mac . ,(mac->string frame (+ off 8)))
              (sender-ip . ,(ip->string frame (+ off 14) 4))
              (target-mac . ,(mac->string frame (+ off 18)))
              (target-ip . ,(ip->string frame (+ off 24) 4))
              (src . ,(ip->string frame (+ off 14) 4))
              (dst . ,(ip->string frame (+ off 24) 4)))
            '()))))

(define (parse-packet frame)
  "Parse the Ethernet frame @var{frame} (a bytevector) and return an alist
of its main fields.  Header fields are the numbers on the wire; addresses
are strings; TCP flags and IPv6 extension headers are lists of symbols.

Always: @code{eth-dst eth-src eth-proto} (the ethertype after any VLAN
tags) @code{vlan} (the outer VLAN id or @code{#f}), @code{vlan-priority},
@code{vlans} (every id, outer first).  IPv4: @code{ip-version} (4)
@code{ip-header-length tos total-length ip-id dont-fragment?
more-fragments? fragment-offset} (bytes) @code{ttl protocol
ip-checksum-ok? src dst ip-options}.  IPv6: @code{ip-version} (6) @code{tos
flow-label ipv6-payload-length ttl} (the hop limit) @code{src dst ipv6-ext
fragment-offset more-fragments?} (and @code{fragment-id} with a fragment
header) @code{protocol} (the upper-layer next header).  TCP: @code{sport
dport seq ack-seq tcp-header-length flags window urgent tcp-options
checksum-ok?}.  UDP: @code{sport dport udp-length checksum-ok?}.
ICMP/ICMPv6: @code{icmp-type icmp-code id sequence checksum-ok?}.  Then
@code{payload-length} and @code{payload} (a bytevector).  ARP:
@code{arp-htype arp-ptype arp-op sender-mac sender-ip target-mac
target-ip}, and @code{src}/@code{dst} as the sender and target IPs.

A frame too short for the headers it announces raises an
@code{ebpf-validation-error}; a missing transport header does not (its
fields are then absent)."
  (unless (bytevector? frame)
    (fail 'parse-packet (format #f "~s is not a bytevector" frame)
          "give parse-packet a frame, e.g. from make-tcp-packet or bpf-run-result-data"))
  (let ((len (bytevector-length frame)))
    (when (< len 14) (truncated "the Ethernet header" 0 14 len))
    (let loop ((off 12) (tags '()))
      (let ((type (u16 frame off)))
        (if (memv type '(#x8100 #x88a8))
            (begin
              (when (< len (+ off 6)) (truncated "the VLAN tag" off 6 len))
              (loop (+ off 4) (cons (u16 frame (+ off 2)) tags)))
            (let* ((tags (reverse tags))
                   (l3 (+ off 2)))
              `((eth-dst . ,(mac->string frame 0))
                (eth-src . ,(mac->string frame 6))
                (eth-proto . ,type)
                (vlan . ,(and (pair? tags) (logand (car tags) #xfff)))
                (vlan-priority . ,(and (pair? tags) (ash (car tags) -13)))
                (vlans . ,(map (lambda (t) (logand t #xfff)) tags))
                ,@(case type
                    ((#x0800) (parse-ipv4 frame l3 len))
                    ((#x86dd) (parse-ipv6 frame l3 len))
                    ((#x0806) (parse-arp frame l3 len))
                    (else `((payload-length . ,(- len l3))
                            (payload . ,(sub frame l3 len))))))))))))
