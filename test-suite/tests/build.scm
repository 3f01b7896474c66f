;;; clang and the object cache: SHA-256, builds, hits, damage, errors,
;;; concurrency, CO-RE with vmlinux.h.
(use-modules (harness) (ebpf) (ebpf build) (srfi srfi-1) (srfi srfi-64)
             (ice-9 popen) (ice-9 rdelim) (ice-9 textual-ports)
             (ice-9 binary-ports) (ice-9 ftw) (rnrs bytevectors))

(harness-begin "build" 'clang)

;;; SHA-256 (FIPS 180-4 examples, and lengths around the padding edges).

(test-equal "sha256 abc"
  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
  (bpf-sha256 "abc"))
(test-equal "sha256 empty"
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
  (bpf-sha256 ""))
(test-equal "sha256 448 bits"
  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
  (bpf-sha256 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
(test-equal "sha256 896 bits"
  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
  (bpf-sha256 (string-append "abcdefghbcdefghicdefghijdefghijkefghijklfghijklm"
                             "ghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                             "mnopqrstnopqrstu")))
(test-equal "sha256 a million a"
  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
  (bpf-sha256 (make-bytevector 1000000 (char->integer #\a))))
(for-each
 (lambda (n+digest)
   (test-equal (format #f "sha256 of ~a bytes" (car n+digest))
     (cdr n+digest)
     (bpf-sha256 (make-string (car n+digest) #\x))))
 '((55 . "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072")
   (56 . "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e")
   (63 . "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2")
   (64 . "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c")
   (65 . "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9")
   (119 . "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c")
   (120 . "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98")
   (128 . "24da1b81d0b16df6428eee73c69fcb2a93c76bc6df706f0c6670fe6bfe800464")))
(test-equal "sha256 of a string is of its UTF-8"
  (bpf-sha256 (string->utf8 "λ→eBPF"))
  (bpf-sha256 "λ→eBPF"))
(test-assert "sha256 refuses other objects"
  (catch 'wrong-type-arg (lambda () (bpf-sha256 42) #f) (lambda _ #t)))

;;; A private cache: build.c reads XDG_CACHE_HOME at every call.

(define tmp (mkdtemp "/tmp/guile-ebpf-build-test-XXXXXX"))
(define xdg (string-append tmp "/xdg/cache"))   ; parents do not exist yet
(setenv "XDG_CACHE_HOME" xdg)
(unsetenv "EBPF_CLANG")

(define (stat-of key) (assq-ref (bpf-build-stats) key))
(define (delta key thunk)
  ;; How much counter KEY moved while THUNK ran, and THUNK's value.
  (let* ((before (stat-of key))
         (v (thunk)))
    (values (- (stat-of key) before) v)))

(define (read-bytes file) (call-with-input-file file get-bytevector-all
                            #:binary #t))
(define (elf? file)
  (let ((bv (read-bytes file)))
    (and (bytevector? bv) (> (bytevector-length bv) 4)
         (equal? (bytevector->u8-list (bytevector-copy-prefix bv 4))
                 '(#x7f #x45 #x4c #x46)))))
(define (bytevector-copy-prefix bv n)
  (let ((out (make-bytevector n)))
    (bytevector-copy! bv 0 out 0 n)
    out))

(define (xdp-program ret)
  (string-append
   "#include <linux/bpf.h>\n"
   "#include <bpf/bpf_helpers.h>\n"
   "SEC(\"xdp\") int f(struct xdp_md *c) { return " (number->string ret) "; }\n"
   "char LICENSE[] SEC(\"license\") = \"GPL\";\n"))

(test-equal "the cache dir follows XDG_CACHE_HOME"
  (string-append xdg "/guile-ebpf") (bpf-cache-dir))
(test-equal "the cache dir is mode 0700" #o700
  (stat:perms (stat (bpf-cache-dir))))
(test-equal "its missing parents are made 0700 too" #o700
  (stat:perms (stat xdg)))

(test-assert "the clang flags are the fixed BPF ones"
  (let ((f (bpf-clang-flags)))
    (and (member "-g" f) (member "-O2" f) (member "-mcpu=v3" f)
         (member "bpf" (or (member "-target" f) '())) #t)))

(define obj1 #f)
(test-equal "a first build is a miss" 1
  (call-with-values (lambda () (delta 'misses (lambda () (bpf-build-c (xdp-program 2)))))
    (lambda (d path) (set! obj1 path) d)))
(test-assert "the object is ELF" (elf? obj1))
(test-assert "the object lives in the cache"
  (string-prefix? (bpf-cache-dir) obj1))
(test-equal "its stored digest is the object's"
  (bpf-sha256 (read-bytes obj1))
  (call-with-input-file (string-append (string-drop-right obj1 2) ".sha256")
    read-line))

(test-equal "building it again is a hit" 1
  (call-with-values (lambda () (delta 'hits (lambda () (bpf-build-c (xdp-program 2)))))
    (lambda (d path) d)))
(test-equal "... with the same path" obj1 (bpf-build-c (xdp-program 2)))
(test-assert "another text, another object"
  (not (equal? obj1 (bpf-build-c (xdp-program 1)))))

(define (overwrite! file offset bytes)
  (let ((port (open file (logior O_WRONLY))))
    (seek port offset SEEK_SET)
    (put-bytevector port (u8-list->bytevector bytes))
    (close-port port)))

(test-equal "a damaged object is rebuilt" 1
  (begin
    (overwrite! obj1 64 '(1 2 3 4 5 6 7 8))
    (call-with-values (lambda () (delta 'rebuilt-damaged
                                        (lambda () (bpf-build-c (xdp-program 2)))))
      (lambda (d path) d))))
(test-equal "... and whole again" (bpf-sha256 (read-bytes obj1))
  (call-with-input-file (string-append (string-drop-right obj1 2) ".sha256")
    read-line))
(test-equal "a truncated object is rebuilt" 1
  (begin
    (truncate-file obj1 0)
    (call-with-values (lambda () (delta 'rebuilt-damaged
                                        (lambda () (bpf-build-c (xdp-program 2)))))
      (lambda (d path) d))))
(test-assert "... and is ELF again" (elf? obj1))
(test-equal "a lost digest makes the entry damaged" 1
  (begin
    (delete-file (string-append (string-drop-right obj1 2) ".sha256"))
    (call-with-values (lambda () (delta 'rebuilt-damaged
                                        (lambda () (bpf-build-c (xdp-program 2)))))
      (lambda (d path) d))))
(test-equal "then it is a hit again" 1
  (call-with-values (lambda () (delta 'hits (lambda () (bpf-build-c (xdp-program 2)))))
    (lambda (d path) d)))

;;; Compile errors.

(define (compile-failure thunk)
  ;; (key message details) of what THUNK raised, or #f.
  (catch #t
    (lambda () (thunk) #f)
    (lambda (key . args)
      (list key (ebpf-error-message args) (ebpf-error-details args)))))

(define bad-text "int ok = 1;\nint bad = ;\n")
(define failure (compile-failure (lambda () (bpf-build-c bad-text))))
(test-equal "a syntax error is an ebpf-compile-error" 'ebpf-compile-error
  (and failure (car failure)))
(test-assert "the message has clang's first error line"
  (and failure (string-contains (cadr failure) "<stdin>:2:")
       (string-contains (cadr failure) "error:")))
(test-assert "the message has a Fix"
  (and failure (string-contains (cadr failure) "Fix: ")))
(test-assert "the details have clang's diagnostics under 'log"
  (and failure
       (let ((log (assq-ref (caddr failure) 'log)))
         (and (string? log) (string-contains log "expected expression")
              (string-contains log "1 error generated")))))
(test-equal "the details have the C under 'c-source" bad-text
  (and failure (assq-ref (caddr failure) 'c-source)))

(define scm-failure
  (compile-failure
   (lambda ()
     (bpf-build-c (string-append "int ok = 1;\n#line 7 \"policy.scm\"\n"
                                 "int bad = ;\n")))))
(test-assert "#line directives make the message name the .scm line"
  (and scm-failure (eq? (car scm-failure) 'ebpf-compile-error)
       (string-contains (cadr scm-failure) "policy.scm:7:")))

(test-ebpf-error "a clang that does not exist" 'ebpf-compile-error
                 ("/nonexistent/clang" "EBPF_CLANG")
                 (dynamic-wind
                   (lambda () (setenv "EBPF_CLANG" "/nonexistent/clang"))
                   (lambda () (bpf-build-c (xdp-program 3)))
                   (lambda () (unsetenv "EBPF_CLANG"))))
(test-assert "the real clang works again afterwards"
  (elf? (bpf-build-c (xdp-program 3))))

(test-assert "an empty EBPF_CLANG means the default"
  (dynamic-wind
    (lambda () (setenv "EBPF_CLANG" ""))
    (lambda () (elf? (bpf-build-c (xdp-program 3))))
    (lambda () (unsetenv "EBPF_CLANG"))))

;;; Files.

(define src-dir (string-append tmp "/src"))
(mkdir src-dir)
(define (write-file file text)
  (call-with-output-file file (lambda (p) (put-string p text))))
(write-file (string-append src-dir "/ret.h") "#define RET 2\n")
(write-file (string-append src-dir "/prog.bpf.c")
            (string-append "#include <linux/bpf.h>\n"
                           "#include <bpf/bpf_helpers.h>\n"
                           "#include \"ret.h\"\n"
                           "SEC(\"xdp\") int f(struct xdp_md *c) { return RET; }\n"
                           "char LICENSE[] SEC(\"license\") = \"GPL\";\n"))
(define file-obj (bpf-build-file (string-append src-dir "/prog.bpf.c")))
(test-assert "a .bpf.c file builds, with its quoted includes" (elf? file-obj))
(test-equal "building the file again is a hit" 1
  (call-with-values
      (lambda () (delta 'hits (lambda () (bpf-build-file (string-append src-dir "/prog.bpf.c")))))
    (lambda (d path) d)))
(test-assert "a header beside the file is part of the key"
  (begin
    (write-file (string-append src-dir "/ret.h") "#define RET 1\n")
    (not (equal? file-obj (bpf-build-file (string-append src-dir "/prog.bpf.c"))))))
(write-file (string-append src-dir "/bad.bpf.c") "int a;\nint b = ;\n")
(define file-failure
  (compile-failure (lambda () (bpf-build-file (string-append src-dir "/bad.bpf.c")))))
(test-assert "errors in a file name the file and line"
  (and file-failure
       (string-contains (cadr file-failure)
                        (string-append src-dir "/bad.bpf.c:2:"))))
(test-ebpf-error "a missing file" 'ebpf-compile-error ("no-such.bpf.c")
                 (bpf-build-file (string-append src-dir "/no-such.bpf.c")))

;;; Concurrency: processes building the same new text at once all succeed
;;; and agree.

(define guile-program
  ;; The guile running this file (its command line names the test file).
  (or (false-if-exception (readlink "/proc/self/exe")) "guile"))
(define race-text
  (string-append (xdp-program 2) "/* race " (number->string (getpid)) " "
                 (number->string (current-time)) " */\n"))
(define race-file (string-append tmp "/race.c"))
(write-file race-file race-text)
(define (start-builder)
  (open-pipe* OPEN_READ guile-program "--no-auto-compile" "-c"
              (format #f "(use-modules (ebpf build) (ice-9 textual-ports))
                          (display (bpf-build-c (call-with-input-file ~s get-string-all)))"
                      race-file)))
(let* ((pipes (map (lambda (i) (start-builder)) (iota 4)))
       (outputs (map get-string-all pipes))
       (statuses (map close-pipe pipes)))
  (test-assert "concurrent builders all succeed"
    (every (lambda (s) (eqv? 0 (status:exit-val s))) statuses))
  (test-assert "... and agree on the object"
    (and (every (lambda (o) (equal? o (car outputs))) outputs)
         (string-suffix? ".o" (car outputs))))
  (test-equal "... which is a hit here" 1
    (call-with-values (lambda () (delta 'hits (lambda () (bpf-build-c race-text))))
      (lambda (d path) d)))
  (test-assert "... and left no temporary files"
    (null? (scandir (bpf-cache-dir) (lambda (n) (string-prefix? ".tmp-" n))))))

;;; CO-RE: vmlinux.h generated from the kernel BTF, precompiled.

(define core-text
  (string-append
   "#include \"vmlinux.h\"\n"
   "#include <bpf/bpf_helpers.h>\n"
   "#include <bpf/bpf_core_read.h>\n"
   "SEC(\"kprobe/do_nanosleep\")\n"
   "int k(void *ctx)\n"
   "{\n"
   "  struct task_struct *t = (void *) bpf_get_current_task ();\n"
   "  int tgid = BPF_CORE_READ (t, real_parent, tgid);\n"
   "  bpf_printk (\"%d\", tgid);\n"
   "  return 0;\n"
   "}\n"
   "char LICENSE[] SEC(\"license\") = \"GPL\";\n"))

(cond
 ((not (file-exists? "/sys/kernel/btf/vmlinux"))
  (test-skip 4)
  (format #t "# no kernel BTF: CO-RE tests skipped~%")))
(define header #f)
(test-assert "vmlinux.h is generated from the kernel's BTF"
  (begin
    (set! header (bpf-vmlinux-header))
    (let ((text (call-with-input-file header get-string-all)))
      (and (string-contains text "struct task_struct {")
           (string-contains text "preserve_access_index")
           (string-contains text "#endif /* __VMLINUX_H__ */")))))
(test-assert "a CO-RE program with BPF_CORE_READ builds"
  (elf? (bpf-build-c core-text)))
(test-assert "vmlinux.h was precompiled beside it"
  (pair? (scandir (dirname header) (lambda (n) (string-suffix? ".pch" n)))))
(test-assert "a stale precompiled header is dropped, and the build still works"
  (let ((pch (car (scandir (dirname header)
                           (lambda (n) (string-suffix? ".pch" n))))))
    (write-file (string-append (dirname header) "/" pch) "not a PCH")
    (elf? (bpf-build-c (string-append core-text "/* again */\n")))))

;;; Clearing, and the environment read at each call.

(test-assert "bpf-cache-clear! #:vmlinux? #f keeps vmlinux.h"
  (and (> (bpf-cache-clear! #:vmlinux? #f) 0)
       (or (not header) (file-exists? header))
       (not (file-exists? obj1))))
(test-equal "after clearing, a build is a miss" 1
  (call-with-values (lambda () (delta 'misses (lambda () (bpf-build-c (xdp-program 2)))))
    (lambda (d path) d)))
(test-assert "bpf-cache-clear! leaves files it did not write"
  (let ((mine (string-append (bpf-cache-dir) "/README")))
    (write-file mine "mine")
    (bpf-cache-clear!)
    (and (file-exists? mine)
         (equal? '("README")
                 (scandir (bpf-cache-dir)
                          (lambda (n) (not (member n '("." "..")))))))))

(define other-xdg (string-append tmp "/other"))
(test-equal "a new XDG_CACHE_HOME is used at the next call"
  (string-append other-xdg "/guile-ebpf")
  (begin (setenv "XDG_CACHE_HOME" other-xdg) (bpf-cache-dir)))

(define foreign-xdg (string-append tmp "/foreign"))
(if (zero? (getuid))
    (begin
      (mkdir foreign-xdg)
      (mkdir (string-append foreign-xdg "/guile-ebpf") #o700)
      (chown (string-append foreign-xdg "/guile-ebpf") 65534 65534)
      (setenv "XDG_CACHE_HOME" foreign-xdg)
      (test-ebpf-error "a cache dir of another user is refused"
                       'ebpf-compile-error ("belongs to uid 65534")
                       (bpf-build-c (xdp-program 2))))
    (begin
      (test-skip 1)
      (test-assert "a cache dir of another user is refused (needs root)" #f)))

(setenv "XDG_CACHE_HOME" xdg)
(system* "rm" "-rf" tmp)
(harness-end)
