;;; The object layer against the kernel: loading compiled objects (shared
;;; maps, constants, verifier errors), attaching them to every kind of
;;; hook this kernel has, test runs, statistics, and clean lifetimes.
;;; Fixtures are the hand-written programs of test-suite/bpf/, compiled
;;; here with clang.  Nothing is faked: packets cross a real veth pair,
;;; syscalls are counted as they happen.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64)
             (ice-9 rdelim) (ice-9 ftw) (ice-9 popen) (ice-9 match)
             (ice-9 threads) (rnrs bytevectors))

;; The fixtures are compiled here, so clang is needed besides the kernel
;; tier's privileges (under CI=true its absence fails the compile below).
(when (and (not (ci?)) (not (assq-ref (bpf-features) 'clang-version)))
  (format #t "1..0 # SKIP loader: needs clang (apt-get install clang llvm)~%")
  (exit 0))

(harness-begin "loader" 'kernel)
(bpf-enable-stats!)   ; run counts are checked below

;;; Fixtures.

(define fixture-dir (string-append (srcdir) "/test-suite/bpf"))
(define tmp (string-append "/tmp/gebpf-loader-" (number->string (getpid))))
(unless (file-exists? tmp) (mkdir tmp))

(define clang (or (getenv "EBPF_CLANG") "clang"))
(define (compile-fixture name)
  (let ((src (string-append fixture-dir "/" name ".bpf.c"))
        (out (string-append tmp "/" name ".bpf.o")))
    (unless (zero? (status:exit-val
                    (system* clang "-g" "-O2" "-target" "bpf" "-mcpu=v3"
                             "-I/usr/include/x86_64-linux-gnu"
                             "-c" src "-o" out)))
      (error "cannot compile fixture" src))
    out))

(define xdp-o (compile-fixture "xdp_count"))
(define tc-o (compile-fixture "tc_count"))
(define trace-o (compile-fixture "trace"))
(define perf-o (compile-fixture "perf"))
(define socket-o (compile-fixture "socket"))
(define cgroup-o (compile-fixture "cgroup"))
(define refused-o (compile-fixture "refused"))
(define reject-o (compile-fixture "reject"))
(define big-reject-o (compile-fixture "big_reject"))

;;; Helpers.

(define (quiet cmd) (system (string-append cmd " >/dev/null 2>&1")))
(define (run! . args)
  (unless (zero? (status:exit-val (apply system* args)))
    (error "command failed" args)))

(define (catch-ebpf thunk)
  ;; (key message details) of the ebpf error THUNK raises, or #f.
  (catch #t (lambda () (thunk) #f)
    (lambda (k . args)
      (match args
        ((subr msg _ details) (list k msg details))
        (_ (list k #f '()))))))

(define (open-fds)
  (length (scandir "/proc/self/fd" (lambda (f) (not (member f '("." "..")))))))

;; An Ethernet + IPv4 + UDP packet to DPORT, built by hand.
(define (udp-packet dport)
  (let ((bv (make-bytevector 46 0)))
    (bytevector-u8-set! bv 0 #x02)              ; dst MAC 02:..:01
    (bytevector-u8-set! bv 5 #x01)
    (bytevector-u8-set! bv 6 #x02)              ; src MAC 02:..:02
    (bytevector-u8-set! bv 11 #x02)
    (bytevector-u16-set! bv 12 #x0800 (endianness big))
    (bytevector-u8-set! bv 14 #x45)             ; IPv4, 20-byte header
    (bytevector-u16-set! bv 16 32 (endianness big))
    (bytevector-u8-set! bv 22 64)               ; ttl
    (bytevector-u8-set! bv 23 17)               ; UDP
    (bytevector-u32-set! bv 26 #x0a000001 (endianness big))
    (bytevector-u32-set! bv 30 #x0a000002 (endianness big))
    (bytevector-u16-set! bv 34 40000 (endianness big))
    (bytevector-u16-set! bv 36 dport (endianness big))
    (bytevector-u16-set! bv 38 12 (endianness big))
    (bytevector-u32-set! bv 42 #x70696e67 (endianness big))
    bv))

(define (udp-socket addr port)
  (let ((s (socket PF_INET SOCK_DGRAM 0)))
    (setsockopt s SOL_SOCKET SO_REUSEADDR 1)
    (bind s AF_INET (inet-pton AF_INET addr) port)
    s))

;; Datagrams received on S until none came for WAIT-MS.
(define* (drain s #:optional (wait-ms 300))
  (let loop ((n 0))
    (match (select (list s) '() '() 0 (* wait-ms 1000))
      ((() () ()) n)
      (_ (recvfrom! s (make-bytevector 2048)) (loop (+ n 1))))))

(define (send-udp! addr port n)
  (let ((s (socket PF_INET SOCK_DGRAM 0)))
    (dynamic-wind
      (const #t)
      (lambda ()
        (do ((i 0 (+ i 1))) ((= i n))
          (sendto s (string->utf8 "ping") AF_INET (inet-pton AF_INET addr)
                  port)))
      (lambda () (close-port s)))))

(define (getpid-times n)
  (do ((i 0 (+ i 1))) ((= i n)) (getpid)))

;;; The network and cgroup the tests use, removed at the start too in
;;; case an earlier run died.  Named after this process, and on a /30 of
;;; its own, so that two runs at once (make check and make distcheck on
;;; one machine) do not take each other's interfaces away.

(define host-if (format #f "gebpf-l~aa" (getpid)))
(define peer-if (format #f "gebpf-l~ab" (getpid)))
(define netns (format #f "gebpf-loader-~a" (getpid)))
(define subnet-base
  (let ((n (modulo (getpid) 16384)))
    (format #f "10.197.~a." (quotient n 64))))
(define host-ip
  (string-append subnet-base (number->string (+ 1 (* 4 (modulo (getpid) 64))))))
(define peer-ip
  (string-append subnet-base (number->string (+ 2 (* 4 (modulo (getpid) 64))))))

(define (net-down!)
  (quiet (string-append "ip link del " host-if))
  (quiet (string-append "ip netns del " netns)))

(define (net-up!)
  (net-down!)
  (run! "ip" "link" "add" host-if "type" "veth" "peer" "name" peer-if)
  (run! "ip" "netns" "add" netns)
  (run! "ip" "link" "set" peer-if "netns" netns)
  (run! "ip" "addr" "add" (string-append host-ip "/30") "dev" host-if)
  (run! "ip" "link" "set" host-if "up")
  (run! "ip" "-n" netns "addr" "add" (string-append peer-ip "/30")
        "dev" peer-if)
  (run! "ip" "-n" netns "link" "set" peer-if "up")
  (run! "ip" "-n" netns "link" "set" "lo" "up"))

;; Send N datagrams from inside the namespace to the host side: they
;; arrive on host-if, where XDP and tc ingress see them.
(define (send-from-peer! port n)
  (run! "ip" "netns" "exec" netns "guile" "--no-auto-compile" "-c"
        (format #f "(use-modules (rnrs bytevectors))
(let ((s (socket PF_INET SOCK_DGRAM 0)))
  (do ((i 0 (+ i 1))) ((= i ~a))
    (sendto s (string->utf8 \"ping\") AF_INET (inet-pton AF_INET ~s) ~a)))"
                n host-ip port)))

(define cgroup2-root (cgroup2-mount))
(define test-cgroup (format #f "~a/gebpf-loader-test-~a" cgroup2-root (getpid)))
(define home-cgroup
  ;; This process's cgroup2 directory, to come back to.
  (let ((line (find (lambda (l) (string-prefix? "0::" l))
                    (call-with-input-file "/proc/self/cgroup"
                      (lambda (p)
                        (let loop ((acc '()))
                          (let ((l (read-line p)))
                            (if (eof-object? l) acc (loop (cons l acc))))))))))
    (string-append cgroup2-root (if line (substring line 3) "/"))))

(define (move-self! dir)
  (call-with-output-file (string-append dir "/cgroup.procs")
    (lambda (p) (display (getpid) p))))

(define (cgroup-down!)
  (when (file-exists? test-cgroup)
    (false-if-exception (move-self! home-cgroup))
    (false-if-exception (rmdir test-cgroup))))

(define (cleanup!)
  (bpf-detach-all!)
  (net-down!)
  (cgroup-down!))

(cleanup!)

;;; Maps the fixtures share with Scheme.

(defbpf-map xdp-stats #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(defbpf-map tc-stats #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-map trace-counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(defbpf-map perf-samples #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(defbpf-map cg-counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)

;;; Loading, constants, test runs, shared maps.

(define drop-obj
  (bpf-object-load xdp-o #:constants '((drop-port . 7777) (count_port . 53))))

(test-assert "load returns a <bpf-object>" (bpf-object? drop-obj))
(test-equal "first program by default" "xdp_count" (bpf-object-name drop-obj))
(test-equal "kind from SEC()" 'xdp (bpf-object-kind drop-obj))
(test-assert "program fd" (integer? (bpf-object-fd drop-obj)))
(test-equal "the declared map is shared" '("xdp-stats") (bpf-object-maps drop-obj))
(test-equal "digest is the sha256 of the file"
            (car (string-split
                  (let* ((p (open-pipe* OPEN_READ "sha256sum" xdp-o))
                         (l (read-line p)))
                    (close-pipe p) l)
                  #\space))
            (bpf-object-digest drop-obj))
(test-assert "printer names the program"
             (string-prefix? "#<bpf-object xdp_count xdp fd:"
                             (object->string drop-obj)))

(bpf-map-clear! xdp-stats)
(let ((r (bpf-test-run drop-obj (udp-packet 7777))))
  (test-equal "test run: drop port is dropped" 'xdp-drop (bpf-run-result-verdict r))
  (test-equal "test run: retval" 1 (bpf-run-result-retval r))
  (test-equal "test run: data out" (udp-packet 7777) (bpf-run-result-data r)))
(let ((r (bpf-test-run drop-obj (udp-packet 53) #:repeat 10)))
  (test-equal "test run: other port passes" 'xdp-pass (bpf-run-result-verdict r))
  (test-assert "test run: duration" (integer? (bpf-run-result-duration-ns r))))
(test-equal "the program counted into the declared map"
            '((0 . 11) (1 . 10) (2 . 1) (3 . 0))
            (bpf-map->alist xdp-stats))

(define pass-obj (bpf-object-load xdp-o #:constants '((count-port . 9))))
(test-equal "constants change behaviour: no drop port, no drop" 'xdp-pass
            (bpf-run-result-verdict (bpf-test-run pass-obj (udp-packet 7777))))
(test-equal "both objects write the one kernel map" 12 (bpf-map-ref xdp-stats 0))

(define all-obj (bpf-object-load xdp-o #:name 'xdp-pass-all #:kind 'xdp))
(test-equal "#:name chooses the program (- is _)" "xdp_pass_all"
            (bpf-object-name all-obj))
(bpf-test-run all-obj (udp-packet 1) #:repeat 3)
(test-equal "and it shares the map too" 3 (bpf-map-ref xdp-stats 3))

(let ((info (bpf-object-info drop-obj)))
  (test-equal "info: name" "xdp_count" (assq-ref info 'name))
  (test-equal "info: id" (bpf-object-id drop-obj) (assq-ref info 'id))
  (test-assert "info: run-count counts test runs" (>= (assq-ref info 'run-count) 11))
  (test-assert "info: run time" (> (assq-ref info 'run-time-ns) 0))
  (test-assert "info: xlated insns" (> (assq-ref info 'xlated-insns) 10))
  (test-assert "info: jited bytes" (> (assq-ref info 'jited-bytes) 0))
  (test-assert "info: verified insns" (> (assq-ref info 'verified-insns) 10))
  (test-equal "info: digest" (bpf-object-digest drop-obj) (assq-ref info 'digest)))
(test-assert "bpf-programs lists it"
             (any (lambda (p) (and (eqv? (assq-ref p 'id) (bpf-object-id drop-obj))
                                   (equal? (assq-ref p 'name) "xdp_count")
                                   (eq? (assq-ref p 'kind) 'xdp)))
                  (bpf-programs)))

(test-equal "no verifier log is kept by default" #f
            (bpf-object-verifier-log pass-obj))
(let ((o (bpf-object-load xdp-o #:log-level 1)))
  (test-assert "#:log-level 1 keeps the verifier log"
               (string-contains (bpf-object-verifier-log o) "processed"))
  (bpf-object-close! o))

(bpf-object-close! all-obj)
(bpf-object-close! all-obj)
(test-assert "close! is idempotent" (bpf-object-closed? all-obj))
(test-equal "a closed object has no fd" #f (bpf-object-fd all-obj))
(test-assert "printer says closed"
             (string-contains (object->string all-obj) "closed"))
(test-ebpf-error "a closed object cannot run" 'ebpf-error ("closed")
                 (bpf-test-run all-obj (udp-packet 1)))

;;; Errors at load.

(test-ebpf-error "unknown constant lists the known ones" 'ebpf-validation-error
                 ("nope" "count_port" "drop_port")
                 (bpf-object-load xdp-o #:constants '((nope . 1))))
(test-ebpf-error "constant out of range" 'ebpf-validation-error ("drop" "300" "8-bit")
                 (bpf-object-load socket-o #:constants '((drop . 300))))
(test-ebpf-error "kind that contradicts SEC()" 'ebpf-validation-error
                 ("sock_filter" "socket-filter" "xdp")
                 (bpf-object-load socket-o #:kind 'xdp))
(test-ebpf-error "unknown kind lists the kinds" 'ebpf-validation-error
                 ("frobnicate" "tracepoint")
                 (bpf-object-load socket-o #:kind 'frobnicate))
(test-ebpf-error "unknown program lists the programs" 'ebpf-validation-error
                 ("nope" "tp_getpid" "raw_getpid")
                 (bpf-object-load trace-o #:name "nope"))
(test-ebpf-error "missing object file" 'ebpf-error ("nosuch.bpf.o" "ENOENT")
                 (bpf-object-load (string-append tmp "/nosuch.bpf.o")))
(test-ebpf-error "missing BTF tracepoint" 'ebpf-attach-error ("gebpf_nosuch")
                 (bpf-object-load trace-o #:name "btf_getpid" #:target "gebpf_nosuch"))

(let ((e (catch-ebpf (lambda () (bpf-object-load reject-o)))))
  (test-equal "verifier rejection" 'ebpf-verifier-error (and e (car e)))
  (test-assert "summary names the program and the reason"
               (and e (string-contains (cadr e) "reject_null")
                    (string-contains (cadr e) "invalid mem access")))
  (test-assert "summary says how many lines it left out"
               (and e (string-contains (cadr e) "lines omitted")))
  (test-assert "summary has a Fix" (and e (string-contains (cadr e) "Fix: check the pointer for NULL")))
  (test-assert "the whole log is in the details"
               (and e (string-contains (assq-ref (caddr e) 'log) "processed")))
  (test-assert "without a line map, annotations name the C file"
               (and e (string-contains (cadr e) "@ reject.bpf.c:4"))))

(let* ((e (catch-ebpf (lambda () (bpf-object-load big-reject-o))))
       (log (and e (assq-ref (caddr e) 'log))))
  (test-equal "a long verifier log: still the verifier's error" 'ebpf-verifier-error
              (and e (car e)))
  (test-assert "the log buffer grew until the whole log fitted"
               (and log (> (string-length log) (* 64 1024))
                    (string-prefix? "0: R1=ctx" log)
                    (string-contains log "invalid mem access")))
  (test-assert "the summary stays short"
               (and e (< (length (string-split (cadr e) #\newline)) 14))))

(let* ((lm (let ((v (make-vector 10 #f)))
             (vector-set! v 3 "(map-get vals k) @ policy.scm:3")
             (vector-set! v 4 "(> (deref v) 10) @ policy.scm:4")
             v))
       (e (catch-ebpf (lambda () (bpf-object-load reject-o #:line-map lm)))))
  (test-assert "line map: the summary names the Scheme form and line"
               (and e (string-contains (cadr e) "; (> (deref v) 10) @ policy.scm:4")))
  (test-assert "line map: the full log is rewritten too"
               (and e (string-contains (assq-ref (caddr e) 'log)
                                       "; (map-get vals k) @ policy.scm:3")))
  (test-assert "line map: no C annotation of mapped lines is left"
               (and e (not (string-contains (assq-ref (caddr e) 'log)
                                            "@ reject.bpf.c:4")))))

(test-ebpf-error "fentry refused: explained, with the tracepoint way"
                 'ebpf-attach-error ("fentry_open" "trampoline" "tracepoint")
                 (bpf-object-load refused-o #:name "fentry_open" #:kind 'fentry))
(test-ebpf-error "lsm refused the same way"
                 'ebpf-attach-error ("lsm_open" "trampoline")
                 (bpf-object-load refused-o #:name "lsm_open"))
(let ((k (bpf-object-load refused-o #:name "kprobe_open")))
  (test-equal "a kprobe program loads" 'kprobe (bpf-object-kind k))
  (test-ebpf-error "but this kernel has no kprobes" 'ebpf-attach-error
                   ("no kprobes" "do_sys_openat2" "tracepoint")
                   (bpf-object-attach k #:target "do_sys_openat2"))
  (bpf-object-close! k))

(test-assert "without privilege: ebpf-permission-error naming the capabilities"
  (let* ((code (format #f "(use-modules (ebpf))
(catch #t (lambda () (bpf-object-load ~s))
  (lambda (k . a) (display k) (newline) (display (cadr a))))" xdp-o))
         (p (open-pipe* OPEN_READ "setpriv" "--bounding-set=-all"
                        (string-append (or (getenv "abs_top_builddir") (srcdir))
                                       "/pre-inst-env")
                        "guile"
                        "--no-auto-compile" "-c" code))
         (key (read-line p))
         (msg (read-line p)))
    (close-pipe p)
    (or (and (equal? key "ebpf-permission-error")
             (string? msg)
             (string-contains msg "CAP_BPF")
             (string-contains msg "CAP_NET_ADMIN")
             (string-contains msg "Fix:"))
        (begin (format #t "# got ~s ~s~%" key msg) #f))))

;;; Tracing: every event counted exactly.

(define tgid `((target-tgid . ,(getpid))))

(let* ((o (bpf-object-load trace-o #:name "tp_getpid" #:constants tgid))
       (l (bpf-object-attach o #:target "syscalls/sys_enter_getpid" #:cookie 42)))
  (bpf-map-clear! trace-counts)
  (getpid-times 1000)
  (test-equal "tracepoint counts every getpid()" 1000 (bpf-map-ref trace-counts 0))
  (test-equal "tracepoint sees its attach cookie" 42 (bpf-map-ref trace-counts 1))
  (test-assert "a link" (bpf-link? l))
  (test-equal "link kind" 'tracepoint (bpf-link-kind l))
  (test-equal "link target" "syscalls:sys_enter_getpid" (bpf-link-target l))
  (test-assert "link printer"
               (string-prefix? "#<bpf-link tracepoint syscalls:sys_enter_getpid prog:tp_getpid"
                               (object->string l)))
  (test-ebpf-error "a tracepoint link cannot be updated in place"
                   'ebpf-attach-error ("cannot replace" "dispatcher")
                   (bpf-link-update! l o))
  (bpf-object-close! o)
  (getpid-times 10)
  (test-equal "closing the object keeps the link's program running"
              1010 (bpf-map-ref trace-counts 0))
  (bpf-link-destroy! l)
  (bpf-link-destroy! l)
  (getpid-times 10)
  (test-equal "destroyed: no more counting" 1010 (bpf-map-ref trace-counts 0))
  (test-assert "destroy! is idempotent" (not (bpf-link-live? l))))

(let* ((o (bpf-object-load trace-o #:name "tp_getpid" #:constants tgid))
       (l (bpf-object-attach o #:target "syscalls:sys_enter_getpid")))
  (bpf-map-clear! trace-counts)
  (getpid-times 500)
  (test-equal "the CATEGORY:NAME spelling" 500 (bpf-map-ref trace-counts 0))
  (test-equal "no cookie is 0" 0 (bpf-map-ref trace-counts 1))
  (bpf-link-destroy! l)
  (test-ebpf-error "missing tracepoint" 'ebpf-attach-error ("sys_enter_gebpf_nosuch")
                   (bpf-object-attach o #:target "syscalls/sys_enter_gebpf_nosuch"))
  (test-ebpf-error "bad tracepoint spelling" 'ebpf-validation-error ("CATEGORY")
                   (bpf-object-attach o #:target "sys_enter_getpid"))
  (bpf-object-close! o))

(let* ((o (bpf-object-load trace-o #:name "raw_getpid" #:constants tgid))
       (l (bpf-object-attach o #:target "sys_enter")))
  (bpf-map-clear! trace-counts)
  (getpid-times 1000)
  (test-equal "raw tracepoint counts every getpid()" 1000 (bpf-map-ref trace-counts 2))
  (test-equal "raw tracepoint kind" 'raw-tracepoint (bpf-object-kind o))
  (bpf-link-destroy! l)
  (test-ebpf-error "missing raw tracepoint" 'ebpf-attach-error ("gebpf_nosuch")
                   (bpf-object-attach o #:target "gebpf_nosuch"))
  (bpf-object-close! o))

(let* ((o (bpf-object-load trace-o #:name "btf_getpid" #:constants tgid))
       (l (bpf-object-attach o)))
  (bpf-map-clear! trace-counts)
  (getpid-times 1000)
  (test-equal "tp-btf counts every getpid()" 1000 (bpf-map-ref trace-counts 3))
  (test-equal "tp-btf kind" 'tp-btf (bpf-object-kind o))
  (test-equal "tp-btf target from SEC()" "sys_enter" (bpf-object-target o))
  (bpf-link-destroy! l)
  (bpf-object-close! o))

(define libc
  (call-with-input-file "/proc/self/maps"
    (lambda (p)
      (let loop ()
        (let ((l (read-line p)))
          (cond ((eof-object? l) #f)
                ((string-contains l "/libc.so.6")
                 (substring l (string-index l #\/)))
                ((string-contains l "/libc-")
                 (substring l (string-index l #\/)))
                (else (loop))))))))

(let* ((o (bpf-object-load trace-o #:name "uprobe_getpid" #:constants tgid))
       (l (bpf-object-attach o #:target (string-append libc ":getpid")
                             #:pid (getpid))))
  (bpf-map-clear! trace-counts)
  (getpid-times 1000)
  (test-equal "uprobe on libc's getpid counts every call" 1000
              (bpf-map-ref trace-counts 4))
  (test-equal "uprobe kind" 'uprobe (bpf-link-kind l))
  (bpf-link-destroy! l)
  (test-ebpf-error "missing binary" 'ebpf-attach-error ("/gebpf/nosuch/bin")
                   (bpf-object-attach o #:target "/gebpf/nosuch/bin:main"))
  (test-ebpf-error "missing symbol" 'ebpf-attach-error ("gebpf_no_such_symbol")
                   (bpf-object-attach o #:target (string-append libc ":gebpf_no_such_symbol")))
  (bpf-object-close! o))

(let* ((o (bpf-object-load trace-o #:name "uretprobe_getpid" #:constants tgid))
       (l (bpf-object-attach o #:kind 'uretprobe
                             #:target (string-append libc ":getpid"))))
  (bpf-map-clear! trace-counts)
  (getpid-times 1000)
  (test-equal "uretprobe in every process, filtered by the program" 1000
              (bpf-map-ref trace-counts 5))
  (bpf-link-destroy! l)
  (bpf-object-close! o))

(let* ((o (bpf-object-load perf-o))
       (l (bpf-object-attach o #:frequency 99)))
  (bpf-map-clear! perf-samples)
  (let ((end (+ (get-internal-real-time)
                (quotient (* 250 internal-time-units-per-second) 1000))))
    (let loop () (when (< (get-internal-real-time) end) (loop))))
  (test-assert "perf event at 99 Hz samples a busy loop"
               (> (bpf-map-ref perf-samples 0) 0))
  (test-equal "one kernel link per CPU" (total-processor-count)
              (length (bpf-link-fds l)))
  (bpf-link-destroy! l)
  (bpf-object-close! o))

;;; Networking: XDP and tc on a veth pair, real packets.

(net-up!)

(let* ((obj (bpf-object-load xdp-o #:constants '((count-port . 7001))))
       (recv (udp-socket host-ip 7001))
       (l (bpf-object-attach obj #:target host-if #:mode 'generic)))
  (bpf-map-clear! xdp-stats)
  (send-from-peer! 7001 5)
  (test-equal "XDP (generic) lets the packets through" 5 (drain recv))
  (test-equal "XDP (generic) counted them" 5 (bpf-map-ref xdp-stats 1))
  (test-equal "XDP link target" (string-append host-if " generic") (bpf-link-target l))
  (test-ebpf-error "one XDP program per interface" 'ebpf-attach-error (host-if)
                   (bpf-object-attach obj #:target host-if #:mode 'generic))
  ;; Swap in a version that drops port 7002, atomically.
  (let ((dropper (bpf-object-load xdp-o #:constants '((count-port . 7001)
                                                      (drop-port . 7002))))
        (recv2 (udp-socket host-ip 7002)))
    (bpf-link-update! l dropper)
    (test-equal "link update: the link runs the new program" "xdp_count"
                (bpf-link-program-name l))
    (test-eq "link update: the link holds the new object" dropper (bpf-link-object l))
    (bpf-map-clear! xdp-stats)
    (send-from-peer! 7002 4)
    (send-from-peer! 7001 3)
    (test-equal "XDP drops what the program drops" 0 (drain recv2))
    (test-equal "XDP counted the drops" 4 (bpf-map-ref xdp-stats 2))
    (test-equal "and passes the rest" 3 (drain recv))
    (bpf-link-destroy! l)
    (send-from-peer! 7002 2)
    (test-equal "detached: nothing dropped any more" 2 (drain recv2))
    (close-port recv2)
    (bpf-object-close! dropper))
  (let ((l2 (bpf-object-attach obj #:target host-if)))
    (test-equal "XDP auto mode is native on veth" (string-append host-if " native")
                (bpf-link-target l2))
    (bpf-map-clear! xdp-stats)
    (send-from-peer! 7001 5)
    (test-equal "XDP (native) passes" 5 (drain recv))
    (test-equal "XDP (native) counts" 5 (bpf-map-ref xdp-stats 1))
    (bpf-link-destroy! l2))
  (test-ebpf-error "missing interface" 'ebpf-attach-error ("gebpf-nosuch0")
                   (bpf-object-attach obj #:target "gebpf-nosuch0"))
  (close-port recv)
  (bpf-object-close! obj))

(define (clsact?)
  (let* ((p (open-pipe* OPEN_READ "tc" "qdisc" "show" "dev" host-if))
         (s (let loop ((acc "")) (let ((l (read-line p)))
                                   (if (eof-object? l) acc
                                       (loop (string-append acc l)))))))
    (close-pipe p)
    (and (string-contains s "clsact") #t)))

(let* ((obj (bpf-object-load tc-o #:constants '((count-port . 7003)
                                                (drop-port . 7004))))
       (recv (udp-socket host-ip 7003))
       (recv2 (udp-socket host-ip 7004))
       (l (bpf-object-attach obj #:target host-if #:direction 'ingress)))
  (bpf-map-clear! tc-stats)
  (test-assert "tc: the clsact qdisc was created" (clsact?))
  (send-from-peer! 7003 5)
  (send-from-peer! 7004 3)
  (test-equal "tc ingress lets packets through" 5 (drain recv))
  (test-equal "tc ingress counted them" 5 (bpf-map-ref tc-stats 0))
  (test-equal "tc ingress shoots what the program shoots" 0 (drain recv2))
  (test-equal "tc counted the shots" 3 (bpf-map-ref tc-stats 1))
  (test-equal "tc test run verdict" 'tc-act-shot
              (bpf-run-result-verdict (bpf-test-run obj (udp-packet 7004))))
  (let ((eg (bpf-object-attach obj #:target host-if #:direction 'egress)))
    (bpf-link-destroy! l)
    (test-assert "tc: the qdisc stays while another tc link uses it" (clsact?))
    (bpf-link-destroy! eg))
  (test-assert "tc: the qdisc created here is removed at detach" (not (clsact?)))
  (close-port recv)
  (close-port recv2)
  (bpf-object-close! obj))

(net-down!)

;;; Sockets.

(let* ((keep (bpf-object-load socket-o))
       (drop (bpf-object-load socket-o #:constants '((drop . #t))))
       (s (udp-socket "127.0.0.1" 7005))
       (l (bpf-attach-socket! keep s)))
  (send-udp! "127.0.0.1" 7005 2)
  (test-equal "socket filter keeping packets" 2 (drain s 100))
  (bpf-link-update! l drop)
  (send-udp! "127.0.0.1" 7005 2)
  (test-equal "socket filter returning 0 drops the datagrams" 0 (drain s 100))
  (bpf-link-destroy! l)
  (send-udp! "127.0.0.1" 7005 2)
  (test-equal "detached filter drops nothing" 2 (drain s 100))
  (let ((l2 (bpf-attach-socket! drop (fileno s))))
    (send-udp! "127.0.0.1" 7005 1)
    (test-equal "attached by file descriptor" 0 (drain s 100))
    (bpf-link-destroy! l2))
  (test-equal "socket filter test run" 'deny
              (bpf-run-result-verdict (bpf-test-run drop (udp-packet 1))))
  (close-port s)
  (test-ebpf-error "a socket filter is not attached with bpf-object-attach"
                   'ebpf-validation-error ("bpf-attach-socket!")
                   (bpf-object-attach keep))
  (bpf-object-close! keep)
  (bpf-object-close! drop))

;;; cgroups.

(mkdir test-cgroup)

(define (in-test-cgroup thunk)
  (dynamic-wind
    (lambda () (move-self! test-cgroup))
    thunk
    (lambda () (move-self! home-cgroup))))

(let* ((obj (bpf-object-load cgroup-o #:name "cg_skb" #:kind 'cgroup-skb
                             #:attach-type 'egress
                             #:constants '((count-port . 7006))))
       (recv (udp-socket "127.0.0.1" 7006))
       (l (bpf-object-attach obj #:target test-cgroup)))
  (test-equal "cgroup-skb: the hook comes from #:attach-type" 'egress
              (bpf-object-attach-type obj))
  (bpf-map-clear! cg-counts)
  (in-test-cgroup (lambda () (send-udp! "127.0.0.1" 7006 6)))
  (send-udp! "127.0.0.1" 7006 2)
  (test-equal "cgroup-skb egress counts the cgroup's packets only" 6
              (bpf-map-ref cg-counts 0))
  (test-equal "and they arrive" 8 (drain recv 100))
  (bpf-link-destroy! l)
  (let* ((deny (bpf-object-load cgroup-o #:name "cg_skb" #:attach-type 'egress
                                #:constants '((count-port . 7006) (allow . 0))))
         (l2 (bpf-object-attach deny #:target test-cgroup #:direction 'egress)))
    (test-assert "cgroup-skb egress returning 0 refuses the packets"
                 (in-test-cgroup
                  (lambda ()
                    (catch 'system-error
                      (lambda () (send-udp! "127.0.0.1" 7006 1) #f)
                      (lambda args (= (system-error-errno args) EPERM))))))
    (test-equal "nothing arrived" 0 (drain recv 100))
    (test-ebpf-error "the direction is fixed at load" 'ebpf-validation-error ("egress" "ingress")
                     (bpf-object-attach deny #:target test-cgroup #:direction 'ingress))
    (bpf-link-destroy! l2)
    (bpf-object-close! deny))
  (close-port recv)
  (bpf-object-close! obj))

(let* ((obj (bpf-object-load cgroup-o #:name "deny_connect4"
                             #:constants '((deny-port . 7007))))
       (l (bpf-object-attach obj #:target test-cgroup)))
  (test-equal "cgroup-sock-addr hook from SEC()" 'connect4 (bpf-object-attach-type obj))
  (test-assert "connect4 refuses the denied port"
               (in-test-cgroup
                (lambda ()
                  (let ((s (socket PF_INET SOCK_DGRAM 0)))
                    (catch 'system-error
                      (lambda () (connect s AF_INET (inet-pton AF_INET "127.0.0.1") 7007)
                              (close-port s) #f)
                      (lambda args (close-port s)
                              (= (system-error-errno args) EPERM)))))))
  (test-assert "and allows the others"
               (in-test-cgroup
                (lambda ()
                  (let ((s (socket PF_INET SOCK_DGRAM 0)))
                    (connect s AF_INET (inet-pton AF_INET "127.0.0.1") 7008)
                    (close-port s)
                    #t))))
  (test-ebpf-error "missing cgroup" 'ebpf-attach-error ("gebpf-nosuch")
                   (bpf-object-attach obj #:target (string-append cgroup2-root "/gebpf-nosuch")))
  (test-ebpf-error "not a cgroup2 directory" 'ebpf-attach-error ("not a cgroup2")
                   (bpf-object-attach obj #:target "/tmp"))
  (bpf-link-destroy! l)
  (bpf-object-close! obj))

(test-ebpf-error "a cgroup-sock-addr hook that does not fit" 'ebpf-validation-error
                 ("egress" "connect4")
                 (bpf-object-load cgroup-o #:name "deny_connect4" #:attach-type 'egress))

(cgroup-down!)

;;; Lifetimes.

(let* ((o (bpf-object-load trace-o #:name "tp_getpid" #:constants tgid))
       ;; (A program is attached at most once to one tracepoint.)
       (links (map (lambda (t) (bpf-object-attach o #:target t))
                   '("syscalls/sys_enter_getpid" "syscalls/sys_enter_getppid"
                     "syscalls/sys_enter_getuid"))))
  (test-equal "the registry holds the live links" 3 (length (bpf-links)))
  (test-equal "bpf-detach-all! destroys them all" 3 (bpf-detach-all!))
  (test-assert "and they are not live" (not (any bpf-link-live? links)))
  (test-equal "the registry is empty" '() (bpf-links))
  (bpf-object-close! o))

;; Once, so that lazily opened descriptors (statistics ...) exist.
;; (A raw tracepoint: detaching a tracepoint's perf event waits for the
;; kernel's RCU grace period, some 70 ms here.)
(define (cycle!)
  (let* ((o (bpf-object-load trace-o #:name "raw_getpid" #:constants tgid))
         (l (bpf-object-attach o #:target "sys_enter")))
    (bpf-link-destroy! l)
    (bpf-object-close! o)))
(cycle!)
(let ((before (open-fds)))
  (do ((i 0 (+ i 1))) ((= i 500)) (cycle!))
  (test-equal "500 load/attach/detach/close cycles leak no fd" before (open-fds)))

(test-ebpf-error "a map declared with another shape is refused" 'ebpf-map-error
                 ("sock-seen" "hash" "array")
                 (begin
                   (defbpf-map sock-seen #:kind 'hash #:key 'u32 #:value 'u64
                     #:max-entries 1)
                   (bpf-object-load socket-o)))

(bpf-object-close! drop-obj)
(bpf-object-close! pass-obj)
(cleanup!)
(for-each (lambda (f) (delete-file (string-append tmp "/" f)))
          (scandir tmp (lambda (f) (string-suffix? ".o" f))))
(rmdir tmp)

(harness-end)
