;;; Pins and removal are safe as root: a policy name cannot climb out of
;;; the pin root, a manifest is never trusted for a path outside the
;;; policy's pin directory, a symbolic link planted under the pin root is
;;; not followed, and nothing that is not on bpffs is unlinked.  Each
;;; hostile input is fed for real (the command line included) and the
;;; victim's files are checked to survive.
(use-modules (harness) (ebpf) (srfi srfi-1) (srfi srfi-64) (ice-9 rdelim)
             (ice-9 ftw) (ice-9 match) (ice-9 regex))

(harness-begin "safety-pins" 'kernel)

(define me (getpid))
(define (sh . args) (zero? (status:exit-val (apply system* args))))
(define (read-file f) (call-with-input-file f read-string))
(define (write-file path text)
  (call-with-output-file path (lambda (p) (display text p)))
  path)
(define tmp (format #f "/tmp/guile-ebpf-safety-pins-~a" me))
(unless (file-exists? tmp) (mkdir tmp))

;; Run a shell command line; return (status stdout stderr).
(define (run fmt . args)
  (let* ((out (string-append tmp "/out"))
         (err (string-append tmp "/err"))
         (cmd (apply format #f fmt args))
         (status (system (format #f "~a >~a 2>~a" cmd out err))))
    (list (status:exit-val status) (read-file out) (read-file err))))

;; A victim directory with two files, outside every pin root.
(define (make-victim! name)
  (let ((dir (string-append tmp "/" name)))
    (unless (file-exists? dir) (mkdir dir))
    (write-file (string-append dir "/a") "precious a\n")
    (write-file (string-append dir "/b") "precious b\n")
    dir))
(define (victim-intact? dir)
  (and (file-exists? dir)
       (equal? (read-file (string-append dir "/a")) "precious a\n")
       (equal? (read-file (string-append dir "/b")) "precious b\n")))

(define-syntax-rule (with-env ((var val) ...) body ...)
  (let ((old (list (getenv var) ...)))
    (dynamic-wind
      (lambda () (setenv var val) ...)
      (lambda () body ...)
      (lambda () (for-each (lambda (v o) (if o (setenv v o) (unsetenv v)))
                           (list var ...) old)))))

;; A pin root and a run directory of this file alone.
(define root (format #f "/sys/fs/bpf/gebpf-safety-~a" me))
(define run-dir (string-append tmp "/run"))
(sh "rm" "-rf" root)
(mkdir root)
(mkdir run-dir)

;;; ------------------------------------------------------------------
;;; The reproduced input: remove ../../../..$TMPDIR/victim.

(define victim (make-victim! "victim"))
(let ((r (run "GUILE_EBPF_PIN_ROOT=/sys/fs/bpf/x guile-ebpf remove ../../../..~a"
              victim)))
  (test-assert "remove ../../../..TMP/victim: refused, status 1"
    (and (= (car r) 1)
         (string-contains (caddr r) "ebpf-validation-error")
         (string-contains (caddr r) "is not a policy name")
         (string-contains (caddr r) "Fix:")))
  (test-assert "remove ../../../..TMP/victim: the victim survives"
    (victim-intact? victim)))
(let ((r (run "GUILE_EBPF_PIN_ROOT=/sys/fs/bpf/x guile-ebpf status ../../../..~a"
              victim)))
  (test-assert "status ../../../..TMP/victim: refused"
    (and (= (car r) 1) (string-contains (caddr r) "is not a policy name"))))
(test-assert "after status the victim survives" (victim-intact? victim))

;;; Every entry point refuses a name that is not an identifier.
(define traversal (string-append "../../../.." victim))
(test-ebpf-error "bpf-policy-remove! refuses a path" 'ebpf-validation-error
                 ("is not a policy name")
                 (bpf-policy-remove! traversal))
(test-ebpf-error "bpf-policy-status refuses a path" 'ebpf-validation-error
                 ("is not a policy name")
                 (bpf-policy-status traversal))
(test-ebpf-error "bpf-policy-apply! refuses a path" 'ebpf-validation-error
                 ("is not a policy name")
                 (bpf-policy-apply! "a/b" #:pin? #t))
(test-ebpf-error "bpf-policy-manifest refuses .." 'ebpf-validation-error
                 ("is not a policy name")
                 (bpf-policy-manifest ".."))
(test-ebpf-error "defbpf-policy refuses a slash" 'ebpf-validation-error
                 ("is not a valid name")
                 ((@@ (ebpf policy) make-bpf-policy) '((name . "a/b") (maps "m"))))
(test-ebpf-error "defbpf-policy refuses 65 characters" 'ebpf-validation-error
                 ("is not a valid name")
                 ((@@ (ebpf policy) make-bpf-policy) `((name . ,(make-string 65 #\a)) (maps "m"))))
(test-assert "defbpf-policy takes 64 characters and a leading digit"
  (bpf-policy? ((@@ (ebpf policy) make-bpf-policy) `((name . ,(string-append "9" (make-string 63 #\a)))
                                  (maps "m")))))
(test-ebpf-error "a name with a newline" 'ebpf-validation-error
                 ("is not a policy name")
                 (bpf-policy-remove! "ok\nrm"))
(test-assert "the victim survives every refusal" (victim-intact? victim))

;;; ------------------------------------------------------------------
;;; A manifest edited to point outside the pin root.

(defbpf-map safety_pins_m #:kind 'array #:key 'u32 #:value 'u64 #:max-entries 1)

(define (plant-policy! name)
  ;; A real pinned map in ROOT/NAME, as an apply leaves it.
  (let ((dir (string-append root "/" name)))
    (mkdir dir)
    (bpf-map-pin! safety_pins_m (string-append dir "/map:safety-pins-m"))
    dir))

(define (write-manifest! name pin-dir pins)
  (let ((dir (string-append run-dir "/" name)))
    (unless (file-exists? dir) (mkdir dir))
    (write-file (string-append dir "/manifest.json")
                (format #f "{\"format\": \"guile-ebpf policy manifest\", \"version\": 1,
 \"policy\": ~s, \"description\": null, \"digest\": \"00000000000000000000\",
 \"applied-by\": 1, \"applied-at\": 0, \"pin-dir\": ~s,
 \"maps\": [{\"name\": \"safety-pins-m\", \"kind\": \"array\", \"key-size\": 4,
            \"value-size\": 8, \"max-entries\": 1, \"pin\": ~s}],
 \"programs\": [{\"name\": \"p\", \"kind\": \"xdp\", \"target\": \"lo\",
                \"digest\": \"0\", \"pin\": ~s, \"dispatcher\": null,
                \"links\": [~s], \"pins\": [~s, ~s]}]}~%"
                        name pin-dir (car pins) (cadr pins) (cadr pins)
                        (car pins) (cadr pins)))))

(define victim2 (make-victim! "victim2"))
(with-env (("GUILE_EBPF_PIN_ROOT" root) ("GUILE_EBPF_RUN_DIR" run-dir))
  (define dir (plant-policy! "edited"))
  (write-manifest! "edited" victim2
                   (list (string-append victim2 "/a")
                         (string-append dir "/../../../.." victim2 "/b")))
  (let ((st (bpf-policy-status "edited")))
    (test-equal "status: the pin directory is the computed one, not the manifest's"
      dir (assq-ref st 'pin-dir))
    (test-assert "status: a pin outside the pin directory is not opened"
      (and (not (assq-ref (car (assq-ref st 'maps)) 'pin))
           (not (assq-ref (car (assq-ref st 'programs)) 'pin)))))
  (test-ebpf-error "bpf-policy-map does not open a map outside" 'ebpf-map-error
                   ("has no applied or pinned map")
                   (bpf-policy-map "edited" "safety-pins-m"))
  (let ((r (run "GUILE_EBPF_PIN_ROOT=~a GUILE_EBPF_RUN_DIR=~a guile-ebpf remove edited"
                root run-dir)))
    (test-assert "remove of the edited policy succeeds"
      (and (zero? (car r)) (string-contains (cadr r) "(1 pins unlinked)"))))
  (test-assert "the edited manifest's victim survives" (victim-intact? victim2))
  (test-assert "the real pin directory and the manifest are gone"
    (not (or (file-exists? dir) (file-exists? (string-append run-dir "/edited"))))))

;;; ------------------------------------------------------------------
;;; A symbolic link planted in the pin root, and one inside a pin
;;; directory.

(define victim3 (make-victim! "victim3"))
(with-env (("GUILE_EBPF_PIN_ROOT" root) ("GUILE_EBPF_RUN_DIR" run-dir))
  (test-assert "bpffs holds a planted symbolic link"
    (begin (symlink victim3 (string-append root "/planted"))
           (eq? 'symlink (stat:type (lstat (string-append root "/planted"))))))
  (test-ebpf-error "remove of a symbolic link to a directory is refused" 'ebpf-error
                   ("is not a directory of pins" "nothing was removed")
                   (bpf-policy-remove! "planted"))
  (let ((r (run "GUILE_EBPF_PIN_ROOT=~a guile-ebpf remove planted" root)))
    (test-assert "the command refuses it too" (= (car r) 1)))
  (test-assert "the link's target survives" (victim-intact? victim3))
  (defbpf-policy planted #:maps '("safety-pins-m"))
  (test-ebpf-error "a pinned apply through a planted symbolic link is refused" 'ebpf-error
                   ("is not a directory of pins" "nothing was done")
                   (bpf-policy-apply! planted #:pin? #t))
  (test-assert "the link's target got no pin" (equal? (sort (scandir victim3 (lambda (f) (not (member f '("." ".."))))) string<?)
                                                      '("a" "b")))
  (delete-file (string-append root "/planted"))

  (let ((dir (plant-policy! "linked")))
    (symlink (string-append victim3 "/a") (string-append dir "/link:p:0"))
    (let ((r (bpf-policy-remove! "linked")))
      (test-equal "a symbolic link inside a pin directory is unlinked, not followed"
        '("link:p:0" "map:safety-pins-m") (sort (assq-ref r 'pins) string<?)))
    (test-assert "its target survives" (victim-intact? victim3))
    (test-assert "the pin directory is gone" (not (file-exists? dir)))))

;;; ------------------------------------------------------------------
;;; Pins without a manifest (what an older apply killed midway left):
;;; status NAME knows them, remove cleans them.

(with-env (("GUILE_EBPF_PIN_ROOT" root) ("GUILE_EBPF_RUN_DIR" run-dir))
  (plant-policy! "orphan")
  (let ((st (bpf-policy-status "orphan")))
    (test-equal "pins without a manifest: status says incomplete"
      '(incomplete ("map:safety-pins-m"))
      (list (assq-ref st 'state) (assq-ref st 'pins))))
  (test-assert "and lists it" (member "orphan" (bpf-pinned-policy-names)))
  (let ((r (run "GUILE_EBPF_PIN_ROOT=~a GUILE_EBPF_RUN_DIR=~a guile-ebpf status orphan"
                root run-dir)))
    (test-assert "the command says how to remove it"
      (and (zero? (car r)) (string-contains (cadr r) "policy orphan (incomplete)")
           (string-contains (cadr r) "guile-ebpf remove orphan"))))
  (test-equal "remove cleans it" '("map:safety-pins-m")
    (assq-ref (bpf-policy-remove! "orphan") 'pins))
  (test-assert "gone" (not (file-exists? (string-append root "/orphan")))))

;;; ------------------------------------------------------------------
;;; A pin root that is not on bpffs: nothing is unlinked.

(define plain-root (string-append tmp "/plain-root"))
(mkdir plain-root)
(mkdir (string-append plain-root "/plain"))
(write-file (string-append plain-root "/plain/map:x") "a regular file\n")
(with-env (("GUILE_EBPF_PIN_ROOT" plain-root) ("GUILE_EBPF_RUN_DIR" run-dir))
  (test-ebpf-error "remove under a root off bpffs is refused" 'ebpf-error
                   ("is not on bpffs" "nothing was removed")
                   (bpf-policy-remove! "plain")))
(test-assert "the regular file survives"
  (equal? (read-file (string-append plain-root "/plain/map:x")) "a regular file\n"))

;;; ------------------------------------------------------------------
;;; The manifest directory: only regular files written there go.

(define victim4 (make-victim! "victim4"))
(with-env (("GUILE_EBPF_PIN_ROOT" root) ("GUILE_EBPF_RUN_DIR" run-dir))
  (plant-policy! "mlink")
  (mkdir (string-append run-dir "/mlink"))
  (symlink (string-append victim4 "/a") (string-append run-dir "/mlink/manifest.json"))
  (test-assert "a symbolic link as manifest is not read"
    (not (bpf-policy-manifest "mlink")))
  (bpf-policy-remove! "mlink")
  (test-assert "nor deleted through" (victim-intact? victim4))
  (test-assert "the link itself stays"
    (eq? 'symlink (stat:type (lstat (string-append run-dir "/mlink/manifest.json"))))))

(sh "rm" "-rf" root tmp)
(bpf-map-close! safety_pins_m)
(harness-end)
