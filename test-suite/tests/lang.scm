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

;; A system call's int argument, stored as a long in the record (size 8,
;; signed 0), is read as its declared type: openat's dfd is AT_FDCWD.
(defbpf-map lang-dfd #:kind 'array #:key 'u32 #:value 'i64 #:max-entries 2)
(bpf-fn dfd-probe (ctx)
  (when (= (tid) (const me))
    (map-set! lang-dfd 0 (arg ctx 'dfd))
    (when (< (arg ctx 'dfd) 0) (map-set! lang-dfd 1 1))))
(let ((p (tp-prog "lang-dfd" dfd-probe "syscalls:sys_enter_openat")))
  (bpf-attach! p)
  (call-with-input-file "/etc/hostname" (lambda (port) #t))
  (bpf-unload! p))
(test-equal "int dfd of sys_enter_openat (a long in the record) is -100, and < 0"
            '(-100 1) (list (bpf-map-ref lang-dfd 0) (bpf-map-ref lang-dfd 1)))

;; ---- 4. typed kernel pointers in locals ----

(defbpf-map lang-task #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn task-local-probe (ctx)
  (when (= (tid) (const me))
    (let* ((t (current-task))
           (parent (core-read t 'real_parent)))
      (map-set! lang-task 0 (core-read t 'tgid))
      (map-set! lang-task 1 (core-read t 'real_parent 'tgid))
      (map-set! lang-task 2 (core-read parent 'tgid))
      ;; Through a nested let and a cond, the type still follows.
      (let ((p2 (cond ((= (tgid) 0) (let ((u (current-task))) u))
                      (else (core-read t 'real_parent)))))
        (map-set! lang-task 3 (core-read p2 'tgid))))))
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
(test-equal "a kernel pointer through let and cond keeps its type"
            (getppid) (bpf-map-ref lang-task 3))
(test-ebpf-error "core-read of an integer points at read-user"
  'ebpf-lower-error ("read-user")
  (bpf-fn->c (bpf-fn bad-core (ctx) (let ((p (arg ctx 0))) (core-read p 'x)))
             #:kind 'kprobe))

;; A field renamed between kernels (cfs_rq's nr_running became
;; nr_queued in 6.14) is written as the list of its names: the first
;; this kernel has is read.
(defbpf-map lang-renamed #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(bpf-fn renamed-field-probe (ctx)
  (when (= (tid) (const me))
    (map-set! lang-renamed 0 (core-read (current-task) '(no_such_pid tgid)))
    (map-set! lang-renamed 1
              (+ 1 (core-read (current-task) 'se 'cfs_rq
                              '(nr_queued nr_running))))))
(let ((p (tp-prog "lang-renamed" renamed-field-probe
                  "syscalls:sys_enter_getppid")))
  (bpf-attach! p)
  (getppid)
  (bpf-unload! p))
(test-equal "core-read '(OLD NEW): the name this kernel has" me
            (bpf-map-ref lang-renamed 0))
(test-assert "core-read of cfs_rq's run-queue length under either name"
             (>= (bpf-map-ref lang-renamed 1) 1))
(test-ebpf-error "core-read '(A B) where the kernel has neither"
  'ebpf-lower-error ("none of the fields" "no_a|no_b")
  (bpf-fn->c (bpf-fn no-alt (ctx) (core-read (current-task) '(no_a no_b)))
             #:kind 'tracepoint #:target "syscalls/sys_enter_getppid"))
(test-ebpf-error "a missing field's hint shows the list of names"
  'ebpf-lower-error ("no field nr_gone" "'(nr_queued nr_running)")
  (bpf-fn->c (bpf-fn no-field (ctx) (core-read (current-task) 'nr_gone))
             #:kind 'tracepoint #:target "syscalls/sys_enter_getppid"))
(test-assert "core-read '(A B) survives the printed tree between passes"
  (let* ((f (bpf-fn alt-tree (ctx) (core-read (current-task) '(no_x tgid))))
         (tree (bpf-fn-ast f #:pass 'parse #:kind 'tracepoint
                           #:target "syscalls/sys_enter_getppid")))
    (string-contains (bpf-fn->c f #:kind 'tracepoint
                                #:target "syscalls/sys_enter_getppid"
                                #:ast tree #:from 'resolve)
                     "tgid")))

;; The pointer arguments of a BTF-typed target keep their struct:
;; sched_process_fork (struct task_struct *parent, *child) in tp-btf and
;; raw-tracepoint programs, read with core-read directly and through a
;; local.
(defbpf-map lang-forks #:kind 'hash #:key 'u32 #:value 'u32 #:max-entries 64)
(bpf-fn fork-probe (ctx)
  (let ((child (arg ctx 1)))
    (when (and (= (core-read (arg ctx 0) 'tgid) (const me))
               (string=? (core-read child 'comm) (comm)))
      (map-set! lang-forks 1 (core-read child 'pid)))))
(for-each
 (lambda (kind)
   (let ((p (make-bpf-program `((name . ,(format #f "lang-fork-~a" kind))
                                (kind . ,kind) (attach . "sched_process_fork")
                                (source . ,fork-probe)
                                (constants . ((me . ,me)))))))
     (bpf-attach! p)
     (let ((pid (primitive-fork)))
       (if (zero? pid)
           (primitive-_exit 0)
           (begin
             (waitpid pid)
             (bpf-unload! p)
             (test-equal (format #f "~a: (core-read (arg ctx 1) 'pid) of a BTF-typed argument" kind)
                         pid (bpf-map-ref lang-forks 1 #f))
             (bpf-map-clear! lang-forks))))))
 '(tp-btf raw-tracepoint))

;; Integer arguments of a BTF-typed target take size and sign from BTF:
;; sys_exit (struct pt_regs *regs, long ret) sees read(-1, ...) return
;; -EBADF, which is < 0 and prints as -9, in tp-btf and raw-tracepoint
;; programs.
(defbpf-map lang-btf-ret #:kind 'array #:key 'u32 #:value 'i64 #:max-entries 3)
(bpf-fn btf-exit-probe (ctx)
  (when (and (= (tid) (const me)) (< (arg ctx 1) 0))
    (map-set! lang-btf-ret 0 (arg ctx 1))
    (map-increment! lang-btf-ret 1)
    (when (> (arg ctx 1) -10)
      (map-increment! lang-btf-ret 2))))
(for-each
 (lambda (kind)
   (let ((p (make-bpf-program `((name . ,(format #f "lang-exit-~a" kind))
                                (kind . ,kind) (attach . "sys_exit")
                                (source . ,btf-exit-probe)
                                (constants . ((me . ,me)))))))
     (bpf-attach! p)
     (bad-reads 3)
     (bpf-unload! p)
     (test-equal (format #f "~a: sys_exit's long ret is signed: -EBADF < 0, > -10" kind)
                 (list (- EBADF) #t #t)
                 (list (bpf-map-ref lang-btf-ret 0)
                       (>= (bpf-map-ref lang-btf-ret 1) 3)
                       (= (bpf-map-ref lang-btf-ret 1) (bpf-map-ref lang-btf-ret 2))))
     (bpf-map-clear! lang-btf-ret)))
 '(tp-btf raw-tracepoint))
;; signal_generate (int sig, struct kernel_siginfo *info, ...): a 4-byte
;; int is truncated to 32 bits and sign-extended.
(test-assert "an int argument of a tp-btf target is read as a signed 32-bit"
  (string-contains
   (bpf-fn->c (bpf-fn sig-probe (ctx) (when (< (arg ctx 0) 0) (printk "x")))
              #:kind 'tp-btf #:target "signal_generate")
   "((__s64)(__s32)((__u64 *)ctx)[0])"))
;; The same in the C of kinds this kernel refuses to load or whose
;; arguments are narrower: fentry's int dfd, sched_switch's bool preempt
;; and unsigned int prev_state, error_report_end's enum (an unsigned
;; 4-byte integer).
(for-each
 (match-lambda
   ((kind target pos expect)
    (test-assert (format #f "~a ~a: argument ~a read as ~a" kind target pos expect)
      (string-contains
       (bpf-fn->c (if (= pos 0)
                      (bpf-fn int-probe0 (ctx) (map-set! lang-btf-ret 0 (arg ctx 0)))
                      (bpf-fn int-probe3 (ctx) (map-set! lang-btf-ret 0 (arg ctx 3))))
                  #:kind kind #:target target)
       expect))))
 '((fentry "do_sys_openat2" 0 "((__s64)(__s32)((__u64 *)ctx)[0])")
   (tp-btf "sched_switch" 0 "((__u64)(__u8)((__u64 *)ctx)[0])")
   (tp-btf "sched_switch" 3 "((__u64)(__u32)((__u64 *)ctx)[3])")
   (raw-tracepoint "error_report_end" 0 "((__u64)(__u32)ctx->args[0])")))
(test-ebpf-error "core-read of an integer argument (sys_enter's long id) points at read-user and core-cast"
  'ebpf-lower-error ("read-user" "(core-cast PTR 'sock)")
  (bpf-fn->c (bpf-fn bad-core2 (ctx) (core-read (arg ctx 1) 'pid))
             #:kind 'raw-tracepoint #:target "sys_enter"))

;; ---- 2. string comparisons ----

;; A copy of true named gebpf-lang-a: its comm, and a path only this
;; test uses.
(define dir (string-append "/tmp/gebpf-lang-" (number->string me)))
(define exe (string-append dir "/gebpf-lang-a"))
(unless (file-exists? dir) (mkdir dir))
(copy-file (if (file-exists? "/bin/true") "/bin/true" "/usr/bin/true") exe)
(chmod exe #o755)

(defbpf-map lang-str #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 16)
(defbpf-map lang-names #:kind 'array #:key 'u32 #:value '(string 16) #:max-entries 1)
(defbpf-struct lang-named (id u32) (name (string 16)))
(defbpf-map lang-named-map #:kind 'array #:key 'u32 #:value 'lang-named #:max-entries 1)
(bpf-fn exit-group-probe (ctx)
  (when (string=? (comm) "gebpf-lang-a") (map-increment! lang-str 0))
  (when (string-prefix? "gebpf-lang" (comm)) (map-increment! lang-str 1))
  (when (string=? (comm) "gebpf-lang") (map-increment! lang-str 2))
  (when (string=? "gebpf-lang-abcdefghij" (comm)) (map-increment! lang-str 3))
  (when (string=? (map-ref lang-names 0) (comm)) (map-increment! lang-str 4))
  (when (string-prefix? (comm) "gebpf-lang-a-and-more") (map-increment! lang-str 5))
  (when (string-prefix? "gebpf-lang-ab" (comm)) (map-increment! lang-str 6))
  (let ((named (map-get lang-named-map 0)))
    (when (and named (string=? (comm) (lang-named-name named)))
      (map-increment! lang-str 10))))
(bpf-fn execve-probe (ctx)
  (let ((path (read-user-str (arg ctx 'filename) 128)))
    (when (string-prefix? ,dir path) (map-increment! lang-str 7))
    (when (string=? path ,exe) (map-increment! lang-str 8))))
(bpf-fn exec-probe (ctx)
  (when (string=? (arg ctx 'filename) ,exe) (map-increment! lang-str 9)))
(bpf-map-set! lang-names 0 "gebpf-lang-a")
(bpf-map-set! lang-named-map 0 (make-lang-named #:id 1 #:name "gebpf-lang-a"))
(let ((ps (list (tp-prog "lang-exit-group" exit-group-probe
                         "syscalls:sys_enter_exit_group")
                (tp-prog "lang-execve" execve-probe "syscalls:sys_enter_execve")
                (tp-prog "lang-exec" exec-probe "sched:sched_process_exec"))))
  (for-each bpf-attach! ps)
  (do ((i 0 (+ i 1))) ((= i 3)) (system* exe))
  (for-each bpf-unload! ps))
(delete-file exe)
(rmdir dir)
(define (str-count i) (bpf-map-ref lang-str i))
(test-equal "(string=? (comm) \"NAME\") counts exactly the renamed child" 3
            (str-count 0))
(test-equal "string-prefix? of (comm)" 3 (str-count 1))
(test-equal "a prefix is not string=?" 0 (str-count 2))
(test-equal "a literal longer than comm's 16 bytes never matches" 0
            (str-count 3))
(test-equal "string=? of a (string 16) map value and (comm)" 3 (str-count 4))
(test-equal "string-prefix? with the value as the prefix of a literal" 3
            (str-count 5))
(test-equal "string-prefix? that does not match" 0 (str-count 6))
(test-equal "string-prefix? of a read-user-str local" 3 (str-count 7))
(test-equal "string=? of a read-user-str local and a literal" 3 (str-count 8))
(test-equal "string=? of a __data_loc tracepoint field" 3 (str-count 9))
(test-equal "string=? of a (string 16) struct field through map-get" 3
            (str-count 10))
(test-ebpf-error "string=? of an integer"
  'ebpf-lower-error ("string=? compares strings" "argument 2")
  (bpf-fn->c (bpf-fn bad-str (ctx) (string=? (comm) (pid)))
             #:kind 'tracepoint #:target "syscalls:sys_enter_getpid"))

;; ---- 3. user and kernel memory of any type ----

(defbpf-struct lang-rec (a u32) (b be16) (c i16) (d i64) (name (string 8)))
(define rec-bytes
  (let ((bv (make-bytevector 24 0)))
    (bytevector-u32-native-set! bv 0 #x11223344)
    (bytevector-u16-set! bv 4 #x1234 (endianness big))
    (bytevector-s16-native-set! bv 6 -2)
    (bytevector-s64-native-set! bv 8 -5000000000)
    (bytevector-copy! (string->utf8 "hello") 0 bv 16 5)
    bv))
(define c-write
  (pointer->procedure ssize_t (dynamic-func "write" (dynamic-link))
                      (list int '* size_t)))

(defbpf-map lang-mem #:kind 'array #:key 'u32 #:value 'i64 #:max-entries 16)
(defbpf-map lang-recs #:kind 'array #:key 'u32 #:value 'lang-rec #:max-entries 1)
(defbpf-map lang-s8 #:kind 'array #:key 'u32 #:value '(string 8) #:max-entries 2)
(defbpf-map lang-b4 #:kind 'array #:key 'u32 #:value '(bytes 4) #:max-entries 1)
(bpf-fn write-probe (ctx)
  ;; 24 bytes from this thread: the record above.
  (when (and (= (tid) (const me)) (= (arg ctx 'count) 24))
    (let* ((buf (arg ctx 'buf))
           (r (read-user buf 'lang-rec)))
      (map-set! lang-mem 0 (read-user buf 'u32))
      (map-set! lang-mem 1 (read-user (+ buf 4) 'be16))
      (map-set! lang-mem 2 (read-user (+ buf 6) 'i16))
      (map-set! lang-mem 3 (read-user (+ buf 8) 'i64))
      (map-set! lang-mem 4 (lang-rec-c r))
      (map-set! lang-mem 5 (lang-rec-b r))
      (map-set! lang-recs 0 r)
      (map-set! lang-s8 0 (read-user (+ buf 16) '(string 8)))
      (map-set! lang-b4 0 (read-user buf '(bytes 4)))
      ;; The executable's name, in kernel memory.
      (let ((name (core-read (current-task) 'mm 'exe_file 'f_path 'dentry
                             'd_name 'name)))
        (map-set! lang-s8 1 (read-kernel name '(string 8)))
        (map-set! lang-mem 6 (read-kernel name 'u8))))))
(let ((p (tp-prog "lang-write" write-probe "syscalls:sys_enter_write"))
      (null (open-output-file "/dev/null")))
  (bpf-attach! p)
  (c-write (port->fdes null) (bytevector->pointer rec-bytes) 24)
  (bpf-unload! p)
  (close-port null))
(test-equal "read-user 'u32" #x11223344 (bpf-map-ref lang-mem 0))
(test-equal "read-user 'be16 (host order)" #x1234 (bpf-map-ref lang-mem 1))
(test-equal "read-user 'i16 keeps its sign" -2 (bpf-map-ref lang-mem 2))
(test-equal "read-user 'i64 keeps its sign" -5000000000 (bpf-map-ref lang-mem 3))
(test-equal "read-user of a defbpf-struct, field by accessor" '(-2 #x1234)
            (list (bpf-map-ref lang-mem 4) (bpf-map-ref lang-mem 5)))
(test-equal "read-user of a defbpf-struct stored whole"
            '(#x11223344 #x1234 -2 -5000000000 "hello")
            (let ((r (bpf-map-ref lang-recs 0)))
              (list (lang-rec-a r) (lang-rec-b r) (lang-rec-c r) (lang-rec-d r)
                    (lang-rec-name r))))
(test-equal "read-user '(string 8)" "hello" (bpf-map-ref lang-s8 0))
(test-equal "read-user '(bytes 4)" (u8-list->bytevector (list-head (bytevector->u8-list rec-bytes) 4))
            (bpf-map-ref lang-b4 0))
(test-assert "read-kernel '(string 8) of a kernel char pointer"
             (string-prefix? "guile" (bpf-map-ref lang-s8 1)))
(test-equal "read-kernel 'u8" (char->integer #\g) (bpf-map-ref lang-mem 6))
(test-assert "read-user takes the type unquoted too"
  (string-contains
   (bpf-fn->c (bpf-fn unquoted-read (ctx) (read-user (arg ctx 0) (string 8)))
              #:kind 'kprobe)
   "bpf_probe_read_user (&"))
(test-ebpf-error "read-user of an unknown type"
  'ebpf-lower-error ("unknown type" "no-such-type")
  (bpf-fn->c (bpf-fn bad-read (ctx) (read-user (arg ctx 0) 'no-such-type))
             #:kind 'kprobe))
(test-ebpf-error "read-user needs a pointer"
  'ebpf-lower-error ("read-user needs a pointer")
  (bpf-fn->c (bpf-fn bad-read2 (ctx) (read-user (comm) 'u32)) #:kind 'kprobe))
(test-ebpf-error "read-user outside tracing programs"
  'ebpf-lower-error ("read-user")
  (bpf-fn->c (bpf-fn bad-read3 (ctx) (read-user 0 'u32)) #:kind 'xdp))

;; ---- 5. tracepoint address arrays as ipv4 / ipv6 values ----
;; sock:inet_sock_set_state has u8 saddr[4] and u8 saddr_v6[16]: their
;; bytes are addresses in network order, taken as they are by ipv4 and
;; ipv6 fields, keys and comparisons (tcplife, tcpstates).
(defbpf-struct lang-conn (family u16) (saddr ipv4) (daddr ipv4)
  (saddr6 ipv6) (daddr6 ipv6))
(defbpf-map lang-conns #:kind 'hash #:key 'u16 #:value 'lang-conn
  #:max-entries 64)
(defbpf-map lang-by-addr #:kind 'hash #:key 'ipv4 #:value 'u64
  #:max-entries 64)
(defbpf-map lang-by-addr6 #:kind 'hash #:key 'ipv6 #:value 'u64
  #:max-entries 64)
(defbpf-map lang-eq6 #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
;; skaddr is a const void *: core-cast says it is a struct sock.
(defbpf-map lang-cast #:kind 'hash #:key 'u16 #:value 'u64 #:max-entries 8)
(bpf-fn state-probe (ctx)
  (when (and (= (tgid) (const me)) (= (arg ctx 'newstate) 1))
    (map-set! lang-conns (arg ctx 'family)
              (make-lang-conn #:family (arg ctx 'family)
                              #:saddr (arg ctx 'saddr) #:daddr (arg ctx 'daddr)
                              #:saddr6 (arg ctx 'saddr_v6)
                              #:daddr6 (arg ctx 'daddr_v6)))
    (when (= (arg ctx 'daddr) (ipv4 "127.0.0.1"))
      (map-increment! lang-by-addr (arg ctx 'daddr)))
    (when (= (arg ctx 'family) 10)
      (map-increment! lang-by-addr6 (arg ctx 'daddr_v6))
      ;; u8 daddr_v6[16] compared with ipv6 constants, both ways round.
      (when (= (arg ctx 'daddr_v6) (ipv6 "::1"))
        (map-increment! lang-eq6 0))
      (when (= (ipv6 "::2") (arg ctx 'daddr_v6))
        (map-increment! lang-eq6 1))
      (when (!= (arg ctx 'saddr_v6) (ipv6 "::2"))
        (map-increment! lang-eq6 2))
      (when (= (arg ctx 'saddr_v6) (arg ctx 'daddr_v6))
        (map-increment! lang-eq6 3)))
    (let ((sk (core-cast (arg ctx 'skaddr) 'sock)))
      (map-set! lang-cast (arg ctx 'family)
                (core-read sk '__sk_common 'skc_family)))))
(define (connect-to-self family addr)
  (let ((l (socket family SOCK_STREAM 0))
        (c (socket family SOCK_STREAM 0)))
    (bind l family (inet-pton family addr) 0)
    (listen l 1)
    (connect c family (inet-pton family addr) (sockaddr:port (getsockname l)))
    (close-port (car (accept l)))
    (close-port c)
    (close-port l)))
(let ((p (tp-prog "lang-state" state-probe "sock:inet_sock_set_state")))
  (bpf-attach! p)
  (connect-to-self AF_INET "127.0.0.1")
  (connect-to-self AF_INET6 "::1")
  (bpf-unload! p))
(test-equal "u8 saddr[4] / daddr[4] fill ipv4 fields as they are"
            '("127.0.0.1" "127.0.0.1")
            (let ((c (bpf-map-ref lang-conns 2)))
              (list (lang-conn-saddr c) (lang-conn-daddr c))))
;; One or two ESTABLISHED changes per connection: the client's, and the
;; server's when the kernel runs it for this process.
(test-equal "u8 daddr[4] keys an ipv4 map and compares with (ipv4 ...)"
            '("127.0.0.1") (map car (bpf-map->alist lang-by-addr)))
(test-equal "u8 saddr_v6[16] / daddr_v6[16] fill ipv6 fields"
            '("::1" "::1")
            (let ((c (bpf-map-ref lang-conns 10)))
              (list (lang-conn-saddr6 c) (lang-conn-daddr6 c))))
(test-equal "core-cast of a tracepoint's void pointer to a kernel struct"
            '((2 . 2) (10 . 10))
            (sort (bpf-map->alist lang-cast) (lambda (a b) (< (car a) (car b)))))
;; tcp:tcp_retransmit_skb has u8 saddr[4] at offset 34 and daddr[4] at
;; 38, which a 4-byte context load may not read (the verifier refuses a
;; load whose size does not divide its offset): tcpretrans reads them.
;; SYNs to a listener whose accept queue is full are dropped and sent
;; again after a second.
(defbpf-map lang-rt-port #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(defbpf-map lang-rt #:kind 'hash #:key 'ipv4 #:value 'u64 #:max-entries 8)
(bpf-fn retrans-probe (ctx)
  (when (= (arg ctx 'dport) (map-ref lang-rt-port 0))
    (when (= (arg ctx 'saddr) (arg ctx 'daddr))
      (map-increment! lang-rt (arg ctx 'daddr)))))
(let ((p (tp-prog "lang-retrans" retrans-probe "tcp:tcp_retransmit_skb"))
      (l (socket AF_INET SOCK_STREAM 0)))
  (bind l AF_INET (inet-pton AF_INET "127.0.0.1") 0)
  (listen l 0)
  (bpf-map-set! lang-rt-port 0 (sockaddr:port (getsockname l)))
  (bpf-attach! p)
  (let ((cs (map (lambda (i)
                   (let ((c (socket AF_INET SOCK_STREAM 0)))
                     (fcntl c F_SETFL (logior O_NONBLOCK (fcntl c F_GETFL)))
                     (catch 'system-error
                       (lambda ()
                         (connect c AF_INET (inet-pton AF_INET "127.0.0.1")
                                  (sockaddr:port (getsockname l))))
                       (const #f))
                     c))
                 (iota 4))))
    (usleep 1600000)
    (for-each close-port cs))
  (close-port l)
  (bpf-unload! p))
(test-assert "u8 saddr[4] / daddr[4] at offsets 34 and 38 (tcp_retransmit_skb)"
  (match (bpf-map->alist lang-rt)
    ((("127.0.0.1" . n)) (> n 0))
    (x (format #t "# ~s~%" x) #f)))

(test-ebpf-error "core-cast to a struct the kernel does not have"
  'ebpf-lower-error ("no struct no_such_sock" "without the struct keyword")
  (bpf-fn->c (bpf-fn bad-cast (ctx) (core-read (core-cast (arg ctx 0) 'no_such_sock) 'x))
             #:kind 'kprobe #:target "do_sys_open"))
(test-ebpf-error "core-cast of a string"
  'ebpf-lower-error ("core-cast needs a pointer")
  (bpf-fn->c (bpf-fn bad-cast2 (ctx) (core-read (core-cast (comm) 'sock) 'x))
             #:kind 'kprobe #:target "do_sys_open"))
(test-equal "u8 daddr_v6[16] keys an ipv6 map"
            '("::1") (map car (bpf-map->alist lang-by-addr6)))
(test-assert "u8 daddr_v6[16] = and != (ipv6 ...): ::1 matches, ::2 does not"
             (let ((n (bpf-map-ref lang-eq6 0)))
               (and (> n 0) (zero? (bpf-map-ref lang-eq6 1))
                    (= n (bpf-map-ref lang-eq6 2)))))
(test-equal "u8 saddr_v6[16] = u8 daddr_v6[16]: ::1 to ::1"
            (bpf-map-ref lang-eq6 0) (bpf-map-ref lang-eq6 3))
(test-ebpf-error "< of a 16-byte address field and an ipv6"
  'ebpf-lower-error ("< orders only integers" "compare with = or !=")
  (bpf-fn->c (bpf-fn bad-lt6 (ctx) (< (arg ctx 'daddr_v6) (ipv6 "::1")))
             #:kind 'tracepoint #:target "sock/inet_sock_set_state"))

;; ---- 6. a field at different offsets in the probes of a list ----
;; filename is at offset 24 in sys_enter_openat (after dfd) and at 16 in
;; sys_enter_execve: each probe reads it at its own offset (bpftrace's
;; args.filename over several probes; statsnoop's stat calls).
(defbpf-map lang-paths #:kind 'hash #:key '(string 32) #:value 'u64
  #:max-entries 1024)
(bpf-fn paths-probe (ctx)
  (let ((name (read-user-str (arg ctx 'filename) 32)))
    (when (or (string=? name "/etc/hostname") (string=? name "/bin/true"))
      (map-increment! lang-paths name (+ 1 (probe))))))
(let ((p (make-bpf-program
          `((name . "lang-paths") (kind . tracepoint)
            (attach . ("syscalls:sys_enter_openat" "syscalls:sys_enter_execve"))
            (source . ,paths-probe)))))
  (bpf-attach! p)
  (call-with-input-file "/etc/hostname" (lambda (port) #t))
  (system* "/bin/true")
  (bpf-unload! p))
(test-ebpf-error "a tracepoint field of a target without its category"
  'ebpf-validation-error ("no category" "CATEGORY:NAME")
  (bpf-fn->c paths-probe #:kind 'tracepoint #:target "sys_enter_openat"))
(test-equal "openat's filename at 24, execve's at 16: each read at its own"
            '(1 2)
            (list (bpf-map-ref lang-paths "/etc/hostname" 0)
                  (bpf-map-ref lang-paths "/bin/true" 0)))

(harness-end)
