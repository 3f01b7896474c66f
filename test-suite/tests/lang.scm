;;; The bpf-fn forms that real tracing tools need, against the real
;;; kernel: signed values in histograms, string comparisons, user and
;;; kernel memory read as any guile-ebpf type, typed kernel pointers in
;;; locals.  Each program counts only this process (or its children).
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (system foreign) (rnrs bytevectors))

(harness-begin "lang" 'kernel)

(define me (getpid))
(define (tp-prog name fn target)
  (make-bpf-program `((name . ,name) (kind . tracepoint) (attach . ,target)
                      (source . ,fn) (constants . ((me . ,me))))))
(define (printed proc . args)
  (call-with-output-string (lambda (port) (apply proc (append args (list port))))))

;; read(2) straight from libc: the tracepoints below see exactly these.
(define c-read
  (pointer->procedure ssize_t (dynamic-func "read" (dynamic-link))
                      (list int '* size_t)))
(define buf (bytevector->pointer (make-bytevector 256)))
(define (bad-reads n)
  ;; fd -1: read returns -EBADF.
  (do ((i 0 (+ i 1))) ((= i n)) (c-read -1 buf 16)))
(define (zero-reads n size)
  (let ((port (open-input-file "/dev/zero")))
    (do ((i 0 (+ i 1))) ((= i n)) (c-read (port->fdes port) buf size))
    (close-port port)))

;; ---- 1. signed values ----

(defbpf-map lang-ret-hist #:kind 'histogram)
(defbpf-map lang-ret-lhist #:kind 'histogram)
(bpf-fn exit-read-hist (ctx)
  (when (= (tid) (const me))
    (hist! lang-ret-hist (arg ctx 'ret))
    (lhist! lang-ret-lhist (retval ctx) 0 1000 100)))
(let ((p (tp-prog "lang-exit-read" exit-read-hist "syscalls:sys_exit_read")))
  (bpf-attach! p)
  (bad-reads 5)
  (zero-reads 3 100)
  (zero-reads 2 200)
  (bpf-unload! p))
(test-equal "hist!: negative returns (-EBADF) in the (..., 0) bucket"
  '(#f 0 5) (first (bpf-hist lang-ret-hist)))
(test-equal "hist!: 100-byte reads in [64, 128), 200-byte in [128, 256)"
  '((64 128 3) (128 256 2)) (take-right (bpf-hist lang-ret-hist) 2))
(test-assert "bpf-print-hist prints the negative bucket as bpftrace"
  (string-contains (printed bpf-print-hist lang-ret-hist)
                   "\n(..., 0)               5 |"))
(test-equal "lhist!: below MIN in (..., 0), values in their steps"
  '((#f 0 5) (0 100 0) (100 200 3) (200 300 2))
  (bpf-hist lang-ret-lhist #:linear '(0 1000 100)))
(test-assert "lhist! printed (..., 0) as bpftrace"
  (string-prefix? "@lang-ret-lhist:\n(..., 0)               5 |"
                  (printed (lambda (port)
                             (bpf-print-hist lang-ret-lhist port
                                             #:linear '(0 1000 100))))))

;; Signed struct fields and map values keep their sign; an unsigned
;; value at or above MAX stays in [MAX, ...).
(defbpf-struct lang-sv (a i32) (b u32))
(defbpf-map lang-svals #:kind 'array #:key 'u32 #:value 'lang-sv #:max-entries 1)
(defbpf-map lang-i16 #:kind 'array #:key 'u32 #:value 'i16 #:max-entries 1)
(defbpf-map lang-sign-hist #:kind 'histogram #:key 'u32)
(defbpf-map lang-sign-lhist #:kind 'histogram)
(bpf-fn sign-probe (ctx)
  (when (= (tid) (const me))
    (let ((v (map-ref lang-svals 0)))
      (hist! lang-sign-hist 1 (lang-sv-a v))
      (hist! lang-sign-hist 2 (lang-sv-b v))
      (hist! lang-sign-hist 3 (map-ref lang-i16 0))
      (lhist! lang-sign-lhist (lang-sv-a v) 0 100 10))))
(bpf-map-set! lang-svals 0 (make-lang-sv #:a -7 #:b 4000000000))
(bpf-map-set! lang-i16 0 -300)
(let ((p (tp-prog "lang-sign" sign-probe "syscalls:sys_enter_getppid")))
  (bpf-attach! p)
  (getppid)
  (bpf-unload! p))
(test-equal "i32 struct field -7: negative bucket" '((#f 0 1))
            (bpf-hist lang-sign-hist 1))
(test-equal "u32 struct field 4e9: positive bucket" '((2147483648 4294967296 1))
            (bpf-hist lang-sign-hist 2))
(test-equal "i16 map value -300: negative bucket" '((#f 0 1))
            (bpf-hist lang-sign-hist 3))
(test-equal "lhist! of a signed field: below MIN" '(#f 0 1)
            (first (bpf-hist lang-sign-lhist #:linear '(0 100 10))))

;; ---- 4. typed kernel pointers in locals ----

(defbpf-map lang-task #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn task-local-probe (ctx)
  (when (= (tid) (const me))
    (let* ((t (current-task))
           (parent (core-read t 'real_parent)))
      (map-set! lang-task 0 (core-read t 'tgid))
      (map-set! lang-task 1 (core-read t 'real_parent 'tgid))
      (map-set! lang-task 2 (core-read parent 'tgid)))))
(let ((p (tp-prog "lang-task-local" task-local-probe "syscalls:sys_enter_getppid")))
  (bpf-attach! p)
  (getppid)
  (bpf-unload! p))
(test-equal "core-read of a local bound to (current-task)" me
            (bpf-map-ref lang-task 0))
(test-equal "(let ((t (current-task))) (core-read t 'real_parent 'tgid))"
            (getppid) (bpf-map-ref lang-task 1))
(test-equal "a local bound to a pointer-valued core-read keeps its type"
            (getppid) (bpf-map-ref lang-task 2))
(test-ebpf-error "core-read of an integer points at read-user"
  'ebpf-lower-error ("read-user")
  (bpf-fn->c (bpf-fn bad-core (ctx) (let ((p (arg ctx 0))) (core-read p 'x)))
             #:kind 'kprobe))

(harness-end)
