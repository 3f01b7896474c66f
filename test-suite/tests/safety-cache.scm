;;; The object cache trusts only what the effective user wrote: a cache
;;; directory reached through a link, owned by someone else or open to
;;; others, and planted, writable, linked or tampered entries are refused
;;; or rebuilt.  The key stands for clang by its binary, so a cold start
;;; runs clang only to build.  Most cases need root (chown to 65534).
(use-modules (harness) (ebpf) (ebpf build) (srfi srfi-1) (srfi srfi-64)
             (ice-9 binary-ports) (ice-9 textual-ports) (ice-9 ftw))

(harness-begin "safety-cache" 'clang)

(define root? (zero? (geteuid)))
(unless root?
  (format #t "# not root: the cases that chown to another uid cannot run~%"))

;; (root-test NAME EXPR): EXPR as a test when root; otherwise a failure
;; under CI=true and a skip elsewhere, never a pass.
(define-syntax-rule (root-test name expr)
  (if root?
      (test-assert name expr)
      (begin
        (unless (ci?) (test-skip 1))
        (test-assert (string-append name " (needs root)") #f))))

(define tmp (mkdtemp "/tmp/guile-ebpf-safety-cache-XXXXXX"))
(define (in-tmp . parts) (string-join (cons tmp parts) "/"))
(unsetenv "EBPF_CLANG")

(define (read-bytes file)
  (call-with-input-file file get-bytevector-all #:binary #t))
(define (write-bytes file bv)
  (call-with-output-file file (lambda (p) (put-bytevector p bv)) #:binary #t))
(define (write-file file text)
  (call-with-output-file file (lambda (p) (put-string p text))))
(define (perms file) (stat:perms (stat file)))
(define (stat-of key) (assq-ref (bpf-build-stats) key))

(define (xdp-program ret)
  (string-append
   "#include <linux/bpf.h>\n"
   "#include <bpf/bpf_helpers.h>\n"
   "SEC(\"xdp\") int f(struct xdp_md *c) { return "
   (number->string ret) "; }\n"
   "char LICENSE[] SEC(\"license\") = \"GPL\";\n"))

(define (with-xdg dir thunk)
  (let ((old (getenv "XDG_CACHE_HOME")))
    (dynamic-wind
      (lambda () (setenv "XDG_CACHE_HOME" dir))
      thunk
      (lambda () (if old (setenv "XDG_CACHE_HOME" old)
                     (unsetenv "XDG_CACHE_HOME"))))))

;;; The cache directory.

;; A root-owned 1777 directory (as /tmp is) that the cache directory links
;; to: chmod through the link would have made it 0700.
(define shared (in-tmp "shared"))
(mkdir shared)
(chmod shared #o1777)
(mkdir (in-tmp "linked"))
(symlink shared (in-tmp "linked" "guile-ebpf"))
(test-ebpf-error "a cache directory that is a symbolic link is refused"
                 'ebpf-compile-error ("symbolic link" "linked/guile-ebpf")
                 (with-xdg (in-tmp "linked")
                   (lambda () (bpf-build-c (xdp-program 1)))))
(test-ebpf-error "... by bpf-cache-dir too" 'ebpf-compile-error
                 ("symbolic link")
                 (with-xdg (in-tmp "linked") bpf-cache-dir))
(test-equal "... and the directory it points to keeps its mode 1777"
  #o1777 (perms shared))
(test-equal "... and gets nothing written into it" '()
  (scandir shared (lambda (n) (not (member n '("." ".."))))))

(mkdir (in-tmp "foreign"))
(mkdir (in-tmp "foreign" "guile-ebpf") #o755)
(chmod (in-tmp "foreign" "guile-ebpf") #o755)
(when root? (chown (in-tmp "foreign" "guile-ebpf") 65534 65534))
(root-test "a cache directory owned by another uid is refused"
  (catch 'ebpf-compile-error
    (lambda () (with-xdg (in-tmp "foreign")
                 (lambda () (bpf-build-c (xdp-program 1))))
      #f)
    (lambda (k subr msg . rest)
      (and (string-contains msg "belongs to uid 65534")
           (string-contains msg "Fix:")))))
(root-test "... and is left as it was: mode 0755, empty"
  (and (= #o755 (perms (in-tmp "foreign" "guile-ebpf")))
       (equal? '() (scandir (in-tmp "foreign" "guile-ebpf")
                            (lambda (n) (not (member n '("." ".."))))))))

(mkdir (in-tmp "open"))
(mkdir (in-tmp "open" "guile-ebpf"))
(chmod (in-tmp "open" "guile-ebpf") #o755)
(test-assert "a cache directory of ours with mode 0755 is used"
  (with-xdg (in-tmp "open") (lambda () (bpf-build-c (xdp-program 1)))))
(test-equal "... and made 0700" #o700 (perms (in-tmp "open" "guile-ebpf")))

(mkdir (in-tmp "loose"))
(chmod (in-tmp "loose") #o777)
(test-ebpf-error "a cache under a directory anyone can write is refused"
                 'ebpf-compile-error ("loose" "can change")
                 (with-xdg (string-append (in-tmp "loose") "/cache")
                   bpf-cache-dir))
(test-equal "... and nothing is made there" '()
  (scandir (in-tmp "loose") (lambda (n) (not (member n '("." ".."))))))

(mkdir (in-tmp "real"))
(symlink (in-tmp "real") (in-tmp "alias"))
(test-equal "a link above the cache that only we could make is followed"
  (in-tmp "alias" "guile-ebpf")
  (with-xdg (in-tmp "alias") bpf-cache-dir))
(test-assert "... to the real directory"
  (eq? 'directory (stat:type (lstat (in-tmp "real" "guile-ebpf")))))

(symlink (in-tmp "real") (string-append shared "/planted"))
(when root?
  (system* "chown" "-h" "65534:65534" (string-append shared "/planted")))
(root-test "a link above the cache that another uid made in a sticky dir is refused"
  (catch 'ebpf-compile-error
    (lambda () (with-xdg (string-append shared "/planted") bpf-cache-dir) #f)
    (lambda (k subr msg . rest)
      (and (string-contains msg "symbolic link")
           (string-contains msg "uid 65534")
           (string-contains msg "Fix:")))))

;;; Entries.

(define good (in-tmp "good"))
(setenv "XDG_CACHE_HOME" good)
(define obj (bpf-build-c (xdp-program 7)))
(define genuine (read-bytes obj))
(define genuine-digest (bpf-sha256 genuine))
(define sum (string-append (substring obj 0 (- (string-length obj) 2))
                           ".sha256"))
(define other-obj (bpf-build-c (xdp-program 8)))
(define other (read-bytes other-obj))
(define other-digest (string-append (bpf-sha256 other) "\n"))
(test-assert "two texts, two different objects"
  (not (equal? genuine-digest (bpf-sha256 other))))

;; Put another program's object (with its matching digest) in place of
;; OBJ through PLANT!, build again, and return whether the entry was
;; rebuilt into the genuine object: a regular file of ours, 0644 at most.
(define (rebuilt-after plant!)
  (plant!)
  (let* ((before (stat-of 'rebuilt-damaged))
         (path (bpf-build-c (xdp-program 7)))
         (st (lstat path)))
    (or (and (equal? path obj)
             (= (stat-of 'rebuilt-damaged) (+ before 1))
             (eq? 'regular (stat:type st))
             (= (stat:uid st) (geteuid))
             (zero? (logand (stat:perms st) #o022))
             (equal? genuine-digest (bpf-sha256 (read-bytes path)))
             (equal? (string-append genuine-digest "\n")
                     (call-with-input-file sum get-string-all)))
        (begin (format #t "# not rebuilt: ~s~%" (lstat path)) #f))))

(define (plant-other!)
  (delete-file obj)
  (delete-file sum)
  (write-bytes obj other)
  (write-file sum other-digest)
  (chmod obj #o644)
  (chmod sum #o644))

(test-assert "a genuine entry is a hit"
  (let ((hits (stat-of 'hits)))
    (bpf-build-c (xdp-program 7))
    (= (stat-of 'hits) (+ hits 1))))
(root-test "a planted entry owned by another uid is rebuilt"
  (rebuilt-after (lambda ()
                   (plant-other!)
                   (chown obj 65534 65534)
                   (chown sum 65534 65534))))
(root-test "a planted object owned by another uid with our digest file is rebuilt"
  (rebuilt-after (lambda () (plant-other!) (chown obj 65534 65534))))
(test-assert "a group-writable entry is rebuilt"
  (rebuilt-after (lambda () (plant-other!) (chmod obj #o664))))
(test-assert "an other-writable entry is rebuilt"
  (rebuilt-after (lambda () (plant-other!) (chmod obj #o646))))
(test-assert "an other-writable digest file is rebuilt"
  (rebuilt-after (lambda () (plant-other!) (chmod sum #o666))))
(define decoy (in-tmp "decoy.o"))
(test-assert "an entry that is a symbolic link is rebuilt"
  (rebuilt-after (lambda ()
                   (plant-other!)
                   (delete-file obj)
                   (write-bytes decoy other)
                   (symlink decoy obj))))
(test-assert "... and the file it pointed to is untouched"
  (equal? other (read-bytes decoy)))
(test-assert "a digest file that is a symbolic link is rebuilt"
  (rebuilt-after (lambda ()
                   (plant-other!)
                   (delete-file sum)
                   (write-file (in-tmp "decoy.sha256") other-digest)
                   (symlink (in-tmp "decoy.sha256") sum))))
(test-assert "a tampered object with the right name is rebuilt"
  (rebuilt-after (lambda ()
                   (delete-file obj)
                   (write-bytes obj other))))
(test-assert "an entry that is a FIFO is rebuilt, without hanging"
  (rebuilt-after (lambda ()
                   (delete-file obj)
                   (mknod obj 'fifo #o600 0))))

;;; vmlinux.h and its precompiled header.

(define core-text
  (string-append
   "#include \"vmlinux.h\"\n"
   "#include <bpf/bpf_helpers.h>\n"
   "#include <bpf/bpf_core_read.h>\n"
   "SEC(\"tracepoint/syscalls/sys_enter_getpid\")\n"
   "int k(void *ctx)\n"
   "{\n"
   "  struct task_struct *t = (void *) bpf_get_current_task ();\n"
   "  bpf_printk (\"%d\", BPF_CORE_READ (t, real_parent, tgid));\n"
   "  return 0;\n"
   "}\n"
   "char LICENSE[] SEC(\"license\") = \"GPL\";\n"))

(define btf? (file-exists? "/sys/kernel/btf/vmlinux"))
(unless btf?
  (format #t "# no kernel BTF: vmlinux.h cases skipped~%")
  (test-skip 5))
(define header (and btf? (bpf-vmlinux-header)))
(define (genuine-header? file)
  (let ((st (lstat file)))
    (and (eq? 'regular (stat:type st))
         (= (stat:uid st) (geteuid))
         (string-contains (call-with-input-file file get-string-all)
                          "struct task_struct {"))))
(test-assert "vmlinux.h that is a symbolic link is generated again"
  (let ((fake (in-tmp "fake-vmlinux.h")))
    (write-file fake "#error planted\n#endif /* __VMLINUX_H__ */\n")
    (delete-file header)
    (symlink fake header)
    (and (equal? header (bpf-vmlinux-header))
         (genuine-header? header)
         (string=? "#error planted\n#endif /* __VMLINUX_H__ */\n"
                   (call-with-input-file fake get-string-all)))))
(test-assert "an other-writable vmlinux.h is generated again"
  (begin
    (chmod header #o666)
    (bpf-vmlinux-header)
    (and (genuine-header? header)
         (zero? (logand (perms header) #o022)))))
(test-assert "a CO-RE program builds with the precompiled header"
  (and (bpf-build-c core-text)
       (pair? (scandir (dirname header)
                       (lambda (n) (string-suffix? ".pch" n))))))
(define (pch-file)
  (string-append (dirname header) "/"
                 (car (scandir (dirname header)
                               (lambda (n) (string-suffix? ".pch" n))))))
(if (and btf? root?)
    (test-assert "a precompiled header owned by another uid is made again"
      (let ((pch (pch-file)))
        (write-file pch "planted")
        (chown pch 65534 65534)
        (bpf-build-c (string-append core-text "/* again */\n"))
        (let ((st (lstat pch)))
          (and (eq? 'regular (stat:type st))
               (= (stat:uid st) (geteuid))
               (> (stat:size st) 1000)))))
    (begin
      (unless (ci?) (test-skip 1))
      (test-assert "a precompiled header owned by another uid (needs root)"
        #f)))
(test-assert "a vmlinux directory that is a symbolic link is replaced"
  (let ((dir (dirname header)))
    (system* "rm" "-rf" dir)
    (mkdir (in-tmp "fake-vdir"))
    (symlink (in-tmp "fake-vdir") dir)
    (and (equal? header (bpf-vmlinux-header))
         (eq? 'directory (stat:type (lstat dir)))
         (genuine-header? header)
         (equal? '() (scandir (in-tmp "fake-vdir")
                              (lambda (n) (not (member n '("." "..")))))))))

;;; clang is known by its binary: a cold start runs it only to build.

(define bin (in-tmp "bin"))
(define calls (in-tmp "clang-calls"))
(define real-clang
  ;; Absolute, so the wrapper found first in PATH does not run itself.
  (let ((c (bpf-feature 'clang)))
    (if (string-index c #\/)
        c
        (search-path (parse-path (getenv "PATH")) c))))
(mkdir bin)
(define (write-wrapper! comment)
  (write-file (string-append bin "/clang")
              (string-append "#!/bin/sh\n# " comment "\n"
                             "echo \"$*\" >> '" calls "'\n"
                             "exec '" real-clang "' \"$@\"\n"))
  (chmod (string-append bin "/clang") #o755))
(define (clang-calls)
  (if (file-exists? calls)
      (let ((text (call-with-input-file calls get-string-all)))
        (delete-file calls)
        (filter (lambda (l) (not (string-null? l)))
                (string-split text #\newline)))
      '()))
(define (with-wrapper thunk)
  (dynamic-wind
    (lambda () (setenv "EBPF_CLANG" (string-append bin "/clang")))
    thunk
    (lambda () (unsetenv "EBPF_CLANG"))))

(write-wrapper! "one")
(setenv "XDG_CACHE_HOME" (in-tmp "cold"))
(clang-calls)
(test-assert "the clang is a real one" (string? real-clang))
(test-equal "a cold build runs clang once" 1
  (begin (with-wrapper (lambda () (bpf-build-c (xdp-program 3))))
         (length (clang-calls))))
(test-equal "... a process that only hits runs it not at all" '()
  (begin
    (system* "env" (string-append "EBPF_CLANG=" bin "/clang")
             (string-append "XDG_CACHE_HOME=" (in-tmp "cold"))
             "guile" "--no-auto-compile" "-c"
             (string-append "(use-modules (ebpf build)) (bpf-build-c "
                            (object->string (xdp-program 3)) ")"))
    (clang-calls)))
(test-assert "... and a cold process never asks clang --version"
  (begin
    (system* "env" (string-append "EBPF_CLANG=" bin "/clang")
             (string-append "XDG_CACHE_HOME=" (in-tmp "cold2"))
             "guile" "--no-auto-compile" "-c"
             (string-append "(use-modules (ebpf build)) (bpf-build-c "
                            (object->string (xdp-program 3)) ")"))
    (let ((c (clang-calls)))
      (or (and (= 1 (length c))
               (not (any (lambda (l) (string-contains l "--version")) c)))
          (begin (format #t "# clang calls: ~s~%" c) #f)))))
(test-equal "a changed clang binary changes the key: a miss" 1
  (begin
    (write-wrapper! "two, a new clang")
    (let ((misses (stat-of 'misses)))
      (with-wrapper (lambda () (bpf-build-c (xdp-program 3))))
      (clang-calls)
      (- (stat-of 'misses) misses))))
(test-equal "clang is found in PATH as posix_spawnp finds it" 1
  (let ((path (getenv "PATH")))
    (dynamic-wind
      (lambda ()
        (setenv "PATH" (string-append bin ":" path))
        (setenv "EBPF_CLANG" "clang"))
      (lambda ()
        (bpf-build-c (xdp-program 4))
        (length (clang-calls)))
      (lambda ()
        (setenv "PATH" path)
        (unsetenv "EBPF_CLANG")))))
(test-ebpf-error "a clang that is nowhere in PATH" 'ebpf-compile-error
                 ("no-such-clang-here" "EBPF_CLANG")
                 (dynamic-wind
                   (lambda () (setenv "EBPF_CLANG" "no-such-clang-here"))
                   (lambda () (bpf-build-c (xdp-program 5)))
                   (lambda () (unsetenv "EBPF_CLANG"))))

(system* "rm" "-rf" tmp)
(harness-end)
