;;; No user string reaches generated C unchecked: attach targets are
;;; validated, file names in #line escaped, the license carried (and
;;; GPL-only helpers refused under another), user identifiers mangled.
;;; The kernel checks what the kernel decides: the license it recorded,
;;; and maps named like generated locals counting real events.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 match)
             (ice-9 rdelim) (rnrs bytevectors))

(harness-begin "safety-lower" 'kernel)

(define me (getpid))
(define (uniq s) (format #f "~a-~a" s me))

;; ---- targets: only what a section name holds ----
(bpf-fn tp-body (ctx) (printk "getpid") 0)

(define injected-target
  "syscalls/sys_enter_getpid\")\n#include \"/etc/passwd\"\n//")

(test-ebpf-error "injected tracepoint target refused before clang"
                 'ebpf-validation-error ("invalid tracepoint target" "quote")
                 (bpf-fn->c tp-body #:kind 'tracepoint #:target injected-target))
(test-ebpf-error "the same through defbpf-program and bpf-load!"
                 'ebpf-validation-error ("invalid tracepoint target")
                 (let ((p (make-bpf-program
                           `((name . ,(uniq "inj-tp")) (kind . tracepoint)
                             (attach . ,injected-target) (source . ,tp-body)))))
                   (bpf-load! p)))
(for-each
 (match-lambda
   ((kind target why)
    (test-ebpf-error (format #f "~a target ~s refused (~a)" kind target why)
                     'ebpf-validation-error ("invalid")
                     (bpf-fn->c tp-body #:kind kind #:target target))))
 '((kprobe "do_sys_open\"\n" "quote, newline")
   (kprobe "a b" "space")
   (fentry "x\\" "backslash")
   (tracepoint "syscalls/../../../etc" "dot-dot")
   (raw-tracepoint "" "empty")
   (lsm "file_open\t" "tab")))
(test-ebpf-error "an over-long target is refused, not truncated"
                 'ebpf-validation-error ("invalid" "bytes")
                 (bpf-fn->c tp-body #:kind 'kprobe #:target (make-string 300 #\a)))
(for-each
 (lambda (target)
   (test-assert (format #f "legitimate target ~s accepted" target)
     (string-contains (bpf-fn->c tp-body #:kind 'kprobe #:target target)
                      (string-append "SEC(\"kprobe/" target "\")"))))
 '("do_sys_open" "vfs_read+0x10" "finish_task_switch.isra.0"))
(test-assert "tracepoint colon spelling and globs stay accepted"
  (and (bpf-fn->c tp-body #:kind 'tracepoint #:target "syscalls:sys_enter_getpid")
       (bpf-fn->c tp-body #:kind 'tracepoint #:target "sched:sched_*")))

;; Random targets over every byte: refused, or pasted as they are (':'
;; as '/') and made only of section-name characters.
(define section-chars
  (string->char-set "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/+*?[]!@,"))
(define (random-target state)
  (list->string
   (map (lambda (_)
          (if (zero? (random 3 state))
              (integer->char (+ 1 (random 126 state)))
              (string-ref "abc_/.:" (random 7 state))))
        (iota (+ 1 (random 12 state))))))
(test-assert "500 random kprobe targets: refused or safe in SEC()"
  (let ((state (seed->random-state 11)))
    (every (lambda (i)
             (let ((t (random-target state)))
               (catch 'ebpf-validation-error
                 (lambda ()
                   (let ((c (bpf-fn->c tp-body #:kind 'kprobe #:target t)))
                     (or (and (string-every section-chars t)
                              (not (string-contains t ".."))
                              ;; ':' is written '/'; a glob or a list "A,B"
                              ;; leaves the bare section
                              (string-contains
                               c (if (string-any (char-set #\* #\? #\[ #\,) t)
                                     "SEC(\"kprobe\")"
                                     (string-append "SEC(\"kprobe/"
                                                    (string-map (lambda (ch) (if (char=? ch #\:) #\/ ch)) t)
                                                    "\")"))))
                         (begin (format #t "# unsafe target ~s accepted~%" t) #f))))
                 (lambda _ #t))))
           (iota 500))))

;; ---- file names in #line: escaped ----
(define dir (let ((d (format #f "/tmp/gebpf-safety-~a" me)))
              (unless (file-exists? d) (mkdir d))
              d))
(define hostile-file (string-append dir "/rel\"\n#error X\n.scm"))
(call-with-output-file hostile-file
  (lambda (port)
    (display "(use-modules (ebpf))\n(bpf-fn hostile (ctx)\n  (printk \"*/ \\\" \\\\ ok\")\n  0)\n" port)))
(define hostile
  (let ((m (make-fresh-user-module)))
    (module-use! m (resolve-interface '(ebpf)))
    (save-module-excursion
     (lambda () (set-current-module m) (load hostile-file)))
    (module-ref m 'hostile)))
(define hostile-c (bpf-fn->c hostile #:kind 'tracepoint
                             #:target "syscalls/sys_enter_getpid"))
(test-assert "#line carries the file name escaped"
  (string-contains hostile-c "#line 3 \"rel\\\"\\n#error X\\n.scm\""))
(test-assert "no line of the C is the injected directive"
  (not (member "#error X" (string-split hostile-c #\newline))))
(test-assert "the file with a hostile name builds (clang never sees #error)"
  (file-exists? (bpf-build-c hostile-c)))

;; ---- strings of the body: escaped in C, harmless in comments ----
(bpf-fn hostile-strings (ctx)
  (printk "*/ \" \\ ??/ #include </etc/passwd>\n// é %d" 1)
  (printk "end */ /* \\")
  0)
(define hs-c (bpf-fn->c hostile-strings #:kind 'tracepoint
                        #:target "syscalls/sys_enter_getpid"))
(test-assert "printk format written as an escaped C string"
  (string-contains hs-c "bpf_printk (\"*/ \\\" \\\\ \\?\\?/ #include </etc/passwd>\\n// \\303\\251 %d\""))
(test-assert "no comment of the C holds the form's */"
  (every (lambda (line)
           (or (not (string-prefix? "\t/* " line))
               (= (string-contains line "*/") (- (string-length line) 2))))
         (string-split hs-c #\newline)))
(test-assert "hostile strings build (clang sees only escaped strings)"
  (file-exists? (bpf-build-c hs-c)))

;; ---- the license ----
(bpf-fn lic-plain (ctx) 0)
(test-assert "the license section carries the declared license"
  (string-contains (bpf-fn->c lic-plain #:kind 'socket-filter
                              #:license "Proprietary")
                   "SEC(\"license\") = \"Proprietary\";"))
(test-assert "no SPDX line claims GPL for a proprietary program"
  (not (string-contains (bpf-fn->c lic-plain #:kind 'socket-filter
                                   #:license "Proprietary")
                        "SPDX")))
(test-assert "a license with a quote is escaped in C"
  (string-contains (bpf-fn->c lic-plain #:kind 'socket-filter
                              #:license "X\"; int y = 1; //")
                   "= \"X\\\"; int y = 1; //\";"))
(test-ebpf-error "a license with a newline is refused"
                 'ebpf-validation-error ("invalid license")
                 (bpf-fn->c lic-plain #:kind 'socket-filter #:license "GPL\n"))
(test-ebpf-error "defbpf-program refuses a license that is not printable ASCII"
                 'ebpf-validation-error ("#:license")
                 (make-bpf-program `((name . ,(uniq "lic-nl")) (kind . xdp)
                                     (attach . "lo") (source . ,lic-plain)
                                     (license . "GPL\n"))))
(for-each
 (lambda (lic)
   (test-assert (format #f "GPL-compatible ~s lets printk through" lic)
     (string-contains (bpf-fn->c tp-body #:kind 'tracepoint
                                 #:target "syscalls/sys_enter_getpid"
                                 #:license lic)
                      "bpf_printk")))
 '("GPL" "GPL v2" "GPL and additional rights" "Dual BSD/GPL" "Dual MIT/GPL"
   "Dual MPL/GPL"))

(test-ebpf-error "printk under Proprietary: refused, naming helper and license"
                 'ebpf-validation-error ("bpf_trace_printk" "Proprietary"
                                         "GPL-only")
                 (bpf-fn->c tp-body #:kind 'tracepoint
                            #:target "syscalls/sys_enter_getpid"
                            #:license "Proprietary"))
(bpf-fn lic-task (ctx) (core-read (current-task) 'tgid))
(test-ebpf-error "core-read of current-task under BSD: a GPL-only helper"
                 'ebpf-validation-error ("GPL-only helper bpf_" "BSD")
                 (bpf-fn->c lic-task #:kind 'tracepoint
                            #:target "syscalls/sys_enter_getpid"
                            #:license "BSD"))
(define prop-printk
  (make-bpf-program `((name . ,(uniq "lic-printk")) (kind . tracepoint)
                      (attach . "syscalls/sys_enter_getpid")
                      (source . ,tp-body) (license . "Proprietary"))))
(test-ebpf-error "bpf-load! of a Proprietary program using printk: refused by the lowering"
                 'ebpf-validation-error ("bpf_trace_printk" "Proprietary")
                 (bpf-load! prop-printk))
(test-assert "... and nothing was loaded" (not (bpf-program-loaded? prop-printk)))

(define (loaded-info p)
  (bpf-object-info ((@@ (ebpf deploy) program-object) p)))
(define prop
  (make-bpf-program `((name . ,(uniq "lic-prop")) (kind . socket-filter)
                      (source . ,lic-plain) (license . "Proprietary"))))
(bpf-load! prop)
(test-equal "the kernel records a Proprietary program as not GPL-compatible"
  #f (assq-ref (loaded-info prop) 'gpl-compatible))
(bpf-unload! prop)
(define gpl
  (make-bpf-program `((name . ,(uniq "lic-gpl")) (kind . socket-filter)
                      (source . ,lic-plain) (license . "Dual MIT/GPL"))))
(bpf-load! gpl)
(test-equal "... and a Dual MIT/GPL one as GPL-compatible"
  #t (assq-ref (loaded-info gpl) 'gpl-compatible))
(bpf-unload! gpl)

;; ---- user identifiers are mangled: u_NAME never meets a C name ----
(defbpf-map v0 #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-map ctx #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-struct kw (int u32) (return u64))
(defbpf-map kws #:kind 'hash #:key 'u32 #:value 'kw #:max-entries 4)
(bpf-fn names-collide (c)
  (when (= (pid) (const __u64))
    (let ((__k0 3) (__v0 4) (u_v0 0))
      (map-increment! v0 u_v0)
      (map-set! ctx 1 (+ __k0 __v0))
      (map-set! kws 0 (make-kw #:int (const return) #:return 7)))))
(define collide-c (bpf-fn->c names-collide #:kind 'tracepoint
                             #:target "syscalls/sys_enter_getpid"))
(for-each
 (lambda (frag)
   (test-assert (format #f "C has ~s" frag) (string-contains collide-c frag)))
 '("} u_v0 __asm__ (\"v0\") SEC(\".maps\");" "} u_ctx __asm__ (\"ctx\") SEC(\".maps\");" "\t__u32 u_int;"
   "\t__u64 u_return;" "const volatile __u64 u_return __asm__ (\"return\") = 0;"
   "const volatile __u64 u___u64 __asm__ (\"__u64\") = 0;" "struct u_kw {"))
(test-assert "comments and the line map keep the user's names"
  (and (string-contains collide-c "/* (defbpf-map v0 #:kind 'array) */")
       (string-contains collide-c "/* (map-increment! v0 u_v0) */")
       (any (lambda (e) (and (string? e) (string-contains e "(map-increment! v0 u_v0)")))
            (vector->list (cdr (bpf-fn-lower names-collide #:kind 'tracepoint
                                             #:target "syscalls/sys_enter_getpid"))))))
(define collide
  (make-bpf-program `((name . ,(uniq "collide")) (kind . tracepoint)
                      (attach . "syscalls/sys_enter_getpid")
                      (source . ,names-collide)
                      (constants . ((__u64 . ,me) (return . 42))))))
(bpf-load! collide)
(bpf-attach! collide)
(do ((i 0 (+ i 1))) ((= i 100)) (getpid))
(bpf-detach! collide)
(bpf-unload! collide)
(test-equal "map v0 counted this process's 100 getpid calls" 100 (bpf-map-ref v0 0))
(test-equal "map ctx got local __k0 + local __v0" 7 (bpf-map-ref ctx 1))
(test-equal "field int holds constant return" 42 (kw-int (bpf-map-ref kws 0)))
(test-equal "field return" 7 (kw-return (bpf-map-ref kws 0)))
(test-ebpf-error "an unknown constant lists the others by their own names"
                 'ebpf-validation-error ("unknown constant" "are: __u64 return")
                 (bpf-object-load (bpf-build-c collide-c) #:kind 'tracepoint
                                  #:constants '((nope . 1))))
(test-equal "the object shares the declared maps under their own names"
  '("ctx" "kws" "v0")
  (begin
    (bpf-load! collide)
    (let ((m (sort (bpf-object-maps ((@@ (ebpf deploy) program-object) collide))
                   string<?)))
      (bpf-unload! collide)
      m)))

;; The program's own name: u_int in C, "int" for libbpf and the kernel.
(bpf-fn int (c) 1)
(test-assert "a bpf-fn named int is u_int in C, int in the object"
  (string-contains (bpf-fn->c int #:kind 'socket-filter)
                   "int u_int(struct __sk_buff *ctx) __asm__ (\"int\");"))
(define int-prog
  (make-bpf-program `((name . ,(uniq "int")) (kind . socket-filter)
                      (source . ,int))))
(bpf-load! int-prog)
(test-equal "... loads, and the kernel knows it as int" "int"
  (assq-ref (loaded-info int-prog) 'name))
(bpf-unload! int-prog)

(delete-file hostile-file)
(rmdir dir)
(harness-end)
