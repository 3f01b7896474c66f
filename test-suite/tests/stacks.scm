;;; stacks.scm --- stacks as map keys, symbols of addresses, and the
;;; include setup of C sources.

(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64)
             (ice-9 rdelim) (ice-9 popen) (ice-9 regex) (system foreign)
             (rnrs bytevectors))

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


;;; ------------------------------------------------------------------
;;; Host side: one address, one symbol.

(define (kallsyms-address name)
  (call-with-input-file "/proc/kallsyms"
    (lambda (port)
      (let lp ()
        (let ((line (read-line port)))
          (cond ((eof-object? line) #f)
                ((string-match (string-append "^([0-9a-f]+) [tT] " name "$")
                               line)
                 => (lambda (m) (string->number (match:substring m 1) 16)))
                (else (lp))))))))

(let ((vfs-read (kallsyms-address "vfs_read")))
  (test-assert "kallsyms lists vfs_read" (and vfs-read (> vfs-read 0)))
  (when vfs-read
    (test-equal "bpf-ksym: symbol+hex offset" "vfs_read+0x1a"
      (bpf-ksym (+ vfs-read #x1a)))
    (test-equal "bpf-ksym: the symbol's own address" "vfs_read"
      (bpf-ksym vfs-read))))
(test-equal "bpf-ksym: no symbol, the hex address" "0x10" (bpf-ksym #x10))

(let ((scm-cons (pointer-address (dynamic-func "scm_cons" (dynamic-link)))))
  (test-equal "bpf-usym: a function of this process" "scm_cons+0x1"
    (bpf-usym (getpid) (+ scm-cons 1)))
  (test-equal "bpf-usym: no mapping, the hex address" "0x10"
    (bpf-usym (getpid) #x10)))
(test-ebpf-error "bpf-ksym refuses a negative address"
  'ebpf-validation-error ("bad address") (bpf-ksym -1))
(test-ebpf-error "bpf-usym refuses a bad process id"
  'ebpf-validation-error ("bad process id") (bpf-usym 0 #x1000))

;;; ------------------------------------------------------------------
;;; Stacks as map keys, printed as bpftrace prints @[kstack].

(define calls 7)
(defbpf-map stacks-t-by-kstack #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries 1024)
(defbpf-map stacks-t-by-ustack #:kind 'hash #:key 'u64 #:value 'u64
  #:max-entries 1024)
(defbpf-map stacks-t-ids #:kind 'stack-trace #:max-entries 1024)
(defbpf-map stacks-t-by-id #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries 1024)
(bpf-fn stacks-t-count (ctx)
  (when (= (tgid) ,(getpid))
    (map-increment! stacks-t-by-kstack (kstack))
    (map-increment! stacks-t-by-ustack (ustack))
    (let ((id (stack-id ctx stacks-t-ids)))
      (when (>= id 0)
        (map-increment! stacks-t-by-id id)))))
(defbpf-program stacks-t-getppid
  #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source stacks-t-count #:license "GPL")

(bpf-attach! stacks-t-getppid)
(do ((i 0 (+ i 1))) ((= i calls)) (getppid))
(bpf-detach! stacks-t-getppid)

(define (printed m)
  (call-with-output-string (lambda (port) (bpf-print-map m port))))
(define (lines s) (filter (lambda (l) (not (string-null? l)))
                          (string-split s #\newline)))

(let* ((out (printed stacks-t-by-kstack))
       (ls (lines out)))
  (format #t "# ~a~%" (string-join ls "\n# "))
  (test-equal "kstack key: opens a block" "@stacks-t-by-kstack[" (car ls))
  (test-equal "kstack key: closes it with the count"
    (format #f "]: ~a" calls) (last ls))
  (test-assert "kstack key: one indented symbol+offset frame per line"
    (and (> (length ls) 2)
         (every (lambda (l) (string-match "^    [A-Za-z_][A-Za-z_0-9.]*\\+[0-9]+$" l))
                (drop-right (cdr ls) 1))))
  (test-assert "kstack key: the syscall entry is on the stack"
    (string-contains out "do_syscall_64+")))

(let* ((out (printed stacks-t-by-ustack))
       (ls (lines out)))
  (format #t "# ~a~%" (string-join ls "\n# "))
  (test-equal "ustack key: opens a block" "@stacks-t-by-ustack[" (car ls))
  (test-equal "ustack key: closes it with the count"
    (format #f "]: ~a" calls) (last ls))
  (test-assert "ustack key: the innermost frame is the C library's getppid"
    (string-match "^    getppid\\+[0-9]+$" (cadr ls))))

(test-equal "stack-id key through a local prints the same stack"
  (cdr (lines (printed stacks-t-by-kstack)))
  (cdr (lines (printed stacks-t-by-id))))
;; kstack and ustack fields of a struct key print as frames, beside
;; the other fields, the user stack named from its process's files.
(defbpf-struct stacks-t-key (pid u32) (k kstack) (u ustack))
(defbpf-map stacks-t-by-both #:kind 'hash #:key 'stacks-t-key #:value 'u64
  #:max-entries 1024)
(bpf-fn stacks-t-count-both (ctx)
  (when (= (tgid) ,(getpid))
    (map-increment! stacks-t-by-both
                    (make-stacks-t-key #:pid (tgid) #:k (kstack) #:u (ustack)))))
(defbpf-program stacks-t-getppid-both
  #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source stacks-t-count-both #:license "GPL")
(bpf-attach! stacks-t-getppid-both)
(do ((i 0 (+ i 1))) ((= i calls)) (getppid))
(bpf-unload! stacks-t-getppid-both)
(let* ((out (printed stacks-t-by-both))
       (ls (lines out))
       (kframes (cdr (lines (printed stacks-t-by-kstack)))))
  (format #t "# ~a~%" (string-join ls "\n# "))
  (test-equal "struct key: the plain field, then the kernel stack"
    (format #f "@stacks-t-by-both[~a," (getpid)) (car ls))
  (test-equal "struct key: kernel frames as for a kstack key"
    (drop-right kframes 1)
    (take (cdr ls) (- (length kframes) 1)))
  (test-assert "struct key: the user stack after a lone comma, getppid innermost"
    (let ((rest (member "," ls)))
      (and rest (string-match "^    getppid\\+[0-9]+$" (cadr rest)))))
  (test-equal "struct key: closes with the count"
    (format #f "]: ~a" calls) (last ls)))
(test-equal "kstack and ustack are a u32 and a u64 in a struct's layout"
  '((pid 0 4) (k 4 4) (u 8 8)) (bpf-struct-layout 'stacks-t-key))

(defbpf-map stacks-t-plain #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries 4)
(bpf-map-set! stacks-t-plain 3 9)
(test-equal "a map with other keys prints as before"
  "@stacks-t-plain[3]: 9\n" (printed stacks-t-plain))
(bpf-unload! stacks-t-getppid)

;;; Errors.

(defbpf-map stacks-t-small #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries 16)
(bpf-fn stacks-t-small-fn (ctx) (map-increment! stacks-t-small (ustack)))
(defbpf-program stacks-t-small-prog
  #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source stacks-t-small-fn #:license "GPL")
(test-ebpf-error "a (ustack) key needs 8 bytes"
  'ebpf-lower-error ("stacks-t-small" "#:key 'u64")
  (bpf-load! stacks-t-small-prog))

(bpf-fn stacks-t-xdp-fn (ctx)
  (map-increment! stacks-t-by-kstack (kstack))
  (return 'xdp-pass))
(defbpf-program stacks-t-xdp
  #:kind 'xdp #:attach "lo" #:source stacks-t-xdp-fn #:license "GPL")
(test-ebpf-error "(kstack) only in tracing programs"
  'ebpf-lower-error ("kstack") (bpf-load! stacks-t-xdp))

;;; ------------------------------------------------------------------
;;; examples/profile.scm on a CPU-bound child with a known function.

(define tmp (string-append "/tmp/gebpf-stacks-" (number->string (getpid))))
(unless (file-exists? tmp) (mkdir tmp))
(define spin (string-append tmp "/spin"))
(call-with-output-file (string-append spin ".c")
  (lambda (port)
    (display "volatile unsigned long sink;
__attribute__ ((noinline)) void spin_here (void) { for (;;) sink++; }
int main (void) { spin_here (); return 0; }
" port)))
(test-assert "the CPU-bound child compiles"
  (zero? (status:exit-val
          (system* (or (getenv "CC") "cc") "-O0" "-fno-omit-frame-pointer"
                   "-o" spin (string-append spin ".c")))))

(define (run-output . argv)
  ;; What ARGV printed (stdout and stderr) and its exit status.
  (let* ((port (open-pipe* OPEN_READ "sh" "-c"
                           (string-append
                            (string-join (map (lambda (a)
                                                (string-append "'" a "'"))
                                              argv)
                                         " ")
                            " 2>&1")))
         (out (read-string port))
         (status (close-pipe port)))
    (values out (status:exit-val status))))

(define (top-frames out)
  ;; The innermost frame (its function) of each stack key in OUT, as
  ;; bpftrace and bpf-print-map print them, with its count: ((FN . N) ...).
  (map (lambda (s) (cons (car (car s)) (cdr s))) (key-stacks out)))

(define (busiest-stack out)
  ;; The functions of the stack key with the most samples in OUT.
  (let ((stacks (key-stacks out)))
    (and (pair? stacks)
         (car (fold (lambda (a best) (if (> (cdr a) (cdr best)) a best))
                    (car stacks) stacks)))))

(define (key-stacks out)
  ;; Each stack key in OUT as the functions of its frames, with its
  ;; count: (((FN ...) . N) ...).
  (let lp ((ls (string-split out #\newline)) (acc '()))
    (cond ((or (null? ls) (null? (cdr ls))) (reverse acc))
          ((string-match "^@[A-Za-z_-]*\\[$" (car ls))
           (let* ((frames (take-while (lambda (l) (string-prefix? "    " l))
                                      (cdr ls)))
                  (rest (drop (cdr ls) (length frames)))
                  (count (and (pair? rest)
                              (string-match "^\\]: ([0-9]+)$" (car rest)))))
             (lp rest
                 (if (and (pair? frames) count)
                     (cons (cons (map (lambda (f)
                                        (car (string-split (string-trim f) #\+)))
                                      frames)
                                 (string->number (match:substring count 1)))
                           acc)
                     acc))))
          (else (lp (cdr ls) acc)))))

(define (busiest frames)
  ;; The function with the most samples in FRAMES ((FN . N) ...).
  (let ((totals (fold (lambda (f acc)
                        (let ((old (or (assoc-ref acc (car f)) 0)))
                          (assoc-set! (alist-copy acc) (car f) (+ old (cdr f)))))
                      '() frames)))
    (and (pair? totals)
         (car (fold (lambda (a best) (if (> (cdr a) (cdr best)) a best))
                    (car totals) totals)))))

(define profile-out
  (call-with-values
      (lambda ()
        (run-output "guile" "--no-auto-compile" "-s"
                    (string-append (srcdir) "/examples/profile.scm")
                    "--duration" "2" "--top" "5" "--" spin))
    (lambda (out status)
      (test-equal "profile.scm on the child exits 0" 0 status)
      (format #t "# ~a~%" (string-join (string-split out #\newline) "\n# "))
      out)))
(test-assert "profile: kernel stacks print as blocks"
  (string-match "(^|\n)@kernel\\[\n" profile-out))
(test-assert "profile: user keys print as symbolized frames"
  (string-match "(^|\n)@user\\[\n    spin_here\\+[0-9]+\n    main\\+[0-9]+\n"
                profile-out))
(define ours (top-frames (substring profile-out
                                    (or (string-contains profile-out "@user[")
                                        0))))
(test-equal "profile: the child's spin_here is its busiest function"
  "spin_here" (busiest ours))

;; bpftrace's profile of the same workload, when bpftrace is installed.
(define bpftrace (search-path (parse-path (getenv "PATH")) "bpftrace"))
(if (not bpftrace)
    (format #t "# bpftrace is not installed: no comparison with its profile~%")
    (let ((pid (primitive-fork)))
      (when (zero? pid)
        (catch #t (lambda () (execl spin spin)) (lambda _ (primitive-_exit 127))))
      (call-with-values
          (lambda ()
            (run-output "timeout" "-k" "10" "-s" "INT" "3" bpftrace "-e"
                        (format #f "profile:hz:99 /pid == ~a/ { @user[ustack] = count(); }"
                                pid)))
        (lambda (out status)
          (kill pid SIGTERM)
          (waitpid pid)
          (format #t "# bpftrace:~%# ~a~%"
                  (string-join (string-split out #\newline) "\n# "))
          (let ((theirs (top-frames out)))
            (test-assert "bpftrace: sampled the child" (pair? theirs))
            (test-equal "bpftrace and profile.scm agree on the busiest function"
              (busiest theirs) (busiest ours))
            (test-equal "... and on the frames of the busiest stack"
              (busiest-stack out)
              (busiest-stack (substring profile-out
                                        (or (string-contains profile-out "@user[")
                                            0))))
            (test-assert "bpftrace's top frames are among ours"
              (every (lambda (f) (assoc (car f) ours))
                     (filter (lambda (f) (string-prefix? "spin" (car f)))
                             theirs))))))))

(system* "rm" "-rf" tmp)

(harness-end)
