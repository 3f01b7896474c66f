;;; offcputime.scm --- time spent blocked, by stack, after libbpf-tools'
;;; offcputime.
;;;
;;; Shows: a tp-btf program on sched_switch, whose arguments are typed
;;; task_struct pointers: (core-read prev 'tgid) and the thread's comm
;;; are read from the task leaving the CPU, whose kernel and user stacks
;;; are the current ones, (kstack) and (ustack).  They are kept, with
;;; the time, under the thread id until the thread is switched in again;
;;; then the time off CPU is added to a hash keyed by a struct of pid,
;;; comm and both stacks, in fields of types kstack and ustack:
;;; bpf-print-map prints them as symbolized frames.
;;;
;;; Output as bpftrace prints a map keyed by pid, comm and both stacks:
;;; @off-usecs[PID, COMM, kernel frames, user frames]: microseconds off
;;; CPU, per stack, the largest last.
;;;
;;; Options (as the original):
;;;   -p, --pid PID       trace this process (default: this script, which
;;;                       sleeps in a loop while it traces)
;;;   -m, --min-block US  only blocks of at least US microseconds (default 1)
;;;   -d, --duration S    trace for S seconds (default 1), then print
;;;
;;; Run (as root):
;;;   ./pre-inst-env guile -s examples/offcputime.scm [OPTIONS]

(use-modules (ebpf) (ice-9 format) (ice-9 getopt-long))

(define options
  (getopt-long (command-line)
               '((pid (single-char #\p) (value #t))
                 (min-block (single-char #\m) (value #t))
                 (duration (single-char #\d) (value #t))
                 (help (single-char #\h)))))
(when (option-ref options 'help #f)
  (display "Usage: offcputime.scm [-p PID] [-m MIN-USECS] [--duration SECONDS]\n")
  (exit 0))
(define duration (string->number (option-ref options 'duration "1")))
(define target (string->number (option-ref options 'pid (number->string (getpid)))))
(define min-block (string->number (option-ref options 'min-block "1")))

;;; ---- maps and program ----------------------------------------------

;; kstack and ustack fields hold what (kstack) and (ustack) return; the
;; user stack's id carries its process, whose files name its frames.
(defbpf-struct off-key (pid u32) (comm (string 16)) (kstack kstack) (ustack ustack))
(defbpf-struct off-start (ts u64) (key off-key))

(defbpf-map starts #:kind 'hash #:key 'u32 #:value 'off-start
  #:max-entries 10240 #:doc "When each traced thread left the CPU, and its stacks.")
(defbpf-map off-usecs #:kind 'hash #:key 'off-key #:value 'u64
  #:max-entries 10240 #:doc "Microseconds off CPU per process and stacks.")

(bpf-fn on-switch (ctx)
  ;; sched_switch(bool preempt, struct task_struct *prev, *next, ...)
  (let ((prev (arg ctx 1))
        (next (arg ctx 2)))
    (when (= (core-read prev 'tgid) (const targ-pid))
      (map-set! starts (core-read prev 'pid)
                (make-off-start
                 #:ts (ktime-ns)
                 #:key (make-off-key #:pid (core-read prev 'tgid)
                                     #:kstack (kstack) #:ustack (ustack)
                                     #:comm (core-read prev 'comm)))))
    (let* ((tid (core-read next 'pid))
           (s (map-get starts tid)))
      (when s
        (let ((delta (/ (- (ktime-ns) (off-start-ts s)) 1000)))
          (when (>= delta (const min-us))
            (map-increment! off-usecs (off-start-key s) delta)))
        (map-delete! starts tid)))))

(defbpf-program offcputime
  #:kind 'tp-btf #:attach "sched_switch" #:source on-switch
  #:constants `((targ-pid . ,target) (min-us . ,min-block))
  #:license "GPL")

;;; ---- run ----------------------------------------------------------

(dynamic-wind
  (lambda () (bpf-attach! offcputime))
  (lambda ()
    (format #t "Tracing off-CPU time (us) of PID ~a for ~a s.~%" target duration)
    (let ((end (+ (get-internal-real-time)
                  (* duration internal-time-units-per-second))))
      ;; This process blocks too: in nanosleep, 20 ms at a time.
      (let loop ()
        (when (< (get-internal-real-time) end)
          (usleep 20000)
          (loop))))
    (bpf-detach! offcputime)
    ;; Print while the traced process still runs: its user frames are
    ;; named from the files it maps.
    (bpf-print-map off-usecs))
  (lambda () (bpf-unload! offcputime)))
