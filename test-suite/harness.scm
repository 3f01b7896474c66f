;;; (harness) --- SRFI-64 tests reported as TAP, in tiers.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Each test file calls (harness-begin NAME [TIER]) and (harness-end).
;;; Tiers: pure (no requirement), clang (needs clang), kernel (needs root
;;; or CAP_BPF, bpffs), fleet (buildah, skopeo, python3-jsonschema for
;;; the bpfman export, and the kernel).  When a tier's requirement is missing the whole
;;; file is skipped with the reason printed -- except under CI=true,
;;; where it fails: nothing is skipped in CI.

(define-module (harness)
  #:use-module (srfi srfi-64)
  #:use-module (ice-9 format)
  #:use-module (ebpf)
  #:use-module ((srfi srfi-1) #:select (any))
  #:use-module (ice-9 match)
  #:use-module (ice-9 rdelim)
  #:export (harness-begin harness-end test-ebpf-error ci?
            kernel-tier-problem fleet-tier-problem mount-bpffs! srcdir
            cgroup2-mount
            ebpf-scm-definition))

(define (ci?) (equal? (getenv "CI") "true"))

(define (srcdir)
  (or (getenv "abs_top_srcdir") "."))

;; The quoted value of (define NAME '...) in module/ebpf.scm: the tests
;; read (ebpf)'s %lazy-modules and internal lists from its source.
(define (ebpf-scm-definition name)
  (call-with-input-file (string-append (srcdir) "/module/ebpf.scm")
    (lambda (port)
      (let loop ()
        (let ((form (read port)))
          (cond ((eof-object? form) '())
                ((and (pair? form) (eq? (car form) 'define)
                      (eq? (cadr form) name))
                 (cadr (caddr form)))
                (else (loop))))))))

(define count 0)

(define (tap-runner)
  (let ((r (test-runner-null)))
    (test-runner-on-test-end!
     r
     (lambda (r)
       (set! count (+ count 1))
       (let ((kind (test-result-kind r))
             (name (or (test-runner-test-name r) "")))
         (case kind
           ((pass xfail) (format #t "ok ~a - ~a~%" count name))
           ((skip) (format #t "ok ~a - ~a # SKIP~%" count name))
           (else
            (format #t "not ok ~a - ~a~%" count name)
            (for-each (lambda (p)
                        (format #t "#   ~a: ~s~%" (car p) (cdr p)))
                      (test-result-alist r)))))
       (force-output)))
    r))

(define (mount-bpffs!)
  (unless (file-exists? "/sys/fs/bpf")
    (mkdir "/sys/fs/bpf"))
  (system "mountpoint -q /sys/fs/bpf || mount -t bpf bpffs /sys/fs/bpf"))

(define (cgroup2-mount)
  ;; Where cgroup2 is mounted (/proc/self/mounts), mounted at
  ;; /sys/fs/cgroup/unified first if it is nowhere.
  (define (mounted)
    (call-with-input-file "/proc/self/mounts"
      (lambda (p)
        (let loop ()
          (let ((l (read-line p)))
            (and (not (eof-object? l))
                 (match (string-split l #\space)
                   ((_ dir "cgroup2" . _) dir)
                   (_ (loop)))))))))
  (or (mounted)
      (begin
        (false-if-exception (mkdir "/sys/fs/cgroup/unified"))
        (system "mount -t cgroup2 none /sys/fs/cgroup/unified")
        "/sys/fs/cgroup/unified")))

(define (kernel-tier-problem)
  (cond
   ((not (assq-ref (bpf-features) 'cap-bpf))
    "needs root or CAP_BPF (run the suite as root)")
   (else
    (mount-bpffs!)
    (and (not (assq-ref (bpf-features #:refresh? #t) 'bpffs-mounted))
         "bpffs is not mounted at /sys/fs/bpf and could not be mounted"))))

(define (clang-tier-problem)
  (and (not (assq-ref (bpf-features) 'clang-version))
       "needs clang (apt-get install clang llvm)"))

(define (fleet-tier-problem)
  ;; Export for bpfman: the image tools and the CRD validator, then the
  ;; kernel for the round trip of the exported object.
  (define (missing? cmd)
    (not (zero? (status:exit-val
                 (system (string-append cmd " >/dev/null 2>&1"))))))
  (cond
   ((missing? "command -v buildah") "needs buildah (apt-get install buildah)")
   ((missing? "command -v skopeo") "needs skopeo (apt-get install skopeo)")
   ((missing? "python3 -c 'import jsonschema, yaml'")
    "needs python3-jsonschema and python3-yaml (apt-get install python3-jsonschema python3-yaml)")
   (else (or (clang-tier-problem) (kernel-tier-problem)))))

(define* (harness-begin name #:optional (tier 'pure))
  (let ((problem (case tier
                   ((kernel) (kernel-tier-problem))
                   ((clang) (clang-tier-problem))
                   ((fleet) (fleet-tier-problem))
                   (else #f))))
    (when problem
      (cond
       ((ci?)
        (format #t "not ok 1 - ~a: ~a tier cannot run: ~a~%1..1~%"
                name tier problem)
        (exit 1))
       (else
        (format #t "1..0 # SKIP ~a: ~a~%" name problem)
        (exit 0))))
    (test-runner-current (tap-runner))
    (test-begin name)))

(define (harness-end)
  (let ((r (test-runner-current)))
    (test-end)
    (format #t "1..~a~%" count)
    (exit 0)))

;; (test-ebpf-error NAME KEY (SUBSTRING ...) EXPR): EXPR raises KEY whose
;; message contains every SUBSTRING and a "Fix:" hint.
(define-syntax-rule (test-ebpf-error name key (part ...) expr)
  (test-assert name
    (catch #t
      (lambda () expr
        (format #t "# no error raised~%") #f)
      (lambda (k . args)
        (let ((msg (and (pair? args) (pair? (cdr args)) (cadr args))))
          (or (and (eq? k key) (string? msg)
                   (string-contains msg "Fix:")
                   (string-contains msg part) ...
                   #t)
              (begin
                (format #t "# got ~s ~s~%" k args)
                #f)))))))
