;;; demo.scm --- guile-ebpf in a few seconds.
;;;
;;; Shows the main job: programs written in Scheme, compiled to BPF,
;;; loaded through the kernel's verifier and attached live -- then their
;;; maps read back from Scheme and printed the way bpftrace prints them:
;;;   1. system calls counted by process (raw_syscalls:sys_enter),
;;;   2. a read() latency histogram (sys_enter_read / sys_exit_read),
;;;   3. an XDP SYN filter run on crafted packets,
;;;   4. an error that names its culprit and says how to fix it.
;;; The demo makes its own activity (reads, forks) and cleans up.
;;;
;;; Run (as root):  ./pre-inst-env guile -s examples/demo.scm [--duration S]

(use-modules (ebpf) (ice-9 format) (ice-9 rdelim))

(define duration
  (let ((args (cdr (command-line))))
    (or (and (pair? args) (string=? (car args) "--duration") (pair? (cdr args))
             (string->number (cadr args)))
        2)))

(define (section title) (format #t "~%== ~a ==~%" title))

(section "This system")
(let ((f (bpf-features)))
  (format #t "kernel ~a, BTF ~a, ring buffers ~a, libbpf ~a, ~a~%"
          (assq-ref f 'kernel-release) (if (assq-ref f 'btf) "yes" "no")
          (if (assq-ref f 'ringbuf) "yes" "no") (assq-ref f 'libbpf-version)
          (assq-ref f 'clang-version)))

;;; Maps and programs, declared in Scheme.
(defbpf-map syscalls #:kind 'hash #:key '(string 16) #:value 'u64
  #:max-entries 1024 #:doc "System calls by process name.")
(defbpf-map read-start #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240)
(defbpf-map read-latency #:kind 'histogram #:doc "read() latency, ns.")

(bpf-fn count-syscalls (ctx)
  (map-increment! syscalls (comm)))

(bpf-fn read-enter (ctx)
  (map-set! read-start (tid) (ktime-ns)))

(bpf-fn read-exit (ctx)
  (let ((start (map-ref read-start (tid))))
    (when (> start 0)
      (hist! read-latency (- (ktime-ns) start))
      (map-delete! read-start (tid)))))

(define programs
  (list (make-bpf-program `((name . "count-syscalls") (kind . raw-tracepoint)
                            (attach . "sys_enter") (source . ,count-syscalls)))
        (make-bpf-program `((name . "read-enter") (kind . tracepoint)
                            (attach . "syscalls/sys_enter_read")
                            (source . ,read-enter)))
        (make-bpf-program `((name . "read-exit") (kind . tracepoint)
                            (attach . "syscalls/sys_exit_read")
                            (source . ,read-exit)))))

(define (busy seconds)
  ;; Some activity of our own: reads of a few files, and short processes.
  (let ((end (+ (get-internal-real-time)
                (* seconds internal-time-units-per-second))))
    (let loop ()
      (when (< (get-internal-real-time) end)
        (for-each (lambda (f)
                    (false-if-exception
                     (call-with-input-file f (lambda (p) (read-string p)))))
                  '("/proc/self/status" "/proc/uptime" "/etc/hostname"))
        (system "true")
        (usleep 20000)
        (loop)))))

(dynamic-wind
  (lambda () #t)
  (lambda ()
    (section "Compiling, verifying and attaching three programs")
    (for-each (lambda (p)
                (let ((t0 (get-internal-real-time)))
                  (bpf-attach! p)
                  (format #t "~22a ~14a ~,1f ms~%" (bpf-program-name p)
                          (bpf-program-kind p)
                          (/ (- (get-internal-real-time) t0) 1e6))))
              programs)
    (format #t "(running for ~a s ...)~%" duration)
    (busy duration)

    (section "System calls by process (top 8)")
    (bpf-print-map syscalls #:top 8)

    (section "read() latency, ns")
    (bpf-print-hist read-latency))
  (lambda () (for-each bpf-unload! programs)))

(section "An XDP filter tested on crafted packets")
(bpf-fn drop-syn (ctx)
  (if (= (proto ctx) :tcp)
      (return :xdp-drop)
      (return :xdp-pass)))
(define filter
  (make-bpf-program `((name . "drop-syn-flood") (kind . xdp) (attach . "lo")
                      (source . ,drop-syn))))
(for-each (lambda (name pkt)
            (format #t "~28a -> ~a~%" name
                    (bpf-run-result-verdict (bpf-test-run filter pkt))))
          '("TCP SYN 10.0.0.1 -> :80" "TCP SYN 2001:db8::1 -> :80"
            "UDP 10.0.0.1 -> :53" "ARP request")
          (list (make-tcp-packet #:src "10.0.0.1" #:dst "10.0.0.2" #:dport 80)
                (make-tcp-packet #:src "2001:db8::1" #:dst "2001:db8::2" #:dport 80)
                (make-udp-packet #:src "10.0.0.1" #:dst "10.0.0.2" #:dport 53)
                (make-arp-packet)))
(bpf-unload! filter)

(section "Errors name the culprit and say how to fix it")
(catch #t
  (lambda () (bpf-fn->c (bpf-fn oops (ctx) (map-increment! syscalls (+ (packet-ipv4 ctx) 1)))
                        #:kind 'xdp))
  (lambda (key . args)
    (format #t "~a: ~a~%" key (ebpf-error-message args))))
