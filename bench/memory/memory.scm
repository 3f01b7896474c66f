;;; memory.scm --- the memory benchmark's guile-ebpf side.
;;;
;;; guile --no-auto-compile -s memory.scm MODE [IFACE]
;;;
;;; MODE policy: a typical policy applied -- three maps (a syscall
;;;   counter, a blocklist of IPv4 sources, per-CPU verdict counters), a
;;;   tracepoint program counting getpid calls and an XDP program on
;;;   IFACE (generic mode) dropping TCP SYNs from blocklisted sources --
;;;   declared with defbpf-policy and applied with bpf-policy-apply!.
;;; MODE counter: only the tracepoint counter and its map, attached: the
;;;   job of the bpftrace one-liner it is compared with.
;;; MODE modules: (ebpf) loaded, nothing declared.
;;;
;;; Prints "children-peak-kb KIB" (the peak resident size of the largest
;;; child, clang, on a cold object cache) and "ready" once everything is
;;; attached, then idles until its standard input ends, removes what it
;;; applied and exits.  bench/memory/run reads the peak resident size
;;; (VmHWM) of the process.

(use-modules (ebpf) (ice-9 rdelim) (ice-9 format) (system foreign)
             (rnrs bytevectors))

(define mode (string->symbol (cadr (command-line))))
(define iface (and (pair? (cddr (command-line))) (caddr (command-line))))

(define-syntax-rule (when-mode modes body ...)
  (when (memq mode 'modes) body ...))

(when-mode (policy counter)
  (defbpf-map syscalls #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
  (bpf-fn count-getpid (ctx)
    (map-increment! syscalls 0))
  (defbpf-program getpid-counter
    #:kind 'tracepoint
    #:attach "syscalls/sys_enter_getpid"
    #:source count-getpid))

(when-mode (policy)
  (defbpf-map blocklist #:kind 'hash #:key 'ipv4 #:value 'u64
    #:max-entries 1024)
  (defbpf-map verdicts #:kind 'per-cpu-array #:key 'u32 #:value 'u64
    #:max-entries 2)
  (bpf-fn drop-blocked-syn (ctx)
    (let ((ip (packet-ipv4 ctx))
          (tcp (packet-tcp ctx)))
      (when (and ip tcp (tcp-syn? tcp) (not (tcp-ack? tcp))
                 (map-get blocklist (ipv4-saddr ip)))
        (map-increment! verdicts 1)
        (return :xdp-drop))
      (map-increment! verdicts 0)
      (return :xdp-pass)))
  (defbpf-program syn-filter
    #:kind 'xdp
    #:attach `(#:target ,iface #:mode generic)
    #:source drop-blocked-syn)
  (defbpf-policy edge-counting
    #:description "SYN filter on one interface, getpid counter"
    #:programs '("syn-filter" "getpid-counter")
    #:maps '("syscalls" "blocklist" "verdicts")))

(define (apply!)
  (case mode
    ((policy)
     (bpf-policy-apply! edge-counting)
     (bpf-map-set! blocklist "192.0.2.1" 1))
    ((counter) (bpf-attach! getpid-counter))
    (else #t)))

(define (remove!)
  (case mode
    ((policy) (bpf-policy-remove! edge-counting))
    ((counter) (bpf-unload! getpid-counter))
    (else #t)))

(define (children-peak-kb)
  ;; getrusage (RUSAGE_CHILDREN): ru_maxrss, in KiB, of the largest child
  ;; waited for -- clang, on a cold cache.  ru_maxrss follows the two
  ;; struct timevals of struct rusage.
  (let ((buf (make-bytevector 256 0))
        (getrusage (pointer->procedure
                    int (dynamic-func "getrusage" (dynamic-link))
                    (list int '*))))
    (if (zero? (getrusage -1 (bytevector->pointer buf)))
        (bytevector-s64-native-ref buf (* 4 (sizeof long)))
        0)))

(apply!)
(format #t "children-peak-kb ~a~%" (children-peak-kb))
(display "ready\n")
(force-output)
(let idle ()
  (unless (eof-object? (read-line))
    (idle)))
(remove!)
