;;; stacks.scm --- stacks as map keys, symbols of addresses, and the
;;; include setup of C sources.

(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64)
             (ice-9 rdelim) (ice-9 popen) (ice-9 regex) (rnrs bytevectors))

(harness-begin "stacks" 'kernel)

(define fixture-dir (string-append (srcdir) "/test-suite/bpf"))

;;; ------------------------------------------------------------------
;;; C sources: kernel headers that reach C library headers build; a
;;; source including a C library header itself is refused, explained.

(defbpf-map icmp-echoes #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(defbpf-program stacks-t-icmp
  #:kind 'xdp #:attach "lo"
  #:source (string-append fixture-dir "/icmp.bpf.c")
  #:license "GPL")

(define (icmp-echo-packet)
  ;; Ethernet, IPv4 (20 bytes), ICMP echo request (8 bytes).
  (let ((p (make-bytevector 42 0)))
    (bytevector-u16-set! p 12 #x0800 (endianness big))
    (bytevector-u8-set! p 14 #x45)
    (bytevector-u16-set! p 16 28 (endianness big))
    (bytevector-u8-set! p 22 64)
    (bytevector-u8-set! p 23 1)          ; ICMP
    (bytevector-u8-set! p 34 8)          ; echo request
    p))

(test-assert "a source including <linux/icmp.h> builds and loads"
  (begin (bpf-load! stacks-t-icmp) #t))
(let ((r (bpf-test-run stacks-t-icmp (icmp-echo-packet) #:repeat 3)))
  (test-equal "... and test-runs: it passes the packet" 2
    (bpf-run-result-retval r)))
(test-equal "... and counted the echo requests" 3
  (bpf-map-ref icmp-echoes 0))
(bpf-unload! stacks-t-icmp)

(defbpf-program stacks-t-libc
  #:kind 'xdp #:attach "lo"
  #:source (string-append fixture-dir "/libc_include.bpf.c")
  #:license "GPL")
(let ((e (catch 'ebpf-compile-error
           (lambda () (bpf-load! stacks-t-libc) #f)
           (lambda args args))))
  (test-assert "a source including <stdio.h> is refused" e)
  (test-assert "... naming the file, line and header"
    (and e (string-contains (format #f "~a" e)
                            "libc_include.bpf.c:4 includes <stdio.h>")))
  (test-assert "... explaining the fix"
    (and e (string-contains (format #f "~a" e)
                            "without a C library"))))

(harness-end)
