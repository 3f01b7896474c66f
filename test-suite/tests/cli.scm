;;; The guile-ebpf command: every subcommand run as a subprocess (the
;;; guile-ebpf on PATH, as ./pre-inst-env sets it), its output and exit
;;; status checked; and the edge-protection example, run for real.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 regex) (ice-9 popen))

(harness-begin "cli" 'kernel)

(define me (getpid))
(define (calls n thunk) (do ((i 0 (+ i 1))) ((= i n)) (thunk)))
(define (read-file f) (call-with-input-file f read-string))
(define tmp (format #f "/tmp/guile-ebpf-cli-~a" me))
(unless (file-exists? tmp) (mkdir tmp))
(define (write-file name text)
  (let ((f (string-append tmp "/" name)))
    (call-with-output-file f (lambda (p) (display text p)))
    f))

;; Run a shell command line; return (status stdout stderr).
(define (run fmt . args)
  (let* ((out (string-append tmp "/out"))
         (err (string-append tmp "/err"))
         (cmd (apply format #f fmt args))
         (status (system (format #f "~a >~a 2>~a" cmd out err))))
    (list (status:exit-val status) (read-file out) (read-file err))))
(define status car)
(define stdout cadr)
(define stderr caddr)

(define-syntax-rule (test-run name cmd expected-status (out-part ...) (err-part ...))
  (let ((r cmd))
    (test-assert name
      (or (and (eqv? (status r) expected-status)
               (string-contains (stdout r) out-part) ...
               (string-contains (stderr r) err-part) ...
               #t)
          (begin (format #t "# status ~s~%# stdout ~s~%# stderr ~s~%"
                         (status r) (stdout r) (stderr r))
                 #f)))))

;; A policy file: counts the getpid calls of the process COUNT_PID names.
(define policy-file
  (write-file "count.scm" "
(define who (string->number (or (getenv \"COUNT_PID\") \"0\")))
(defbpf-map cli_counts #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(bpf-fn cli_count (ctx) (when (= (pid) (const who)) (map-increment! cli_counts 0)))
(defbpf-program cli-counter #:kind 'tracepoint #:attach \"syscalls/sys_enter_getpid\"
  #:source cli_count #:constants `((who . ,who)))
(defbpf-policy cli-policy #:description \"counts getpid\"
  #:programs '(\"cli-counter\") #:maps '(\"cli-counts\"))
"))
(define bad-policy-file
  (write-file "bad.scm" "
(defbpf-map cli_bad #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 2)
(defbpf-policy cli-bad #:programs '(\"no-such-program\") #:maps '(\"cli-bad\"))
"))
(define no-policy-file (write-file "none.scm" "(define x 1)\n"))
(define pin-dir "/sys/fs/bpf/guile-ebpf/cli-policy")
(define manifest "/run/guile-ebpf/cli-policy/manifest.json")
(define (gone?) (not (or (file-exists? pin-dir) (file-exists? manifest))))

;;; ---- help, version, usage errors ----
(test-run "--help" (run "guile-ebpf --help") 0
          ("Usage: guile-ebpf COMMAND" "run FILE.scm" "apply FILE.scm" "status [POLICY]"
           "remove POLICY" "features" "c FILE.scm [NAME]" "Exit status:" "2  bad usage")
          ())
(test-run "help of a subcommand" (run "guile-ebpf apply --help") 0 ("Usage:") ())
(test-assert "--version"
  (let ((r (run "guile-ebpf --version")))
    (and (zero? (status r))
         (string-match "^guile-ebpf [0-9]+\\.[0-9]+" (stdout r)))))
(test-run "no command: usage, status 2" (run "guile-ebpf") 2 () ("Usage:"))
(test-run "unknown command: status 2" (run "guile-ebpf frobnicate") 2 ()
          ("unknown command \"frobnicate\"" "--help"))
(test-run "unknown option: status 2" (run "guile-ebpf apply ~a --bogus" policy-file) 2 ()
          ("unknown option --bogus"))
(test-run "missing argument: status 2" (run "guile-ebpf apply") 2 () ("missing argument"))
(test-run "extra argument: status 2" (run "guile-ebpf remove a b") 2 () ("unexpected argument"))
(test-run "bad --duration: status 2" (run "guile-ebpf run ~a --duration soon" policy-file) 2 ()
          ("--duration"))

;;; ---- errors: status 1, the key, the message and the Fix on stderr ----
(test-run "missing file" (run "guile-ebpf apply ~a/nowhere.scm" tmp) 1 ()
          ("ebpf-error" "nowhere.scm does not exist" "Fix:"))
(test-run "unknown program in a policy" (run "guile-ebpf apply ~a" bad-policy-file) 1 ()
          ("ebpf-validation-error" "policy cli-bad: no program named \"no-such-program\"" "Fix:"))
(test-run "a file without a policy" (run "guile-ebpf apply ~a" no-policy-file) 1 ()
          ("declares no policy" "Fix:"))
(test-run "status of an unknown policy" (run "guile-ebpf status no-such-policy") 1 ()
          ("ebpf-validation-error" "no-such-policy" "Fix:"))
(test-run "remove of an unknown policy" (run "guile-ebpf remove no-such-policy") 1 ()
          ("ebpf-error" "neither applied by this process nor pinned" "Fix:"))
(test-run "an error in the file" (run "guile-ebpf apply ~a" (write-file "broken.scm" "(car '())\n"))
          1 () ("Fix:"))

;;; ---- features and c ----
(test-run "features" (run "guile-ebpf features") 0 ("kernel-release: " "clang-version: " "bpffs-mounted: yes") ())
(test-run "c FILE" (run "guile-ebpf c ~a" policy-file) 0
          ("/* program cli-counter (tracepoint) */" "SEC(\"tracepoint" "cli_counts") ())
(test-run "c FILE NAME" (run "guile-ebpf c ~a cli_counter" policy-file) 0
          ("/* program cli-counter (tracepoint) */") ())
(test-run "c FILE with an unknown NAME" (run "guile-ebpf c ~a nope" policy-file) 1 ()
          ("declares no program \"nope\"" "Fix: name one of: cli-counter"))

;;; ---- apply --dry-run: the steps, nothing done ----
(test-run "apply --dry-run" (run "guile-ebpf apply ~a --dry-run --pin" policy-file) 0
          ("policy cli-policy: dry run, nothing done" "step 1 would create map cli-counts"
           "step 3 would attach cli-counter" "would write the manifest")
          ())
(test-assert "the dry run left nothing" (gone?))
(test-run "a failure injected in a dry run" (run "GUILE_EBPF_FAIL_AT_STEP=2 guile-ebpf apply ~a --dry-run" policy-file) 0
          ("would fail" "would undo step 1" "the apply would fail at step 2") ())

;;; ---- apply without --pin: applied, and gone with the command ----
(test-run "apply without --pin" (run "guile-ebpf apply ~a" policy-file) 0
          ("policy cli-policy: applied" "[attached]") ("without --pin the policies end"))
(test-assert "nothing left after it" (gone?))

;;; ---- a failure injected at step 4: status 1, everything undone ----
(test-run "apply --pin failing at step 4" (run "GUILE_EBPF_FAIL_AT_STEP=4 guile-ebpf apply ~a --pin" policy-file) 1
          () ("step 4 of 6 failed" "steps 1-3 were undone" "Fix:"))
(test-assert "nothing left after the failure" (gone?))

;;; ---- apply --pin, status, remove from other processes ----
(test-run "apply --pin" (run "COUNT_PID=~a guile-ebpf apply ~a --pin" me policy-file) 0
          ("policy cli-policy: applied" "[pinned]" "[written]" "pinned under /sys/fs/bpf/guile-ebpf/cli-policy") ())
(test-assert "pins and manifest are there" (and (file-exists? pin-dir) (file-exists? manifest)))
(calls 42 getpid)
(test-run "status lists the pinned policy" (run "guile-ebpf status") 0
          ("cli-policy  1 maps, 1 programs, digest ") ())
(test-run "status POLICY reads the pins" (run "guile-ebpf status cli-policy") 0
          ("policy cli-policy (pinned)" "description: counts getpid" "(exited)"
           "map cli-counts: array, key 4 bytes, value 8 bytes" "@cli-counts[0]: 42"
           "program cli-counter: tracepoint on syscalls/sys_enter_getpid, attached (1 link)")
          ())
(test-run "applying it pinned again is refused" (run "guile-ebpf apply ~a --pin" policy-file) 1 ()
          ("already pinned" "Fix: remove it first"))
(test-run "remove" (run "guile-ebpf remove cli-policy") 0
          ("policy cli-policy: removed (5 pins unlinked)") ())
(test-assert "nothing left under bpffs, no manifest" (gone?))
(test-run "status after remove: status 1" (run "guile-ebpf status cli-policy") 1 () ("Fix:"))
(test-run "remove after remove: status 1" (run "guile-ebpf remove cli-policy") 1 () ("Fix:"))

;;; ---- run: stats every interval, undone at the end ----
(test-run "run --duration" (run "COUNT_PID=~a guile-ebpf run ~a --duration 1.6 --interval 0.5" me policy-file) 0
          ("policy cli-policy: applied" "running; Ctrl-C to undo and exit"
           "cli-policy/cli-counter: " " runs (+" "time is up" "policy cli-policy: removed")
          ())
(test-assert "run left nothing" (gone?))
(test-run "run stopped by SIGTERM"
          (run "sh -c 'guile-ebpf run ~a --interval 0.5 & pid=$!; sleep 3; kill -TERM $pid; wait $pid'"
               policy-file)
          0 ("running;" "terminated" "policy cli-policy: removed") ())
(test-run "run stopped by SIGINT"
          (run "sh -c 'guile-ebpf run ~a --interval 0.5 & pid=$!; sleep 3; kill -INT $pid; wait $pid'"
               policy-file)
          0 ("interrupted" "policy cli-policy: removed") ())
(test-assert "the signals left nothing" (gone?))
(test-run "run --pin leaves it pinned" (run "COUNT_PID=~a guile-ebpf run ~a --pin --duration 0.5" me policy-file) 0
          ("stays pinned under /sys/fs/bpf/guile-ebpf/cli-policy" "guile-ebpf remove cli-policy") ())
(calls 5 getpid)
(test-equal "and it keeps counting" 5
            (let* ((m (bpf-policy-map "cli-policy" "cli-counts"))
                   (n (bpf-map-ref m 0)))
              (bpf-map-close! m)
              n))
(test-run "removed" (run "guile-ebpf remove cli-policy") 0 ("removed") ())
(test-assert "nothing left" (gone?))

;;; ---- the edge-protection example, for real ----
(let* ((r (run "guile --no-auto-compile -s ~a/examples/edge-protection.scm" (srcdir)))
       (out (stdout r))
       (number (lambda (label)
                 (let ((m (string-match (string-append label " ([0-9]+)") out)))
                   (and m (string->number (match:substring m 1)))))))
  (test-equal "example: exits 0" 0 (status r))
  (for-each (lambda (part)
              (test-assert (format #f "example prints ~s" part) (string-contains out part)))
            '("== The plan (a dry run: nothing is touched) =="
              "create-map      create map syn-counter (per-cpu-array"
              "attach-program  attach drop-syn-flood to"
              "[attached]"
              "SYNs dropped by the blocklist: 5"
              "syn-counter = rate + blocklist: yes"
              "policy removed: yes"
              "namespace and interfaces removed"))
  (test-assert "example: the well-behaved client and the first SYNs of the flooder pass"
               (>= (or (number "SYNs passed:") 0) 13))
  (test-assert "example: the flood is cut"
               (>= (or (number "SYNs dropped over the rate:") 0) 10))
  (test-assert "example: its interfaces are gone"
               (not (string-contains (stdout (run "ip -o link show")) "gedge"))))

(system* "rm" "-rf" tmp)
(harness-end)
