;;; bench/compile/compile.scm --- time guile-ebpf's BPF builds.
;;;
;;; Run by bench/compile/run with a private XDG_CACHE_HOME.  Prints one
;;; line per measurement: NAME MILLISECONDS.  Every cold build gets a text
;;; no earlier build had (a comment with a counter), so it misses the
;;; cache without the cache being cleared between runs.

(use-modules (ebpf build) (ice-9 format) (srfi srfi-1))

(define reps (string->number (or (getenv "REPS") "10")))

(define (ms thunk)
  (let ((t0 (get-internal-real-time)))
    (thunk)
    (/ (- (get-internal-real-time) t0)
       (/ internal-time-units-per-second 1000.))))

(define (report name t) (format #t "~a ~,3f~%" name t))

(define counter 0)
(define (fresh text)
  (set! counter (+ counter 1))
  (format #f "~a/* ~a ~a */~%" text (getpid) counter))

(define xdp
  "#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC(\"xdp\") int f(struct xdp_md *c) { return XDP_PASS; }
char LICENSE[] SEC(\"license\") = \"GPL\";
")

(define core
  "#include \"vmlinux.h\"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
SEC(\"kprobe/do_nanosleep\")
int k(void *ctx)
{
  struct task_struct *t = (void *) bpf_get_current_task ();
  bpf_printk (\"%d\", BPF_CORE_READ (t, real_parent, tgid));
  return 0;
}
char LICENSE[] SEC(\"license\") = \"GPL\";
")

(define (stat-of k) (assq-ref (bpf-build-stats) k))

;; clang run as guile-ebpf runs it, with vmlinux.h included as text: what
;; a CO-RE build costs without the precompiled header.
(define (clang-plain text)
  (let* ((vdir (dirname (bpf-vmlinux-header)))
         (src (string-append (getenv "BENCH_TMP") "/core.c"))
         (out (string-append (getenv "BENCH_TMP") "/core.o")))
    (call-with-output-file src (lambda (p) (display text p)))
    (let ((st (apply system* (or (getenv "EBPF_CLANG") "clang")
                     (append (bpf-clang-flags)
                             (list (string-append "-I" vdir)
                                   "-c" "-x" "c" src "-o" out)))))
      (unless (zero? st) (error "clang failed" st)))))

;; The first build of a process sets up the cache directory; do it
;; outside the measurements, with one build that is not reported.
(bpf-build-c (fresh xdp))

(let ((before (stat-of 'misses)))
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "xdp-cold" (ms (lambda () (bpf-build-c (fresh xdp))))))
  (unless (= (stat-of 'misses) (+ before reps))
    (error "cold builds were not all misses")))

(let ((text (fresh xdp))
      (before #f))
  (bpf-build-c text)
  (set! before (stat-of 'hits))
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "xdp-warm" (ms (lambda () (bpf-build-c text)))))
  (unless (= (stat-of 'hits) (+ before reps))
    (error "warm builds were not all hits")))

;; vmlinux.h and its precompiled form are made by the first CO-RE build.
(report "vmlinux-header" (ms bpf-vmlinux-header))
(report "core-first" (ms (lambda () (bpf-build-c (fresh core)))))
(do ((i 0 (+ i 1))) ((= i reps))
  (report "core-cold-pch" (ms (lambda () (bpf-build-c (fresh core))))))
(do ((i 0 (+ i 1))) ((= i reps))
  (report "core-cold-nopch" (ms (lambda () (clang-plain (fresh core))))))
(let ((text (fresh core)))
  (bpf-build-c text)
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "core-warm" (ms (lambda () (bpf-build-c text))))))

;;; bpf-fn: lowering against clang, CO-RE as guile-ebpf emits it (only
;;; the kernel struct members read), and form to loaded program.
(use-modules (ebpf))

(defbpf-map blk #:kind 'hash #:key 'ipv4 #:value 'u32 #:max-entries 1024)
(defbpf-map ctr #:kind 'per-cpu-array #:key 'u32 #:value 'u64 #:max-entries 5)
(defbpf-map par #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)

(define (firewall)
  (bpf-fn bench-firewall (ctx)
    (let* ((ip (packet-ipv4 ctx))
           (tcp (packet-tcp ip))
           (v (if (and tcp (tcp-syn? tcp) (not (tcp-ack? tcp))
                       (map-get blk (ipv4-saddr ip)))
                  :xdp-drop :xdp-pass)))
      (map-increment! ctr v)
      (return v))))

(define (parent-probe)
  (bpf-fn bench-parent (ctx)
    (map-set! par 0 (core-read (current-task) 'real_parent 'tgid))))

(let ((fn (firewall)))
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "fn-lower" (ms (lambda () (bpf-fn->c fn #:kind 'xdp)))))
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "fn-clang" (ms (lambda () (bpf-build-c (fresh (bpf-fn->c fn #:kind 'xdp))))))))

(let ((fn (parent-probe)))
  (do ((i 0 (+ i 1))) ((= i reps))
    (report "fn-core-cold"
            (ms (lambda ()
                  (bpf-build-c (fresh (bpf-fn->c fn #:kind 'tracepoint
                                                 #:target "syscalls/sys_enter_getpid"))))))))

;; Form to loaded program as at the REPL: the (bpf-fn ...) form's text
;; goes through the REPL's own path (read, compile at the REPL's
;; optimization level, run), then the program is loaded and unloaded.
;; The object is in the cache (built once before), so clang does not run;
;; Guile's compile of the form is part of the time.
(use-modules (system repl common))
(define repl (make-repl 'scheme))
(define firewall-form
  "(bpf-fn bench-firewall (ctx)
    (let* ((ip (packet-ipv4 ctx))
           (tcp (packet-tcp ip))
           (v (if (and tcp (tcp-syn? tcp) (not (tcp-ack? tcp))
                       (map-get blk (ipv4-saddr ip)))
                  :xdp-drop :xdp-pass)))
      (map-increment! ctr v)
      (return v)))")
(define (form->program)
  (let ((fn (repl-eval repl (read (open-input-string firewall-form)))))
    (make-bpf-program `((name . "bench-fw") (kind . xdp) (attach . "lo")
                        (source . ,fn)))))
(let ((p (form->program)))
  (bpf-load! p)                         ; fills the cache
  (bpf-unload! p))
;; Untimed runs until Guile has collected once during them.  Until then
;; the heap grows into memory the process never touched, and each first
;; touch is a page fault (hundreds per run, about 20 us each in a VM):
;; the first runs cost two to four times the others.  A REPL session
;; pays that once, not at each redefinition.
(let ((n0 (assq-ref (gc-stats) 'gc-times)))
  (let loop ((i 0))
    (when (and (< i 50) (= (assq-ref (gc-stats) 'gc-times) n0))
      (let ((p (form->program)))
        (bpf-load! p)
        (bpf-unload! p))
      (loop (+ i 1)))))
;; Guile's garbage collector runs every few of these runs (the compile
;; allocates about 1 MB) and a collection takes several milliseconds:
;; each run also reports how many collections ran inside it and their
;; time, so that the table can tell them apart.
(define (gc-stat k) (assq-ref (gc-stats) k))
(do ((i 0 (+ i 1))) ((= i reps))
  (let* ((n0 (gc-stat 'gc-times))
         (g0 (gc-stat 'gc-time-taken))
         (t (ms (lambda ()
                  (let ((p (form->program)))
                    (bpf-load! p)
                    (bpf-unload! p))))))
    (report "fn-warm-loaded" t)
    (report (if (> (gc-stat 'gc-times) n0)
                "fn-warm-loaded-with-gc"
                "fn-warm-loaded-no-gc")
            t)
    (when (> (gc-stat 'gc-times) n0)
      (report "fn-warm-loaded-gc-time"
              (/ (- (gc-stat 'gc-time-taken) g0)
                 (/ internal-time-units-per-second 1000.))))))
