;;; Probes by name: uprobe targets through PATH and the dynamic linker's
;;; cache, symbols by version, #:pid, USDT probes of python3, one
;;; program on a list of targets with (probe) telling them apart, the
;;; xdp/tc target rule, and the threadsnoop and usdt-python examples
;;; (compared with bpftrace on the same workload when it is installed).
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 popen)
             (ice-9 rdelim) (ice-9 regex) (ice-9 format))

(harness-begin "probes" 'kernel)

(define python "/usr/bin/python3")
(define (decl . args)
  (make-bpf-program (let loop ((l args))
                      (if (null? l) '()
                          (cons (cons (keyword->symbol (car l)) (cadr l))
                                (loop (cddr l)))))))
(define (command-output . args)
  (let* ((p (apply open-pipe* OPEN_READ args))
         (out (read-string p)))
    (close-pipe p)
    out))

;; A python3 child that prints its pid, waits for a line on stdin, then
;; runs BODY: the probe is attached in between.
(define (spawn-python body)
  (let* ((child (open-pipe* OPEN_BOTH python "-c"
                            (string-append "import os, sys\n"
                                           "print(os.getpid(), flush=True)\n"
                                           "sys.stdin.readline()\n"
                                           body)))
         (pid (string->number (read-line child))))
    (cons pid child)))
(define (release-python! c)
  (write-line "go" (cdr c))
  (force-output (cdr c))
  (let ((out (read-string (cdr c))))
    (close-pipe (cdr c))
    out))

(test-assert "python3 is installed (the workload of these tests)"
             (file-exists? python))

;;; ---- xdp and tc need a target, in both spellings ---------------------

(test-ebpf-error "xdp with #:attach \"\"" 'ebpf-validation-error
                 ("xdp programs need a target" "\"\"")
                 (decl #:name "probes-x1" #:kind 'xdp #:attach "" #:source "x.bpf.o"))
(test-ebpf-error "tc with :attach (:target \"\")" 'ebpf-validation-error
                 ("tc programs need a target")
                 (make-bpf-program '((name . "probes-x2") (kind . :tc)
                                     (attach . (:target ""))
                                     (source . "x.bpf.o"))))
(test-ebpf-error "xdp with #:attach '(#:target \"\" #:mode native)"
                 'ebpf-validation-error ("xdp programs need a target")
                 (decl #:name "probes-x3" #:kind 'xdp
                       #:attach '(#:target "" #:mode native) #:source "x.bpf.o"))
(test-ebpf-error "tc without #:attach" 'ebpf-validation-error
                 ("tc programs need a target")
                 (decl #:name "probes-x4" #:kind 'tc #:source "x.bpf.o"))
(test-ebpf-error "xdp takes one target, not a list" 'ebpf-validation-error
                 ("take one target")
                 (decl #:name "probes-x5" #:kind 'xdp #:attach '("lo" "eth0")
                       #:source "x.bpf.o"))
(test-equal "a list of targets in the keyword spelling"
            '("syscalls:sys_enter_setuid" "syscalls:sys_enter_setgid")
            (bpf-program-target
             (make-bpf-program '((name . "probes-x8") (kind . :tracepoint)
                                 (attach . (:target ("syscalls:sys_enter_setuid"
                                                     "syscalls:sys_enter_setgid")))
                                 (source . "x.bpf.o")))))
(test-ebpf-error "an empty target in a list" 'ebpf-validation-error
                 ("empty target")
                 (decl #:name "probes-x9" #:kind 'uprobe #:attach '("libc:malloc" "")
                       #:source "x.bpf.o"))
(test-ebpf-error "#:pid is for uprobes and usdt" 'ebpf-validation-error
                 ("#:pid applies to")
                 (decl #:name "probes-x6" #:kind 'tracepoint
                       #:attach "syscalls:sys_enter_getpid" #:pid 1
                       #:source "x.bpf.o"))
(test-ebpf-error "#:pid must be a process id" 'ebpf-validation-error
                 ("bad #:pid")
                 (decl #:name "probes-x7" #:kind 'uprobe #:attach "libc:malloc"
                       #:pid "self" #:source "x.bpf.o"))

;;; ---- uprobe targets: binaries by name, symbols by version ------------

(define libc (car (bpf-resolve-uprobe "libc:malloc")))
(define (nm-address sym)
  ;; The address nm -D gives for SYM (as printed, e.g. "memcpy@@GLIBC_2.14").
  (let ((m (string-match (string-append "(^|\n)([0-9a-f]+) [TtiW] "
                                        (regexp-quote sym) "\n")
                         (command-output "nm" "-D" "--defined-only" libc))))
    (and m (string->number (match:substring m 2) 16))))

(test-assert "libc found through the dynamic linker's cache"
             (string-suffix? "/libc.so.6" libc))
(test-equal "c:getaddrinfo and libc.so.6:getaddrinfo land alike"
            (bpf-resolve-uprobe "c:getaddrinfo")
            (bpf-resolve-uprobe "libc.so.6:getaddrinfo"))
(test-equal "a full path lands alike"
            (bpf-resolve-uprobe "libc:getaddrinfo")
            (bpf-resolve-uprobe (string-append libc ":getaddrinfo")))
(test-equal "pthread_create: the default version, as nm shows it"
            (nm-address "pthread_create@@GLIBC_2.34")
            (cdr (bpf-resolve-uprobe "libc:pthread_create")))
;; memcpy has two versions at two addresses: the default is the one a
;; new link binds.
(test-equal "memcpy: the default version" (nm-address "memcpy@@GLIBC_2.14")
            (cdr (bpf-resolve-uprobe "libc:memcpy")))
(test-equal "memcpy@GLIBC_2.2.5 picks the old one" (nm-address "memcpy@GLIBC_2.2.5")
            (cdr (bpf-resolve-uprobe "libc:memcpy@GLIBC_2.2.5")))
(test-assert "the two memcpy versions differ"
             (not (equal? (bpf-resolve-uprobe "libc:memcpy")
                          (bpf-resolve-uprobe "libc:memcpy@GLIBC_2.2.5"))))
(test-equal "0xOFFSET is taken as it is" (cons libc #x1234)
            (bpf-resolve-uprobe "libc:0x1234"))
(test-assert "bash:readline: an executable found through PATH"
             (let ((r (bpf-resolve-uprobe "bash:readline")))
               (and (string-suffix? "/bash" (car r)) (> (cdr r) 0))))
;; A static function and a global one of one name (two translation
;; units): callers of the name reach the global one.
(let* ((temp (lambda (text)
               (let* ((port (mkstemp! (string-copy "/tmp/guile-ebpf-probes-XXXXXX")))
                      (file (port-filename port)))
                 (display text port)
                 (close-port port)
                 file)))
       (a (temp "static int __attribute__((noinline)) foo (int x) { return x * 3; }\nint call_static (int x) { return foo (x); }\n"))
       (b (temp "int __attribute__((noinline)) foo (int x) { return x + 1; }\nint call_static (int);\nint main (int c, char **v) { return foo (c) + call_static (c); }\n"))
       (prog (temp ""))
       (built (zero? (status:exit-val
                      (system* "clang" "-O1" "-o" prog "-x" "c" a "-x" "c" b))))
       (global (and built
                    (let ((m (string-match "(^|\n)([0-9a-f]+) T foo\n"
                                           (command-output "nm" prog))))
                      (and m (string->number (match:substring m 2) 16))))))
  (test-assert "clang builds the two-foo program" (and built global))
  (test-equal "of a static and a global foo, the global one" (cons prog global)
              (bpf-resolve-uprobe (string-append prog ":foo")))
  (for-each delete-file (list a b prog)))
(test-ebpf-error "a missing library is named as such" 'ebpf-attach-error
                 ("no library or executable named libnope-guile-ebpf"
                  "dynamic linker's cache")
                 (bpf-resolve-uprobe "libnope-guile-ebpf:getaddrinfo"))
(test-ebpf-error "a missing symbol is named as such" 'ebpf-attach-error
                 ("defines no function no_such_fn_guile_ebpf" "libc.so.6")
                 (bpf-resolve-uprobe "libc:no_such_fn_guile_ebpf"))
(test-ebpf-error "a missing version lists the versions" 'ebpf-attach-error
                 ("no version GLIBC_9 of pthread_create" "pthread_create@@GLIBC_2.34")
                 (bpf-resolve-uprobe "libc:pthread_create@GLIBC_9"))
(test-ebpf-error "a missing path" 'ebpf-attach-error ("no binary /nonexistent/guile-ebpf")
                 (bpf-resolve-uprobe "/nonexistent/guile-ebpf:main"))

;;; ---- a uprobe by library name, limited to one process -----------------

(defbpf-map probes-ucount #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 4)
(bpf-fn probes-count-call (ctx) (map-increment! probes-ucount 0))

(let* ((c (spawn-python "for _ in range(9): os.getppid()\n"))
       (p (decl #:name "probes-getppid" #:kind 'uprobe #:attach "libc:getppid"
                #:pid (car c) #:source probes-count-call)))
  (bpf-attach! p)
  (test-equal "probe spelled as bpf-list-probes"
              (vector (string-append "uprobe:" libc ":getppid"))
              (bpf-probe-names p))
  (getppid) (getppid)                   ; this process: not counted
  (release-python! c)
  (bpf-unload! p)
  (test-equal "uprobe libc:getppid #:pid counts the child's 9 calls only"
              9 (bpf-map-ref probes-ucount 0)))

(test-ebpf-error "attaching to a missing symbol" 'ebpf-attach-error
                 ("defines no function no_such_fn_guile_ebpf")
                 (bpf-attach! (decl #:name "probes-missing" #:kind 'uprobe
                                    #:attach "libc:no_such_fn_guile_ebpf"
                                    #:source probes-count-call)))
(test-assert "a failed attach leaves the program unloaded"
             (not (bpf-program-loaded? "probes-missing")))

(defbpf-map probes-uprobe-hits #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(bpf-fn probes-count-probe (ctx) (map-increment! probes-uprobe-hits (probe)))
(let* ((c (spawn-python (string-append "for _ in range(4): os.getppid()\n"
                                       "for _ in range(3): os.getpgid(0)\n")))
       (p (decl #:name "probes-uprobe-list" #:kind 'uprobe
                #:attach '("libc:getppid" "libc:getpgi*")
                #:pid (car c) #:source probes-count-probe)))
  (bpf-attach! p)
  (release-python! c)
  (bpf-unload! p)
  (test-equal "a uprobe list with a symbol glob, counted by (probe)"
              `((,(string-append "uprobe:" libc ":getppid") . 4)
                (,(string-append "uprobe:" libc ":getpgid") . 3))
              (map (lambda (i) (cons (bpf-probe-name p i)
                                     (bpf-map-ref probes-uprobe-hits i)))
                   (iota (vector-length (bpf-probe-names p))))))
(test-ebpf-error "a symbol glob that matches nothing" 'ebpf-attach-error
                 ("no function of libc matches")
                 (bpf-attach! (decl #:name "probes-uprobe-noglob" #:kind 'uprobe
                                    #:attach "libc:no_such_guile_ebpf_*"
                                    #:source probes-count-probe)))

(define bpftrace
  (and (zero? (status:exit-val (system "command -v bpftrace >/dev/null 2>&1")))
       "bpftrace"))
(unless bpftrace
  (format #t "# bpftrace is not installed: no comparison with it~%"))

(define (bpftrace-output program python-source)
  ;; What bpftrace printed after it ran PROGRAM with -c python3 on a
  ;; file holding PYTHON-SOURCE.
  (let* ((port (mkstemp! (string-copy "/tmp/guile-ebpf-probes-XXXXXX")))
         (file (port-filename port)))
    (display python-source port)
    (close-port port)
    (let ((out (command-output "sh" "-c"
                               (format #f "~a -e '~a' -c '~a ~a' 2>/dev/null"
                                       bpftrace program python file))))
      (delete-file file)
      out)))

(define (bpftrace-count program python-source)
  ;; The value of @.
  (let ((m (string-match "@: ([0-9]+)" (bpftrace-output program python-source))))
    (and m (string->number (match:substring m 1)))))

(define (bpftrace-map program python-source)
  ;; The entries of @[KEY], as ((KEY . COUNT) ...) sorted by key.
  (sort (map (lambda (m) (cons (match:substring m 1)
                               (string->number (match:substring m 2))))
             (list-matches "@\\[([^]\n]+)\\]: ([0-9]+)"
                           (bpftrace-output program python-source)))
        (lambda (a b) (string<? (car a) (car b)))))


;;; ---- one program, several targets: setuids -----------------------------

(defbpf-map probes-by-probe #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 16)
(bpf-fn probes-setuids (ctx)
  (when (= (tgid) (const child))
    (map-increment! probes-by-probe (probe))))

(define setuids-workload
  (string-append "import os\n"
                 "for _ in range(3): os.setuid(0)\n"
                 "for _ in range(2): os.setgid(0)\n"
                 "os.setresuid(0, 0, 0)\n"
                 "for _ in range(4): os.setresgid(0, 0, 0)\n"))
(define setuids-counts
  '(("tracepoint:syscalls:sys_enter_setuid" . 3)
    ("tracepoint:syscalls:sys_enter_setgid" . 2)
    ("tracepoint:syscalls:sys_enter_setresgid" . 4)
    ("tracepoint:syscalls:sys_enter_setresuid" . 1)))
(let* ((c (spawn-python setuids-workload))
       (p (decl #:name "probes-setuids" #:kind 'tracepoint
                #:attach '("syscalls:sys_enter_setuid" "syscalls/sys_enter_setgid"
                           "syscalls:sys_enter_setres*id")
                #:source probes-setuids #:constants `((child . ,(car c))))))
  (bpf-attach! p)
  (release-python! c)
  (bpf-unload! p)
  (let ((names (vector->list (bpf-probe-names p))))
    (test-equal "a list with a glob: every target, in order"
                '("tracepoint:syscalls:sys_enter_setuid"
                  "tracepoint:syscalls:sys_enter_setgid"
                  "tracepoint:syscalls:sys_enter_setresgid"
                  "tracepoint:syscalls:sys_enter_setresuid")
                names)
    (test-equal "(probe) indexes the whole list: exact counts by probe"
                setuids-counts
                (map (lambda (i) (cons (bpf-probe-name p i)
                                       (bpf-map-ref probes-by-probe i)))
                     (iota (length names))))))
(when bpftrace
  (test-equal "bpftrace: the same probes, spelled alike, the same counts"
              (sort setuids-counts (lambda (a b) (string<? (car a) (car b))))
              (bpftrace-map (string-append
                             "tracepoint:syscalls:sys_enter_setuid,"
                             "tracepoint:syscalls:sys_enter_setgid,"
                             "tracepoint:syscalls:sys_enter_setres*id "
                             "/pid == cpid/ { @[probe] = count(); }")
                            setuids-workload)))

;; Fields of a list of tracepoints: read from each, at one offset.
(defbpf-map probes-uids #:kind 'hash #:key 'u64 #:value 'u64 #:max-entries 16)
(bpf-fn probes-uid-arg (ctx)
  (when (= (tgid) (const child))
    (map-increment! probes-uids (arg ctx 'uid))))
(let* ((c (spawn-python "os.setuid(0)\nos.seteuid(0)\nos.setuid(0)\n"))
       (p (decl #:name "probes-uid-arg" #:kind 'tracepoint
                #:attach '("syscalls:sys_enter_setuid" "syscalls:sys_enter_setfsuid")
                #:source probes-uid-arg #:constants `((child . ,(car c))))))
  (bpf-attach! p)
  (release-python! c)
  (bpf-unload! p)
  (test-equal "(arg ctx 'uid) over a list of tracepoints" 2
              (bpf-map-ref probes-uids 0)))
(test-ebpf-error "a list target that matches nothing" 'ebpf-attach-error
                 ("no tracepoint matches")
                 (bpf-attach! (decl #:name "probes-nomatch" #:kind 'tracepoint
                                    #:attach '("syscalls:sys_enter_setuid"
                                               "nosuch:guile_ebpf_*")
                                    #:source probes-count-call)))

;;; ---- USDT: python3's function__entry ---------------------------------

(defbpf-map probes-pycalls #:kind 'hash #:key '(string 32) #:value 'u64
  #:max-entries 1024)
(bpf-fn probes-py-entry (ctx)
  (map-increment! probes-pycalls (read-user-str (usdt-arg ctx 1) 32)))

(let* ((c (spawn-python (string-append
                         "def guile_ebpf_probe_fn(): pass\n"
                         "sys.setprofile(lambda *a: None)\n"
                         "for _ in range(37): guile_ebpf_probe_fn()\n"
                         "sys.setprofile(None)\n")))
       (p (decl #:name "probes-usdt" #:kind 'usdt
                #:attach (string-append python ":python:function__entry")
                #:pid (car c) #:source probes-py-entry)))
  (bpf-attach! p)
  (test-equal "usdt probe spelled as bpf-list-probes"
              (string-append "usdt:" python ":python:function__entry")
              (bpf-probe-name p 0))
  (release-python! c)
  (bpf-unload! p)
  (test-equal "usdt: 37 entries of the function, through the semaphore"
              37 (bpf-map-ref probes-pycalls "guile_ebpf_probe_fn")))

;; Without #:pid: every process, started before or after the attach.
(bpf-map-clear! probes-pycalls)
(let ((p (decl #:name "probes-usdt-all" #:kind 'usdt
               #:attach (string-append python ":python:function__entry")
               #:source probes-py-entry)))
  (bpf-attach! p)
  (system* python "-c" (string-append
                        "import sys\n"
                        "def guile_ebpf_probe_all(): pass\n"
                        "sys.setprofile(lambda *a: None)\n"
                        "for _ in range(8): guile_ebpf_probe_all()\n"))
  (bpf-unload! p)
  (test-equal "usdt without #:pid: a process started after the attach" 8
              (bpf-map-ref probes-pycalls "guile_ebpf_probe_all")))

;; Entry and return in one program: (probe) is libbpf's USDT cookie.
(defbpf-map probes-py-entries #:kind 'hash #:key '(string 32) #:value 'u64
  #:max-entries 1024)
(defbpf-map probes-py-returns #:kind 'hash #:key '(string 32) #:value 'u64
  #:max-entries 1024)
(bpf-fn probes-py-both (ctx)
  (let ((name (read-user-str (usdt-arg ctx 1) 32)))
    (if (= (probe) 0)
        (map-increment! probes-py-entries name)
        (map-increment! probes-py-returns name))))
(define (py-calls n)
  (string-append "def guile_ebpf_probe_fn(): pass\n"
                 "sys.setprofile(lambda *a: None)\n"
                 "for _ in range(" (number->string n) "): guile_ebpf_probe_fn()\n"
                 "sys.setprofile(None)\n"))
(let* ((c (spawn-python (py-calls 12)))
       (p (decl #:name "probes-usdt-both" #:kind 'usdt
                #:attach (list (string-append python ":python:function__entry")
                               (string-append python ":python:function__return"))
                #:pid (car c) #:source probes-py-both)))
  (bpf-attach! p)
  (release-python! c)
  (bpf-unload! p)
  (test-equal "usdt list: (probe) tells entry from return"
              '(12 12)
              (list (bpf-map-ref probes-py-entries "guile_ebpf_probe_fn")
                    (bpf-map-ref probes-py-returns "guile_ebpf_probe_fn"))))

;; Re-declaring an attached usdt program swaps the new version in.
(bpf-fn probes-py-entry-2 (ctx)
  (map-increment! probes-pycalls (read-user-str (usdt-arg ctx 0) 32)))
(bpf-map-clear! probes-pycalls)
(let* ((c (spawn-python (py-calls 5)))
       (declare (lambda (fn)
                  (decl #:name "probes-usdt-swap" #:kind 'usdt
                        #:attach (string-append python ":python:function__entry")
                        #:pid (car c) #:source fn))))
  (bpf-attach! (declare probes-py-entry))
  (let ((p (declare probes-py-entry-2)))
    (test-assert "the swapped usdt program is attached" (bpf-program-attached? p))
    (release-python! c)
    (bpf-unload! p)
    ;; Version 2 counts by file name (argument 0): "<string>" for -c.
    (test-equal "the new version counts, the old one no more" '(#f 5)
                (list (bpf-map-ref probes-pycalls "guile_ebpf_probe_fn")
                      (bpf-map-ref probes-pycalls "<string>")))))

(test-ebpf-error "usdt-arg outside usdt programs" 'ebpf-lower-error
                 ("usdt-arg" "usdt programs")
                 (bpf-fn->c probes-py-entry #:kind 'uprobe))
(test-ebpf-error "a missing USDT probe" 'ebpf-attach-error
                 ("has no USDT probe python:no_such_probe")
                 (bpf-attach! (decl #:name "probes-usdt-missing" #:kind 'usdt
                                    #:attach (string-append python ":python:no_such_probe")
                                    #:source probes-py-entry)))
(test-ebpf-error "a malformed usdt target" 'ebpf-validation-error
                 ("bad usdt target")
                 (bpf-attach! (decl #:name "probes-usdt-bad" #:kind 'usdt
                                    #:attach "python3:function__entry"
                                    #:source probes-py-entry)))

;;; ---- #:pid of a process that is gone --------------------------------------

(define gone (let ((pid (primitive-fork)))
               (if (zero? pid)
                   (primitive-_exit 0)
                   (begin (waitpid pid) pid))))
(test-ebpf-error "uprobe #:pid of no process" 'ebpf-attach-error
                 ("no process" "libc:getppid")
                 (bpf-attach! (decl #:name "probes-gone-u" #:kind 'uprobe
                                    #:attach "libc:getppid" #:pid gone
                                    #:source probes-count-call)))
(test-ebpf-error "usdt #:pid of no process" 'ebpf-attach-error
                 ("no process")
                 (bpf-attach! (decl #:name "probes-gone-usdt" #:kind 'usdt
                                    #:attach (string-append python ":python:function__entry")
                                    #:pid gone #:source probes-py-entry)))
(test-assert "nothing stays loaded after the refused attaches"
             (not (or (bpf-program-loaded? "probes-gone-u")
                      (bpf-program-loaded? "probes-gone-usdt"))))

;;; ---- the examples, and bpftrace on the same workload -------------------

(define (run-example file . args)
  (let* ((p (apply open-pipe* OPEN_READ "sh" "-c"
                   (format #f "guile --no-auto-compile -s ~a/examples/~a~{ ~a~} 2>&1"
                           (srcdir) file args)
                   '()))
         (out (read-string p))
         (status (close-pipe p)))
    (unless (eqv? 0 (status:exit-val status))
      (format #t "# ~a exited ~a:~%~a~%" file (status:exit-val status) out))
    (cons (status:exit-val status) out)))

(let* ((r (run-example "threadsnoop.scm" "--threads" "6"))
       (m (string-match "python3 \\(pid ([0-9]+)\\) created ([0-9]+) threads" (cdr r))))
  (test-equal "threadsnoop exits 0" 0 (car r))
  (test-assert "threadsnoop: one line per thread, python3's"
               (and m (= 6 (length (filter (lambda (l)
                                             (string-match (string-append "^[0-9]+ +"
                                                                          (match:substring m 1)
                                                                          " +python3 ")
                                                           l))
                                           (string-split (cdr r) #\newline))))))
  (test-equal "threadsnoop: libc:pthread_create seen 6 times" "6"
              (and m (match:substring m 2)))
  (when bpftrace
    (test-equal "bpftrace counts the same pthread_create calls" 6
                (bpftrace-count
                 (format #f "uprobe:~a:pthread_create /pid == cpid/ { @ = count(); }" libc)
                 "import threading\nts = [threading.Thread(target=int) for _ in range(6)]\nfor t in ts: t.start()\nfor t in ts: t.join()\n"))))

(let ((r (run-example "usdt-python.scm" "--calls" "41")))
  (test-equal "usdt-python exits 0" 0 (car r))
  (test-assert "usdt-python: 41 calls of the workload's function"
               (string-contains (cdr r) "@[guile_ebpf_demo_fn]: 41"))
  (when bpftrace
    (test-equal "bpftrace counts the same function entries" 41
                (bpftrace-count
                 (format #f "usdt:~a:python:function__entry /pid == cpid && str(arg1) == \"guile_ebpf_demo_fn\"/ { @ = count(); }" python)
                 "import sys\ndef guile_ebpf_demo_fn(): pass\nsys.setprofile(lambda *a: None)\nfor _ in range(41): guile_ebpf_demo_fn()\nsys.setprofile(None)\n"))))

;; Tracepoint fields are the kernel model's reading of the format file
;; (kernel/tracefs.c, the parser the lowering uses), types as bpftrace -lv
;; shows them: a __data_loc string keeps its name.
(let ((fields (assq-ref (bpf-probe-info "tracepoint:sched:sched_process_exec")
                        'fields)))
  (test-assert "probe info: a __data_loc field keeps its name and type"
               (member '("__data_loc char[]" . "filename") fields))
  (test-assert "probe info: a plain field"
               (member '("pid_t" . "pid") fields))
  (test-assert "probe info: no common_ fields"
               (not (any (lambda (f) (string-prefix? "common_" (cdr f))) fields))))
(test-assert "probe info: an array field's type keeps its bounds"
             (member '("char [16]" . "prev_comm")
                     (assq-ref (bpf-probe-info "tracepoint:sched:sched_switch")
                               'fields)))
(test-equal "probe info: a tracepoint name leaving its category has no fields"
            '() (assq-ref (bpf-probe-info "tracepoint:sched:../sched/sched_switch")
                          'fields))

(harness-end)
