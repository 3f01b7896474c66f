;;; (ebpf build) --- clang and the object cache.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Every BPF object guile-ebpf loads is built by the C core (build.c):
;;; clang with fixed flags, its output kept in a content-addressed cache
;;; under $XDG_CACHE_HOME/guile-ebpf.  This module wraps those primitives
;;; and adds the one cache operation that is plain file handling:
;;; clearing it.

(define-module (ebpf build)
  #:use-module (ebpf core)
  #:use-module (ice-9 regex)
  ;; Only clearing the cache lists a directory: (ice-9 ftw) and the
  ;; modules it loads stay out of every script's start-up.
  #:autoload (ice-9 ftw) (scandir)
  #:export (bpf-build-c
            bpf-build-file
            bpf-cache-dir
            bpf-cache-clear!
            bpf-build-stats
            bpf-clang-flags
            bpf-vmlinux-header
            bpf-sha256))

(define (bpf-build-c text)
  "Build the BPF C source @var{text} with clang and return the path of the
object, from the cache when the same text was built before with the same
clang and flags.  A text with the line @code{#include \"vmlinux.h\"} gets
the running kernel's types (generated once, precompiled).  Raises
@code{ebpf-compile-error} with clang's diagnostics under @code{log} and the
C under @code{c-source} in the error's details."
  (%bpf-build-c text))

(define (bpf-build-file file)
  "Build the BPF C file @var{file} (a @file{.bpf.c}) with clang through the
object cache and return the path of the object.  Quoted includes are found
beside @var{file}, and the headers there take part in the cache key.
Raises @code{ebpf-compile-error}."
  (%bpf-build-file file))

(define (bpf-cache-dir)
  "Return the directory of the object cache: @env{XDG_CACHE_HOME}/guile-ebpf,
or @file{~/.cache/guile-ebpf}, created with mode 0700.  The environment is
read at each call.  Raises @code{ebpf-compile-error} if the directory is a
symbolic link, belongs to another user, or lies under a directory others
can change."
  (%bpf-cache-dir))

(define %entry-rx
  ;; What build.c writes: KEY.o, KEY.sha256, vmlinux-DIGEST/, .tmp-XXXXXX,
  ;; and clang-version-ID (written by earlier versions, which remembered
  ;; clang's --version line there).
  (make-regexp "^([0-9a-f]{64}\\.(o|sha256)|vmlinux-[0-9a-f]{64}|clang-version-[0-9a-f]{16}|\\.tmp-.*)$"))

(define (delete-tree path)
  (if (eq? 'directory (stat:type (lstat path)))
      (begin
        (for-each (lambda (name)
                    (delete-tree (string-append path "/" name)))
                  (or (scandir path (lambda (n) (not (member n '("." "..")))))
                      '()))
        (rmdir path))
      (delete-file path)))

(define* (bpf-cache-clear! #:key (vmlinux? #t))
  "Delete the entries of the object cache and return how many were
deleted.  With @code{#:vmlinux? #f}, the generated @file{vmlinux.h} and its
precompiled forms are kept (they take a second or two to make again).
Files in the cache directory that guile-ebpf did not write are left alone."
  (let* ((dir (bpf-cache-dir))
         (names (or (scandir dir (lambda (n) (regexp-exec %entry-rx n))) '())))
    (let loop ((names names) (count 0))
      (cond
       ((null? names) count)
       ((and (not vmlinux?) (string-prefix? "vmlinux-" (car names)))
        (loop (cdr names) count))
       (else
        (let ((path (string-append dir "/" (car names))))
          (if (false-if-exception (begin (delete-tree path) #t))
              (loop (cdr names) (+ count 1))
              (loop (cdr names) count))))))))

(define (bpf-build-stats)
  "Return this process's object cache counters as an alist: @code{hits},
@code{misses} (built because absent) and @code{rebuilt-damaged} (built
again because the entry failed its check)."
  (%bpf-build-stats))

(define (bpf-clang-flags)
  "Return the flags guile-ebpf passes to clang for every BPF build, as a
list of strings."
  (%bpf-clang-flags))

(define (bpf-vmlinux-header)
  "Return the path of @file{vmlinux.h} for the running kernel, generating it
from @file{/sys/kernel/btf/vmlinux} into the cache first if needed.  Raises
@code{ebpf-compile-error} if the kernel has no BTF."
  (%bpf-vmlinux-header))

(define (bpf-sha256 data)
  "Return the SHA-256 digest of @var{data}, a bytevector or a string (taken
as UTF-8), as a string of 64 lowercase hex digits."
  (%bpf-sha256 data))
