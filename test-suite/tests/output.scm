;;; Aggregations printed as bpftrace prints them, byte for byte: log2 and
;;; linear histograms (bucket labels, K/M suffixes, one-value buckets,
;;; open ends, bars scaled to the largest count in single precision),
;;; keyed histograms per key, and maps as @NAME[KEY]: VALUE sorted by
;;; value.  The expected text was written by hand from bpftrace's text
;;; output format (its histogram and map printers, and the hist and
;;; lhist outputs its own tests expect).  Buckets are filled from user
;;; space, on one CPU, and by a program's hist!.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (ice-9 popen) (ice-9 rdelim) (rnrs bytevectors))

(harness-begin "output" 'kernel)

(define (text . lines)
  (string-concatenate (map (lambda (l) (string-append l "\n")) lines)))

(define (printed proc . args)
  (call-with-output-string (lambda (port) (apply proc (append args (list port))))))

(define (fill! m counts)
  ;; COUNTS: ((KEY . COUNT) ...), counted on CPU 0 only.
  (for-each (match-lambda
              ((k . c)
               (let ((v (bpf-map-ref m k)))
                 (bpf-map-set! m k (let ((n (if (vector? v) (vector-length v)
                                                 (vector-length (bpf-map-ref lat 0)))))
                                     (let ((cpus (make-vector n 0)))
                                       (vector-set! cpus 0 c)
                                       cpus))))))
            counts))

;; ---- log2 ----

(defbpf-map lat #:kind 'histogram)
(fill! lat '((0 . 1) (1 . 1) (2 . 2) (3 . 1) (5 . 1)))

(test-equal "log2 histogram, one-value buckets [0] [1], empty bucket kept"
  (text "@lat:"
        "[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "[8, 16)                0 |                                                    |"
        "[16, 32)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "")
  (printed bpf-print-hist lat))

(test-equal "bpf-hist: (low high count) from the first to the last non-zero bucket"
  '((0 1 1) (1 2 1) (2 4 2) (4 8 1) (8 16 0) (16 32 1))
  (bpf-hist lat))

(test-equal "#:name replaces the title"
  "@:\n" (string-take (printed (lambda (port) (bpf-print-hist lat port #:name "@"))) 3))

(defbpf-map big #:kind 'histogram)
(fill! big '((11 . 3) (12 . 1) (21 . 7)))
(test-equal "K and M suffixes; bars truncated as bpftrace's float arithmetic"
  (text "@big:"
        "[1K, 2K)               3 |@@@@@@@@@@@@@@@@@@@@@@                              |"
        "[2K, 4K)               1 |@@@@@@@                                             |"
        "[4K, 8K)               0 |                                                    |"
        "[8K, 16K)              0 |                                                    |"
        "[16K, 32K)             0 |                                                    |"
        "[32K, 64K)             0 |                                                    |"
        "[64K, 128K)            0 |                                                    |"
        "[128K, 256K)           0 |                                                    |"
        "[256K, 512K)           0 |                                                    |"
        "[512K, 1M)             0 |                                                    |"
        "[1M, 2M)               7 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "")
  (printed bpf-print-hist big))

(defbpf-map empty #:kind 'histogram)
(test-equal "an empty histogram: the title and a blank line" "@empty:\n\n"
            (printed bpf-print-hist empty))
(test-equal "bpf-hist of an empty histogram" '() (bpf-hist empty))

;; ---- linear ----

(defbpf-map lin #:kind 'histogram)
(fill! lin '((1 . 2) (3 . 1) (11 . 4)))
(test-equal "lhist: [lo, hi) buckets and the open top bucket"
  (text "@lin:"
        "[0, 10)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "[10, 20)               0 |                                                    |"
        "[20, 30)               1 |@@@@@@@@@@@@@                                       |"
        "[30, 40)               0 |                                                    |"
        "[40, 50)               0 |                                                    |"
        "[50, 60)               0 |                                                    |"
        "[60, 70)               0 |                                                    |"
        "[70, 80)               0 |                                                    |"
        "[80, 90)               0 |                                                    |"
        "[90, 100)              0 |                                                    |"
        "[100, ...)             4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "")
  (printed (lambda (port) (bpf-print-hist lin port #:linear '(0 100 10)))))
(test-equal "bpf-hist #:linear"
  '((0 10 2) (10 20 0) (20 30 1) (30 40 0) (40 50 0) (50 60 0) (60 70 0)
    (70 80 0) (80 90 0) (90 100 0) (100 #f 4))
  (bpf-hist lin #:linear '(0 100 10)))

(defbpf-map below #:kind 'histogram)
(fill! below '((0 . 5) (2 . 5)))
(test-equal "lhist: the bucket below MIN"
  (text "@below:"
        "(..., 10)              5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "[10, 20)               0 |                                                    |"
        "[20, 30)               5 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "")
  (printed (lambda (port) (bpf-print-hist below port #:linear '(10 50 10)))))

(defbpf-map unit #:kind 'histogram)
(fill! unit '((1 . 1) (2 . 3)))
(test-equal "lhist with step 1: one-value buckets"
  (text "@unit:"
        "[0]                    1 |@@@@@@@@@@@@@@@@@                                   |"
        "[1]                    3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "")
  (printed (lambda (port) (bpf-print-hist unit port #:linear '(0 10 1)))))

(defbpf-map kilo #:kind 'histogram)
(fill! kilo '((1 . 1) (5 . 1)))
(test-equal "lhist with a step of 1024: K labels"
  (text "@kilo:"
        "[0, 1K)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "[1K, 2K)               0 |                                                    |"
        "[2K, 3K)               0 |                                                    |"
        "[3K, 4K)               0 |                                                    |"
        "[4K, ...)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "")
  (printed (lambda (port) (bpf-print-hist kilo port #:linear '(0 4096 1024)))))

(test-ebpf-error "a bad #:linear" 'ebpf-validation-error ("#:linear")
                 (bpf-print-hist lin #:linear '(10 0 1)))

;; ---- keyed ----

(defbpf-map by-port #:kind 'histogram #:key 'u16)
(fill! by-port '(((80 . 3) . 2) ((80 . 4) . 1) ((53 . 10) . 1)))
(test-equal "keyed histogram: one block per key, by increasing total"
  (text "@by-port[53]:"
        "[512, 1K)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        ""
        "@by-port[80]:"
        "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "[8, 16)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "")
  (printed bpf-print-hist by-port))
(test-equal "keyed: #:top 1 keeps the largest"
  (text "@by-port[80]:"
        "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
        "[8, 16)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |"
        "")
  (printed (lambda (port) (bpf-print-hist by-port port #:top 1))))
(test-equal "bpf-hist of one key" '((4 8 2) (8 16 1)) (bpf-hist by-port 80))
(test-equal "bpf-hist of every key" '((53 (512 1024 1)) (80 (4 8 2) (8 16 1)))
            (bpf-hist by-port))

;; ---- maps ----

(defbpf-map counts #:kind 'hash #:key 'u32 #:value 'u64)
(bpf-map-set-all! counts '((1 . 10) (2 . 5) (3 . 20) (4 . 20)))
(test-equal "@NAME[KEY]: VALUE sorted by value"
  (text "@counts[2]: 5" "@counts[1]: 10" "@counts[3]: 20" "@counts[4]: 20")
  (printed bpf-print-map counts))
(test-equal "top N"
  (text "@counts[3]: 20" "@counts[4]: 20")
  (printed (lambda (port) (bpf-print-map counts port #:top 2))))
(test-equal "anonymous name"
  (text "@[2]: 5" "@[1]: 10" "@[3]: 20" "@[4]: 20")
  (printed (lambda (port) (bpf-print-map counts port #:name "@"))))

(defbpf-map comms #:kind 'per-cpu-hash #:key '(string 16) #:value 'u64)
(bpf-map-set! comms "bash" 1)
(bpf-map-set! comms "guile" 3)
(let ((n (vector-length (bpf-map-ref comms "bash"))))
  (test-equal "string keys bare, per-CPU values summed"
    (text (format #f "@comms[bash]: ~a" n) (format #f "@comms[guile]: ~a" (* 3 n)))
    (printed bpf-print-map comms)))

(defbpf-struct flow (saddr ipv4) (dport u16))
(defbpf-map flows #:kind 'hash #:key 'flow #:value 'u64)
(bpf-map-set! flows (make-flow #:saddr "10.0.0.1" #:dport 53) 7)
(test-equal "struct keys as their fields"
  (text "@flows[10.0.0.1, 53]: 7")
  (printed bpf-print-map flows))

;; ---- a histogram filled by a program ----

(defbpf-map plen #:kind 'histogram)
(bpf-fn packet-sizes (ctx)
  (hist! plen (packet-length ctx))
  (return :xdp-pass))
(define sizes (make-bpf-program `((name . "packet-sizes") (kind . xdp)
                                  (attach . "lo") (source . ,packet-sizes))))
(define pkt (make-udp-packet #:src "10.0.0.1" #:dst "10.0.0.2" #:payload "hello"))
(bpf-test-run sizes pkt #:repeat 5)
(let* ((len (bytevector-length pkt))
       (b (integer-length len)))
  (test-equal "hist! from a program: one bucket, five packets"
    (list (list (expt 2 (- b 1)) (expt 2 b) 5))
    (bpf-hist plen)))
(bpf-unload! sizes)

;; ---- the same data through bpftrace, where it is installed ----
;; The bucket lines must agree.  (The title differs between bpftrace
;; versions: 0.17 prints "@lat: " with a space, current ones "@lat:".)

(define (bucket-lines s)
  (filter (lambda (l) (or (string-prefix? "[" l) (string-prefix? "(" l)))
          (string-split s #\newline)))

(define bpftrace
  (find (lambda (d) (file-exists? (string-append d "/bpftrace")))
        (string-split (or (getenv "PATH") "") #\:)))
(unless bpftrace (test-skip 2))
(define (bpftrace-output program)
  ;; Its "Attaching 1 probe..." and warnings go to /dev/null.
  (call-with-output-file "/dev/null"
    (lambda (null)
      (with-error-to-port null
        (lambda ()
          (let* ((p (open-pipe* OPEN_READ (string-append bpftrace "/bpftrace")
                                "-e" program))
                 (out (read-string p)))
            (close-pipe p)
            out))))))
(test-equal "bpftrace prints the same log2 buckets (needs bpftrace)"
  (bucket-lines (printed bpf-print-hist lat))
  (bucket-lines
   (bpftrace-output
    "BEGIN { @lat = hist(0); @lat = hist(1); @lat = hist(2); @lat = hist(3); @lat = hist(4); @lat = hist(16); exit(); }")))
(test-equal "bpftrace prints the same K/M buckets (needs bpftrace)"
  (bucket-lines (printed bpf-print-hist big))
  (bucket-lines
   (bpftrace-output
    "BEGIN { @big = hist(1024); @big = hist(1500); @big = hist(2000); @big = hist(2048); @big = hist(1048576); @big = hist(1048577); @big = hist(1048578); @big = hist(1048579); @big = hist(1048580); @big = hist(1048581); @big = hist(2097151); exit(); }")))

(harness-end)
