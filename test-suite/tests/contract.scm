;;; The user-facing contract, used exactly as the design spells it: the
;;; declaration examples verbatim under either reader setting, names with
;;; - or _, kind fallbacks, probe names, bpf-print-map on a histogram, and
;;; `guile-ebpf run' printing a policy file's maps at exit.
(use-modules (harness) (ebpf) (ebpf packet) (srfi srfi-64) (ice-9 popen)
             (ice-9 rdelim) (ice-9 textual-ports))

(harness-begin "contract" 'kernel)

(define (printed proc . args)
  (call-with-output-string (lambda (port) (apply proc (append args (list port))))))

;; ---- declarations: the three examples, verbatim, with either reader ----

(define examples "
(defbpf-map
  :name \"syn-counter\"
  :kind :per-cpu-array
  :key-size 4 :value-size 8 :max-entries 1)

(defbpf-program
  :name \"drop-syn-flood\"
  :kind :xdp
  :attach (:target \"eth0\")
  :source \"bpf/drop_syn.rs\"
  :license \"GPL\")

(defbpf-policy
  :name \"edge-protection\"
  :description \"L4 SYN-flood mitigation\"
  :programs (\"drop_syn_flood\")
  :maps (\"syn_counter\"))
(list syn-counter drop-syn-flood edge-protection)")

(define (eval-examples prefix?)
  (dynamic-wind
    (lambda () (when prefix? (read-set! keywords 'prefix)))
    (lambda () (eval-string examples))
    (lambda () (read-set! keywords #f))))

(for-each
 (lambda (prefix?)
   (let ((objs (eval-examples prefix?))
         (how (if prefix? "prefix keywords" "default reader")))
     (test-equal (string-append "examples bind their names, " how)
       '(#t #t #t)
       (list (bpf-map? (car objs)) (bpf-program? (cadr objs))
             (bpf-policy? (caddr objs))))
     (test-equal (string-append "map fields, " how)
       '("syn-counter" per-cpu-array 4 8 1)
       (let ((m (car objs)))
         (list (bpf-map-name m) (bpf-map-kind m) (bpf-map-key-size m)
               (bpf-map-value-size m) (bpf-map-max-entries m))))))
 '(#f #t))

(test-ebpf-error "a .rs source is refused at load" 'ebpf-compile-error
                 ("Rust" "drop_syn.rs")
                 (bpf-load! (bpf-program-lookup "drop-syn-flood")))

(test-ebpf-error "xdp with an empty target, colon spelling"
                 'ebpf-validation-error ("contract-xdp" "target")
                 (defbpf-program :name "contract-xdp" :kind :xdp :attach ""
                   :source "x.bpf.c"))
(test-ebpf-error "tc without a target" 'ebpf-validation-error
                 ("contract-tc" "target")
                 (defbpf-program contract-tc #:kind 'tc #:source "x.bpf.c"))

;; ---- maps: both spellings, - and _ name one map ----

(defbpf-map contract-counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 10240)
(bpf-map-set! "contract_counts" 7 70)
(test-equal "a map set through its _ spelling reads back through -"
  70 (bpf-map-ref 'contract-counts 7))
(defbpf-map #:name "contract-counts2" #:kind 'hash #:key-size 4 #:value-size 8
  #:max-entries 10240)
(bpf-map-set-all! contract-counts2 '((1 . 10) (2 . 20)))
(test-equal "sized keys and values are integers both ways"
  '((1 . 10) (2 . 20))
  (sort (bpf-map->alist contract-counts2) (lambda (a b) (< (car a) (car b)))))
(test-equal "bpf-map-set! #:flags 'noexist refuses an existing key"
  'ebpf-map-error
  (catch #t (lambda () (bpf-map-set! contract-counts2 1 11 #:flags 'noexist) #f)
    (lambda (k . _) k)))

;; ---- programs: kind fallbacks, tracepoint spellings, probe names ----

(bpf-fn contract-nothing (ctx) (return 0))
(defbpf-program contract-fallback #:kind '(tp-btf raw-tracepoint)
  #:attach "sched_switch" #:source contract-nothing)
(bpf-attach! contract-fallback)
(test-assert "a list of kinds: the first this kernel runs"
  (memq (bpf-program-kind contract-fallback) '(tp-btf raw-tracepoint)))
(bpf-unload! contract-fallback)

(defbpf-map contract-by-probe #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 8)
(bpf-fn contract-probe (ctx)
  (when (= (tgid) ,(getpid))
    (map-increment! contract-by-probe (probe))))
(defbpf-program contract-probes #:kind 'tracepoint
  #:attach '("syscalls:sys_enter_getppid" "syscalls/sys_enter_getpgid")
  #:source contract-probe)
(bpf-attach! contract-probes)
(getppid)
(getppid)
(getpgrp)
(bpf-unload! contract-probes)
(test-equal "probe names spelled as bpf-list-probes spells them"
  '("tracepoint:syscalls:sys_enter_getppid" "tracepoint:syscalls:sys_enter_getpgid")
  (list (bpf-probe-name contract-probes 0) (bpf-probe-name contract-probes 1)))
(test-equal "(probe) indexes the list of targets"
  2 (bpf-map-ref contract-by-probe 0))
(test-assert "bpf-list-probes finds the same names"
  (member "tracepoint:syscalls:sys_enter_getppid"
          (bpf-list-probes "syscalls:sys_enter_getpp*")))

;; ---- output: bpf-print-map on a histogram prints the histogram ----

(defbpf-map contract-lat #:kind 'histogram)
(bpf-fn contract-hist (ctx)
  (when (= (tgid) ,(getpid))
    (hist! contract-lat 100)))
(defbpf-program contract-hp #:kind 'tracepoint #:attach "syscalls:sys_enter_getppid"
  #:source contract-hist)
(bpf-attach! contract-hp)
(getppid)
(bpf-unload! contract-hp)
(test-equal "bpf-hist" '(64 128 1) (car (last-pair (bpf-hist contract-lat))))
(test-equal "bpf-print-map prints a histogram map as bpf-print-hist does"
  (printed bpf-print-hist contract-lat)
  (printed bpf-print-map contract-lat))
(test-assert "... with its buckets"
  (string-contains (printed bpf-print-map contract-lat) "\n[64, 128)              1 |"))

;; ---- lhist!: linear buckets without #:linear ----

(defbpf-map contract-lin #:kind 'histogram)
(bpf-fn contract-lhist (ctx)
  (when (= (tgid) ,(getpid))
    (lhist! contract-lin 3 0 10 5)                 ; in [0, 5)
    (lhist! contract-lin (arg ctx 'ret) 0 10 5)))  ; a pid: in [10, ...)
(defbpf-program contract-lp #:kind 'tracepoint #:attach "syscalls:sys_exit_getppid"
  #:source contract-lhist)
(bpf-attach! contract-lp)
(getppid)
(bpf-unload! contract-lp)
(test-equal "bpf-hist of an lhist! map has the lhist!'s buckets"
  '((0 5 1) (5 10 0) (10 #f 1))
  (bpf-hist contract-lin))
(test-equal "... as with #:linear"
  (bpf-hist contract-lin #:linear '(0 10 5)) (bpf-hist contract-lin))
(test-assert "bpf-print-hist prints [MAX, ...) as bpftrace"
  (string-contains (printed bpf-print-hist contract-lin) "\n[10, ...)              1 |"))

;; ---- guile-ebpf run FILE: a policy file's maps are printed at exit ----

(define policy-file
  (let ((port (mkstemp! (string-copy "/tmp/guile-ebpf-contract-XXXXXX"))))
    (format port "(use-modules (ebpf))
(defbpf-map contract-run-calls-~a #:kind 'hash #:key '(string 16) #:value 'u64
  #:max-entries 64)
(bpf-fn contract-run-fn (ctx) (map-increment! contract-run-calls-~a (comm)))
(defbpf-program contract-run-prog #:kind 'tracepoint
  #:attach \"syscalls:sys_enter_getppid\" #:source contract-run-fn)
(defbpf-policy contract-run-~a #:programs '(\"contract-run-prog\")
  #:maps '(\"contract-run-calls-~a\"))
" (getpid) (getpid) (getpid) (getpid))
    (let ((file (port-filename port)))
      (close-port port)
      file)))

(define (run-output . args)
  ;; getppid() calls from here while the policy runs for 2 seconds.
  (let* ((p (apply open-pipe* OPEN_READ "guile-ebpf" "run" policy-file
                   "--duration" "2" args))
         (end (+ (current-time) 4)))
    (let loop ()
      (when (< (current-time) end)
        (getppid)
        (usleep 10000)
        (loop)))
    (let ((out (get-string-all p)))
      (close-pipe p)
      out)))

(let ((out (run-output "-f" "json")))
  (test-assert "run -f json: the policy's map as a map record"
    (string-contains out (format #f "{\"type\": \"map\", \"data\": {\"@contract-run-calls-~a\": {"
                                 (getpid)))))
(let ((out (run-output)))
  (test-assert "run: the policy's map printed as bpftrace prints it"
    (string-contains out (format #f "\n@contract-run-calls-~a[" (getpid))))
  (test-assert "run: the policy removed at exit"
    (string-contains out (format #f "policy contract-run-~a: removed" (getpid)))))
(test-assert "run --quiet prints no map"
  (not (string-contains (run-output "--quiet") "@contract-run-calls")))
(delete-file policy-file)

;; ---- one-liners: begin, end and interval are probes, as in bpftrace ----

(define (one-liner forms . args)
  (let* ((p (apply open-pipe* OPEN_READ "guile-ebpf" "-e" forms args))
         (out (get-string-all p)))
    (close-pipe p)
    out))
(test-assert "begin, interval and end counted in Attaching N probes"
  (string-prefix? "Attaching 3 probes...\nhi\n"
                  (one-liner "(on \"begin\" (printf \"hi\\n\")) (on \"interval:s:1\" (exit)) (on \"end\" (printf \"bye\\n\"))")))
(test-assert "... and in the attached_probes record"
  (string-prefix? "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}"
                  (one-liner "(on \"interval:s:1\" (exit))" "-f" "json")))

(harness-end)
