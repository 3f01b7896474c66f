;;; offcputime.scm --- time spent blocked, by stack, after libbpf-tools'
;;; offcputime.
;;;
;;; Shows: a tp-btf program on sched_switch, whose arguments are typed
;;; task_struct pointers: (core-read prev 'tgid) and the thread's comm
;;; are read from the task leaving the CPU, whose kernel and user stacks
;;; are the current ones, (kstack) and (ustack).  They are kept, with
;;; the time, under the thread id until the thread is switched in again;
;;; then the time off CPU is added to a hash keyed by a struct of pid,
;;; comm and both stacks.  The Scheme side names the frames with
;;; bpf-stack-symbols from the stack-trace map (kstack) and (ustack)
;;; record into, gebpf-stacks.
;;;
;;; Output as libbpf-tools' offcputime: the kernel frames, "--", the user
;;; frames, "-  COMM (PID)" and the microseconds off CPU, per stack.
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

;; (kstack) is a u32 stack id; (ustack) a u64: the id, and the process
;; id above it, since a user stack is named from its process's files.
(defbpf-struct off-key (pid u32) (kstack u32) (ustack u64) (comm (string 16)))
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

;;; ---- output ----------------------------------------------------------

(define (frames id . pid)
  ;; A failed capture is a negative errno: no frames.
  (if (< id #x80000000)
      (apply bpf-stack-symbols "gebpf-stacks" id (if (pair? pid) (list #:pid (car pid)) '()))
      '()))

(define (print-stack k usecs)
  (let ((u (off-key-ustack k)))
    (for-each (lambda (f) (format #t "    ~a~%" f)) (frames (off-key-kstack k)))
    (format #t "    --~%")
    (for-each (lambda (f) (format #t "    ~a~%" f))
              (frames (logand u #xffffffff) (ash u -32)))
    (format #t "    -                ~a (~a)~%        ~a~%~%"
            (off-key-comm k) (off-key-pid k) usecs)))

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
    (for-each (lambda (e) (print-stack (car e) (cdr e)))
              (sort (bpf-map->alist off-usecs) (lambda (a b) (< (cdr a) (cdr b))))))
  (lambda () (bpf-unload! offcputime)))
