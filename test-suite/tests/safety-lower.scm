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

(delete-file hostile-file)
(rmdir dir)
(harness-end)
