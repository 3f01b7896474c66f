;;; Codecs of every type: bytes written, values read back, bad values refused.
(use-modules (harness) (ebpf) (srfi srfi-64) (rnrs bytevectors))

(harness-begin "types")

(define (bytes t v) (bytevector->u8-list (bpf-encode t v)))
(define (round-trip t v) (bpf-decode t (bpf-encode t v)))
(define (native16 x) (let ((b (make-bytevector 2))) (bytevector-u16-native-set! b 0 x) (bytevector->u8-list b)))
(define (native32 x) (let ((b (make-bytevector 4))) (bytevector-u32-native-set! b 0 x) (bytevector->u8-list b)))

;; Sizes and alignment.
(for-each
 (lambda (t size align)
   (test-equal (format #f "size of ~s" t) size (bpf-type-size t))
   (test-equal (format #f "align of ~s" t) align (bpf-type-align t)))
 '(u8 u16 u32 u64 i8 i16 i32 i64 bool be16 be32 be64 ipv4 ipv6 mac
   (string 16) (bytes 3) (array u32 4) (prefix ipv4) (prefix ipv6))
 '(1 2 4 8 1 2 4 8 1 2 4 8 4 16 6 16 3 16 8 20)
 '(1 2 4 8 1 2 4 8 1 2 4 8 4 4 1 1 1 4 4 4))

;; Unsigned integers: edges round-trip, one past the edge is refused.
(for-each
 (lambda (t max)
   (test-equal (format #f "~a 0" t) 0 (round-trip t 0))
   (test-equal (format #f "~a max" t) max (round-trip t max))
   (test-ebpf-error (format #f "~a max+1 refused" t) 'ebpf-validation-error
                    ((number->string (+ max 1)) (symbol->string t))
                    (bpf-encode t (+ max 1)))
   (test-ebpf-error (format #f "~a -1 refused" t) 'ebpf-validation-error
                    ("-1") (bpf-encode t -1)))
 '(u8 u16 u32 u64) (list #xff #xffff #xffffffff #xffffffffffffffff))

;; Signed integers.
(for-each
 (lambda (t min max)
   (test-equal (format #f "~a min" t) min (round-trip t min))
   (test-equal (format #f "~a max" t) max (round-trip t max))
   (test-equal (format #f "~a -1" t) -1 (round-trip t -1))
   (test-ebpf-error (format #f "~a min-1 refused" t) 'ebpf-validation-error
                    ((number->string (- min 1))) (bpf-encode t (- min 1)))
   (test-ebpf-error (format #f "~a max+1 refused" t) 'ebpf-validation-error
                    ((number->string (+ max 1))) (bpf-encode t (+ max 1))))
 '(i8 i16 i32 i64)
 (list -128 -32768 (- (expt 2 31)) (- (expt 2 63)))
 (list 127 32767 (- (expt 2 31) 1) (- (expt 2 63) 1)))

(test-equal "u16 native order" (native16 #x1234) (bytes 'u16 #x1234))
(test-equal "u32 native order" (native32 #x12345678) (bytes 'u32 #x12345678))
(test-ebpf-error "u32 refuses a string" 'ebpf-validation-error ("\"7\"")
                 (bpf-encode 'u32 "7"))
(test-ebpf-error "u32 refuses a fraction" 'ebpf-validation-error ("1/2")
                 (bpf-encode 'u32 1/2))

;; Network order.
(test-equal "be16 bytes" '(#x12 #x34) (bytes 'be16 #x1234))
(test-equal "be32 bytes" '(#x12 #x34 #x56 #x78) (bytes 'be32 #x12345678))
(test-equal "be64 bytes" '(1 2 3 4 5 6 7 8) (bytes 'be64 #x0102030405060708))
(test-equal "be16 round trip" 443 (round-trip 'be16 443))
(test-equal "be64 max" #xffffffffffffffff (round-trip 'be64 #xffffffffffffffff))
(test-ebpf-error "be16 range" 'ebpf-validation-error ("65536") (bpf-encode 'be16 65536))

;; bool
(test-equal "bool #t" '(1) (bytes 'bool #t))
(test-equal "bool #f" #f (round-trip 'bool #f))
(test-equal "bool #t back" #t (round-trip 'bool #t))
(test-ebpf-error "bool refuses 2" 'ebpf-validation-error ("2") (bpf-encode 'bool 2))

;; Addresses.
(test-equal "ipv4 bytes in network order" '(10 0 0 1) (bytes 'ipv4 "10.0.0.1"))
(test-equal "ipv4 round trip" "192.168.1.254" (round-trip 'ipv4 "192.168.1.254"))
(test-equal "ipv4 from host-order integer" "10.0.0.1" (round-trip 'ipv4 #x0a000001))
(test-ebpf-error "ipv4 bad" 'ebpf-validation-error ("10.0.0.300" "ipv4")
                 (bpf-encode 'ipv4 "10.0.0.300"))
(test-equal "ipv6 round trip" "2001:db8::1" (round-trip 'ipv6 "2001:db8::1"))
(test-equal "ipv6 bytes" '(#x20 1 #xd #xb8 0 0 0 0 0 0 0 0 0 0 0 1)
            (bytes 'ipv6 "2001:db8::1"))
(test-ebpf-error "ipv6 bad" 'ebpf-validation-error ("2001:db8::zz")
                 (bpf-encode 'ipv6 "2001:db8::zz"))
(test-equal "mac round trip" "02:00:00:00:00:01" (round-trip 'mac "02:00:00:00:00:01"))
(test-equal "mac bytes" '(2 0 0 0 0 #xff) (bytes 'mac "02:00:00:00:00:ff"))
(test-ebpf-error "mac bad" 'ebpf-validation-error ("02:00") (bpf-encode 'mac "02:00"))

;; Strings and bytes.
(test-equal "string NUL-padded" '(104 105 0 0) (bytes '(string 4) "hi"))
(test-equal "string round trip" "bash" (round-trip '(string 16) "bash"))
(test-equal "string of exactly N" "abcd" (round-trip '(string 4) "abcd"))
(test-equal "empty string" "" (round-trip '(string 8) ""))
(test-equal "utf-8 string" "héllo" (round-trip '(string 16) "héllo"))
(test-ebpf-error "string too long" 'ebpf-validation-error ("abcde" "at most 4")
                 (bpf-encode '(string 4) "abcde"))
(test-ebpf-error "string refuses symbol" 'ebpf-validation-error ("abc")
                 (bpf-encode '(string 4) 'abc))
(test-equal "bytes" #vu8(1 2 3) (round-trip '(bytes 3) #vu8(1 2 3)))
(test-ebpf-error "bytes wrong length" 'ebpf-validation-error ("exactly 3")
                 (bpf-encode '(bytes 3) #vu8(1 2)))

;; Arrays.
(test-equal "array round trip" #(1 2 3 4) (round-trip '(array u32 4) #(1 2 3 4)))
(test-equal "array from list" #(5 6) (round-trip '(array u16 2) '(5 6)))
(test-equal "array of be16 bytes" '(0 1 0 2) (bytes '(array be16 2) #(1 2)))
(test-equal "nested array" #(#(1 2) #(3 4))
            (round-trip '(array (array u8 2) 2) #(#(1 2) #(3 4))))
(test-ebpf-error "array wrong length" 'ebpf-validation-error ("exactly 4")
                 (bpf-encode '(array u32 4) #(1 2)))
(test-ebpf-error "array element range" 'ebpf-validation-error ("256")
                 (bpf-encode '(array u8 2) #(1 256)))

;; Prefixes.
(test-equal "prefix ipv4 bytes" (append (native32 8) '(10 0 0 0))
            (bytes '(prefix ipv4) "10.0.0.0/8"))
(test-equal "prefix ipv4 round trip" "10.0.0.0/8" (round-trip '(prefix ipv4) "10.0.0.0/8"))
(test-equal "prefix ipv4 full length" "10.1.2.3/32" (round-trip '(prefix ipv4) "10.1.2.3"))
(test-equal "prefix ipv6" "2001:db8::/32" (round-trip '(prefix ipv6) "2001:db8::/32"))
(test-ebpf-error "prefix too long" 'ebpf-validation-error ("10.0.0.0/33")
                 (bpf-encode '(prefix ipv4) "10.0.0.0/33"))
(test-ebpf-error "prefix bad" 'ebpf-validation-error ("10.0.0.0/")
                 (bpf-encode '(prefix ipv4) "10.0.0.0/"))
(test-ebpf-error "prefix of u32" 'ebpf-validation-error ("prefix")
                 (bpf-type '(prefix u32)))

;; Type spellings.
(test-ebpf-error "unknown type" 'ebpf-validation-error ("u33") (bpf-type 'u33))
(test-ebpf-error "bad list type" 'ebpf-validation-error ("(string)")
                 (bpf-type '(string)))
(test-ebpf-error "zero length" 'ebpf-validation-error ("(string 0)")
                 (bpf-type '(string 0)))
(test-equal "keyword spelling" 4 (bpf-type-size #:u32))
(test-equal "colon spelling" 4 (bpf-type-size ':u32))
(test-eq "types are interned" (bpf-type '(string 16)) (bpf-type '(string 16)))
(test-equal "spec" '(array u32 4) (bpf-type-spec (bpf-type '(array u32 4))))
(test-ebpf-error "decode wrong size" 'ebpf-validation-error ("4 bytes")
                 (bpf-decode 'u32 #vu8(1 2)))

;; Type specs are user data: deep or circular ones are refused, not
;; recursed through.
(define (nested-array n)
  (let loop ((n n) (t 'u8)) (if (zero? n) t (loop (- n 1) `(array ,t 1)))))
(test-equal "arrays nested 32 deep" 1 (bpf-type-size (nested-array 32)))
(test-ebpf-error "arrays nested 100,000 deep" 'ebpf-validation-error
                 ("nested too deeply" "(...)" "Fix:")
                 (bpf-type (nested-array 100000)))
(test-ebpf-error "an array of itself" 'ebpf-validation-error
                 ("nested too deeply (or circular)")
                 (bpf-type (let ((t (list 'array 'u8 1)))
                             (set-car! (cdr t) t)
                             t)))
(test-ebpf-error "a circular spec" 'ebpf-validation-error ("bad type")
                 (bpf-type (let ((t (list 'string 16)))
                             (set-cdr! (cdr t) t)
                             t)))

(harness-end)
