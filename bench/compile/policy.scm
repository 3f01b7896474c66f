;;; bench/compile/policy.scm --- a cold policy of six programs against a
;;; cold policy of one.
;;;
;;; Run by bench/compile/run (needs CAP_BPF: the policies are applied).
;;; Each run applies a policy with an empty object cache (a fresh
;;; XDG_CACHE_HOME), then removes it.  The programs count six syscalls'
;;; tracepoints into one shared map; the policy of one holds the first.
;;; Prints lines "policy-1-cold MS" and "policy-6-cold MS", alternating,
;;; each followed by the same run's CPU time (clang's included) as
;;; "policy-N-cold-cpu MS".

(use-modules (ebpf) (ice-9 format))

(define reps (string->number (or (getenv "REPS") "10")))
(define tmp (or (getenv "BENCH_TMP") "/tmp"))

(define (ms thunk)
  (let ((t0 (get-internal-real-time)))
    (thunk)
    (/ (- (get-internal-real-time) t0)
       (/ internal-time-units-per-second 1000.))))

(defbpf-map bench-policy-counts #:kind 'hash #:key 'u32 #:value 'u64
  #:max-entries 64)

(define-syntax-rule (counter name slot)
  (bpf-fn name (ctx)
    (when (= (tgid) (const me))
      (map-increment! bench-policy-counts slot))
    0))

(counter bench_policy_getpid 0)
(counter bench_policy_getppid 1)
(counter bench_policy_getuid 2)
(counter bench_policy_geteuid 3)
(counter bench_policy_getgid 4)
(counter bench_policy_getegid 5)

(define me (getpid))
(defbpf-program bench-policy-getpid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getpid" #:source bench_policy_getpid
  #:constants `((me . ,me)))
(defbpf-program bench-policy-getppid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getppid" #:source bench_policy_getppid
  #:constants `((me . ,me)))
(defbpf-program bench-policy-getuid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getuid" #:source bench_policy_getuid
  #:constants `((me . ,me)))
(defbpf-program bench-policy-geteuid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_geteuid" #:source bench_policy_geteuid
  #:constants `((me . ,me)))
(defbpf-program bench-policy-getgid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getgid" #:source bench_policy_getgid
  #:constants `((me . ,me)))
(defbpf-program bench-policy-getegid #:kind 'tracepoint
  #:attach "syscalls/sys_enter_getegid" #:source bench_policy_getegid
  #:constants `((me . ,me)))

(defbpf-policy bench-policy-one
  #:programs '("bench-policy-getpid")
  #:maps '("bench-policy-counts"))
(defbpf-policy bench-policy-six
  #:programs '("bench-policy-getpid" "bench-policy-getppid"
               "bench-policy-getuid" "bench-policy-geteuid"
               "bench-policy-getgid" "bench-policy-getegid")
  #:maps '("bench-policy-counts"))

(define (cpu-ms)
  ;; CPU time of this process and its waited-for children (clang).
  (let ((t (times)))
    (/ (+ (tms:utime t) (tms:stime t) (tms:cutime t) (tms:cstime t))
       (/ internal-time-units-per-second 1000.))))

(define run 0)
(define (cold name policy)
  ;; Apply POLICY with an empty object cache; print its wall time as
  ;; NAME and its CPU time, clang's included, as NAME-cpu; remove it.
  (set! run (+ run 1))
  (setenv "XDG_CACHE_HOME" (format #f "~a/policy-cache-~a-~a" tmp (getpid) run))
  (let* ((c0 (cpu-ms))
         (t (ms (lambda () (bpf-policy-apply! policy))))
         (c (- (cpu-ms) c0)))
    (format #t "~a ~,3f~%~a-cpu ~,3f~%" name t name c)
    (force-output)
    (bpf-policy-remove! policy)))

;; A warm-up of each (modules, clang's own files in the page cache).
(cold "warm-up" bench-policy-one)
(cold "warm-up" bench-policy-six)
(do ((i 0 (+ i 1))) ((= i reps))
  (if (even? i)
      (begin (cold "policy-1-cold" bench-policy-one)
             (cold "policy-6-cold" bench-policy-six))
      (begin (cold "policy-6-cold" bench-policy-six)
             (cold "policy-1-cold" bench-policy-one))))
