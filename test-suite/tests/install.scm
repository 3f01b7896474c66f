;;; make install into a temporary prefix, then the installed guile-ebpf
;;; run from there with none of the build tree on any path: --help, and a
;;; one-liner against the kernel counting an exact number of system calls
;;; of a workload.  The environment `make install' prints reaches the
;;; installed modules from a plain Guile.
(use-modules (harness) (srfi srfi-1) (srfi srfi-64)
             (ice-9 rdelim) (ice-9 regex) (ice-9 match) (ice-9 popen)
             (ice-9 textual-ports))

(harness-begin "install" 'kernel)

(define builddir (or (getenv "abs_top_builddir") (getcwd)))
(define prefix (format #f "/tmp/guile-ebpf-install-~a" (getpid)))

;; The run of `make install': (status . output).  Only installs: the tree
;; is built already.  The make running the tests must not lend this one
;; its job server or level.
(define install
  (let* ((cmd (format #f "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C '~a' install prefix='~a' 2>&1"
                      builddir prefix))
         (p (open-input-pipe cmd))
         (out (get-string-all p)))
    (cons (status:exit-val (close-pipe p)) out)))

(test-assert "make install prefix=TMP succeeds"
  (or (eqv? 0 (car install))
      (begin (format #t "# ~s~%" install) #f)))

;; The variables `make install' says to export: ((NAME . DIR) ...).
(define printed-env
  (filter-map (lambda (m) (cons (match:substring m 1) (match:substring m 2)))
              (list-matches "export (GUILE_[A-Z_]+)=\"([^$\"]+)"
                            (cdr install))))

(test-assert "make install prints the three GUILE_* variables under the prefix"
  (and (lset= equal? (map car printed-env)
              '("GUILE_LOAD_PATH" "GUILE_LOAD_COMPILED_PATH" "GUILE_EXTENSIONS_PATH"))
       (every (lambda (e) (string-prefix? prefix (cdr e))) printed-env)))

(define command (string-append prefix "/bin/guile-ebpf"))

;; An environment naming nothing of the build tree: no GUILE_* variable,
;; no GUILE_EBPF_BPF_INCLUDE, a PATH of system directories only.
(define clean-env
  (list "PATH=/usr/local/bin:/usr/bin:/bin" "HOME=/root" "LC_ALL=C"))

;; Run PROGRAM ARGS with environment ENV, standard output and error on a
;; pipe; returns (pid . port).
(define (spawn env program . args)
  (let* ((p (pipe))
         (pid (primitive-fork)))
    (if (zero? pid)
        (begin
          (close-port (car p))
          (dup2 (fileno (cdr p)) 1)
          (dup2 (fileno (cdr p)) 2)
          (apply execle program env program args))
        (begin
          (close-port (cdr p))
          (cons pid (car p))))))

(define (run env program . args)
  (let* ((c (apply spawn env program args))
         (out (get-string-all (cdr c))))
    (close-port (cdr c))
    (cons (status:exit-val (cdr (waitpid (car c)))) out)))

(define (no-build-tree? out)
  ;; Neither a path of the build tree nor a compilation: the installed
  ;; .go files were used.
  (not (or (string-contains out builddir)
           (string-contains out ";;; compiling")
           (string-contains out "newer than compiled"))))

(test-assert "the installed guile-ebpf --help runs without GUILE_* variables"
  (match (run clean-env command "--help")
    ((0 . out) (and (string-prefix? "Usage: guile-ebpf" out) (no-build-tree? out)))
    (r (format #t "# ~s~%" r) #f)))

;; A workload that makes exactly N write(2) calls once told to go.
(define n 23)
(define (spawn-waiting cmd)
  (let* ((p (pipe))
         (pid (primitive-fork)))
    (if (zero? pid)
        (begin
          (close-port (cdr p))
          (dup2 (fileno (car p)) 0)
          (execlp "sh" "sh" "-c" (string-append "read go; exec " cmd)))
        (begin
          (close-port (car p))
          (cons pid (cdr p))))))

(test-assert "the installed guile-ebpf runs a one-liner: exact count"
  (let* ((w (spawn-waiting
             (format #f "dd if=/dev/zero of=/dev/null bs=100 count=~a status=none" n)))
         (g (spawn clean-env command "-e"
                   (format #f "(on \"tracepoint:syscalls:sys_enter_write\" (when (= (pid) ~a) (count! @writes)))"
                           (car w))))
         (in (cdr g))
         (first (read-line in)))
    (cond
     ((or (eof-object? first) (not (string-prefix? "Attaching" first)))
      (kill (car w) SIGKILL) (waitpid (car w))
      (format #t "# ~s ~s~%" first (get-string-all in))
      (waitpid (car g))
      #f)
     (else
      (display "go\n" (cdr w))
      (close-port (cdr w))
      (waitpid (car w))
      (kill (car g) SIGINT)
      (let* ((rest (get-string-all in))
             (status (status:exit-val (cdr (waitpid (car g))))))
        (close-port in)
        (or (and (eqv? status 0)
                 (string-contains rest (format #f "@writes: ~a\n" n))
                 (no-build-tree? rest))
            (begin (format #t "# status ~s output ~s~%" status rest) #f)))))))

(test-assert "with the printed environment, a plain guile uses the installed (ebpf)"
  (match (run (append clean-env
                      (map (lambda (e) (string-append (car e) "=" (cdr e))) printed-env))
              "/bin/sh" "-c"
              "exec guile --no-auto-compile -c '(use-modules (ebpf)) (display (search-path %load-path \"ebpf.scm\")) (display (if (procedure? bpf-attach!) \" ok\" \" no\"))'")
    ((0 . out) (and (equal? out (string-append prefix "/share/guile/site/" (effective-version) "/ebpf.scm ok"))
                    (no-build-tree? out)))
    (r (format #t "# ~s~%" r) #f)))

(system* "rm" "-rf" prefix)

(harness-end)
