;;; A killed apply leaves nothing, a complete policy, or an incomplete
;;; one that status reports and remove cleans: `guile-ebpf apply --pin'
;;; is really killed with SIGKILL (the crash hooks) before several steps
;;; and after several pins, and the kernel's state -- the policy's pins,
;;; its manifest, the interface's XDP attachment, the kernel's programs
;;; of this file's names -- is checked after the kill and after remove.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 ftw) (ice-9 match) (ice-9 regex))

(harness-begin "safety-crash" 'kernel)

(define me (getpid))
(define (sh . args) (zero? (status:exit-val (apply system* args))))
(define (quiet cmd) (system (string-append cmd " >/dev/null 2>&1")))
(define (read-file f) (call-with-input-file f read-string))
(define tmp (format #f "/tmp/guile-ebpf-safety-crash-~a" me))
(unless (file-exists? tmp) (mkdir tmp))
(define (write-file name text)
  (let ((f (string-append tmp "/" name)))
    (call-with-output-file f (lambda (p) (display text p)))
    f))

;; Run a shell command line; return (exit-status term-signal stdout stderr).
(define (run fmt . args)
  (let* ((out (string-append tmp "/out"))
         (err (string-append tmp "/err"))
         (cmd (apply format #f fmt args))
         (st (system (format #f "exec env ~a >~a 2>~a" cmd out err))))
    (list (status:exit-val st) (status:term-sig st) (read-file out) (read-file err))))
(define (show r) (format #t "# ~s~%" r) #f)

;; Everything this file makes has its own name: the pin root, the run
;; directory, the policy, the interface, the programs (spk...).
(define root (format #f "/sys/fs/bpf/gebpf-crash-~a" me))
(define run-dir (string-append tmp "/run"))
(define env (format #f "GUILE_EBPF_PIN_ROOT=~a GUILE_EBPF_RUN_DIR=~a" root run-dir))
(setenv "GUILE_EBPF_PIN_ROOT" root)
(setenv "GUILE_EBPF_RUN_DIR" run-dir)
(define policy (format #f "spk-policy-~a" me))
(define pin-dir (string-append root "/" policy))
(define manifest (string-append run-dir "/" policy "/manifest.json"))
(define iface (format #f "spk~a" (modulo me 100000)))
(define peer (format #f "spkp~a" (modulo me 100000)))
(quiet (format #f "ip link del ~a" iface))
(test-assert "veth pair"
  (and (sh "ip" "link" "add" iface "type" "veth" "peer" "name" peer)
       (sh "ip" "link" "set" iface "up")
       (sh "ip" "link" "set" peer "up")))

(define file
  (write-file "crash.scm" (format #f "
(defbpf-map spk_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-map spk_pkts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)
(bpf-fn spk_tp (ctx) (map-increment! spk_counts 0))
(bpf-fn spk_xdp (ctx) (map-increment! spk_pkts 0) (return :xdp-pass))
(defbpf-program spk-tp #:kind 'tracepoint #:attach \"syscalls/sys_enter_getppid\"
  #:source spk_tp)
(defbpf-program spk-xdp #:kind 'xdp #:attach '(#:target ~s #:mode generic)
  #:source spk_xdp)
(defbpf-policy ~a #:programs '(\"spk-tp\" \"spk-xdp\") #:maps '(\"spk-counts\" \"spk-pkts\"))
" iface policy)))

(define (xdp-on?)
  (zero? (status:exit-val
          (system (format #f "ip link show dev ~a 2>/dev/null | grep -q xdp" iface)))))

(define (spk-programs)
  (filter-map (lambda (p)
                (let ((n (assq-ref p 'name)))
                  (and (or (string-prefix? "spk_" n) (string-prefix? "gebpf_slot_spk" n))
                       (assq-ref p 'id))))
              (bpf-programs)))
;; Programs of these names that an earlier, aborted run of this file may
;; have left (the kernel frees them once their interface is gone).
(define earlier (spk-programs))
(define (our-programs) (lset-difference = (spk-programs) earlier))

;; The kernel frees what nothing holds a moment after the last close.
(define (eventually pred)
  (let loop ((tries 60))
    (cond ((pred) #t)
          ((zero? tries) #f)
          (else (usleep 50000) (loop (- tries 1))))))

(define (left)
  `((pin-dir . ,(file-exists? pin-dir)) (manifest . ,(file-exists? manifest))
    (xdp . ,(xdp-on?)) (programs . ,(our-programs))))
(define (nothing-left?)
  (or (eventually (lambda ()
                    (equal? (left) '((pin-dir . #f) (manifest . #f) (xdp . #f)
                                     (programs)))))
      (show (left))))

(test-assert "nothing of this file's is there to begin with" (nothing-left?))

;; The steps of the pinned apply, from a dry run.
(define steps
  (let ((r (run "~a guile-ebpf apply ~a --pin --dry-run" env file)))
    (filter-map (lambda (line)
                  (let ((m (string-match "step ([0-9]+) would (.*)" line)))
                    (and m (cons (string->number (match:substring m 1))
                                 (match:substring m 2)))))
                (string-split (caddr r) #\newline))))
(define (step-of what)
  (any (match-lambda ((i . text) (and (string-prefix? what text) i))) steps))
(test-assert "the plan: maps, loads, attaches, pins, manifest"
  (and (= (length steps) 11)
       (step-of "pin map") (step-of "write the manifest")))

(define (killed? r) (and (eqv? (cadr r) 9) (string-contains (cadddr r) "test hook: killed")))

(define (check-crash label hook n expect)
  ;; Kill the apply at HOOK=N; EXPECT is 'nothing or 'incomplete.
  (let ((r (run "~a ~a=~a guile-ebpf apply ~a --pin" env hook n file)))
    (test-assert (format #f "~a: killed by SIGKILL" label) (or (killed? r) (show r))))
  (case expect
    ((nothing)
     (test-assert (format #f "~a: nothing is left" label) (nothing-left?)))
    ((incomplete)
     (let ((r (run "~a guile-ebpf status ~a" env policy)))
       (test-assert (format #f "~a: status NAME says incomplete" label)
         (or (and (eqv? (car r) 0)
                  (string-contains (caddr r) (format #f "policy ~a (incomplete)" policy))
                  (string-contains (caddr r) "guile-ebpf remove"))
             (show r))))
     (let ((r (run "~a guile-ebpf status" env)))
       (test-assert (format #f "~a: the list says incomplete" label)
         (or (string-contains (caddr r) (string-append policy "  incomplete")) (show r))))
     (let ((r (run "~a guile-ebpf apply ~a --pin" env file)))
       (test-assert (format #f "~a: a new apply is refused until it is removed" label)
         (or (and (eqv? (car r) 1)
                  (string-contains (cadddr r) "left incomplete")
                  (string-contains (cadddr r) "Fix: remove it first"))
             (show r))))
     (let ((r (run "~a guile-ebpf remove ~a" env policy)))
       (test-assert (format #f "~a: remove succeeds" label)
         (or (eqv? (car r) 0) (show r))))
     (test-assert (format #f "~a: after remove nothing is left" label) (nothing-left?)))))

;; Killed before anything is pinned: the process's fds held everything.
(check-crash "before the first step" "GUILE_EBPF_CRASH_AT_STEP" 1 'nothing)
(check-crash "before the XDP attach" "GUILE_EBPF_CRASH_AT_STEP"
             (step-of "attach spk-xdp") 'nothing)
(check-crash "before the first pin" "GUILE_EBPF_CRASH_AT_STEP" (step-of "pin map") 'nothing)

;; Killed while pinning: an incomplete policy.
(check-crash "after the first pin" "GUILE_EBPF_CRASH_AT_PIN" 1 'incomplete)
(check-crash "after three pins" "GUILE_EBPF_CRASH_AT_PIN" 3 'incomplete)
(check-crash "inside the XDP program's pins" "GUILE_EBPF_CRASH_AT_PIN" 6 'incomplete)
(check-crash "before the manifest is complete" "GUILE_EBPF_CRASH_AT_STEP"
             (step-of "write the manifest") 'incomplete)

;; The XDP program stays attached through its pinned link while
;; incomplete, and remove detaches it.
(let ((r (run "~a GUILE_EBPF_CRASH_AT_STEP=~a guile-ebpf apply ~a --pin" env
              (step-of "write the manifest") file)))
  (test-assert "killed with every pin made" (killed? r))
  (test-assert "the XDP link is pinned and attached" (xdp-on?))
  (test-assert "the manifest says incomplete"
    (eq? 'incomplete (assq-ref (bpf-policy-status policy) 'state)))
  (bpf-policy-remove! policy)
  (test-assert "bpf-policy-remove! detaches and frees it all" (nothing-left?)))

;; Not killed: a complete policy.
(let ((r (run "~a guile-ebpf apply ~a --pin" env file)))
  (test-assert "an apply that is not killed completes" (or (eqv? (car r) 0) (show r)))
  (test-equal "its state is pinned" 'pinned (assq-ref (bpf-policy-status policy) 'state))
  (test-assert "attached" (xdp-on?))
  (test-assert "removed" (eqv? 0 (car (run "~a guile-ebpf remove ~a" env policy))))
  (test-assert "nothing is left" (nothing-left?)))

;;; ------------------------------------------------------------------
;;; A tc filter left by a killed `guile-ebpf run': tc filters are
;;; attached through netlink and outlive their process.

(define tc-policy (format #f "spk-tc-~a" me))
(define tc-file
  (write-file "tc.scm" (format #f "
(bpf-fn spk_tc (ctx) (return 0))
(defbpf-program spk-tc #:kind 'tc #:attach '(#:target ~s #:direction ingress)
  #:source spk_tc)
(defbpf-policy ~a #:programs '(\"spk-tc\"))
" iface tc-policy)))

(define (tc-filters)
  (let* ((out (string-append tmp "/tc"))
         (_ (system (format #f "tc filter show dev ~a ingress >~a 2>&1" iface out))))
    (read-file out)))
(define (tc-ours?) (string-contains (tc-filters) "spk_tc"))

(test-assert "no tc filter of ours to begin with" (not (tc-ours?)))
(define run-pid
  (let* ((out (string-append tmp "/run-out"))
         (pidf (string-append tmp "/run-pid")))
    (system (format #f "~a guile-ebpf run ~a --duration 120 >~a 2>&1 & echo $! >~a"
                    env tc-file out pidf))
    (let loop ((tries 200))
      (cond ((string-contains (or (false-if-exception (read-file out)) "") "running;")
             (string->number (string-trim-both (read-file pidf))))
            ((zero? tries) (format #t "# ~s~%" (false-if-exception (read-file out))) #f)
            (else (usleep 50000) (loop (- tries 1)))))))
(test-assert "guile-ebpf run attached the tc filter" (and run-pid (tc-ours?)))
(when run-pid
  (kill run-pid SIGKILL)
  ;; Not our child (the shell started it): wait for it to be gone.
  (eventually (lambda () (not (file-exists? (format #f "/proc/~a" run-pid))))))
(test-assert "killed, its tc filter stays" (tc-ours?))
(let ((r (run "~a guile-ebpf status" env)))
  (test-assert "status lists the policy with the filter left behind"
    (or (string-contains (caddr r) (string-append tc-policy "  tc filters left by a process that ended"))
        (show r))))
(let ((r (run "~a guile-ebpf status ~a" env tc-policy)))
  (test-assert "status NAME shows the filter"
    (or (and (eqv? (car r) 0)
             (string-contains (caddr r) "(left-behind)")
             (string-contains (caddr r) "tc filter of program spk-tc on"))
        (show r))))
(let ((r (run "~a guile-ebpf remove ~a" env tc-policy)))
  (test-assert "remove NAME removes it"
    (or (and (eqv? (car r) 0) (string-contains (caddr r) "(1 tc filters removed)"))
        (show r))))
(test-assert "the tc filter is gone" (not (tc-ours?)))
(test-assert "and its record"
  (not (file-exists? (string-append run-dir "/" tc-policy))))
(let ((r (run "~a guile-ebpf status ~a" env tc-policy)))
  (test-assert "status NAME no longer knows it" (eqv? (car r) 1)))

;; An apply without --pin ends its policies as it exits, tc included.
(let ((r (run "~a guile-ebpf apply ~a" env tc-file)))
  (test-assert "apply without --pin leaves no tc filter"
    (or (and (eqv? (car r) 0) (not (tc-ours?))
             (not (file-exists? (string-append run-dir "/" tc-policy))))
        (show (list r (tc-filters))))))

;; A run that ends normally removes its filter and its record.
(let ((r (run "~a guile-ebpf run ~a --duration 0.3" env tc-file)))
  (test-assert "a run that ends removes its filter"
    (or (and (eqv? (car r) 0) (not (tc-ours?))
             (not (file-exists? (string-append run-dir "/" tc-policy))))
        (show r))))

(quiet (format #f "ip link del ~a" iface))
(sh "rm" "-rf" tmp)
(false-if-exception (rmdir root))
(harness-end)
