;;; (ebpf probes) --- the probes a glob matches, as bpftrace -l lists them.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf events), which re-exports the public names.  Each kind
;;; of probe is listed from where the kernel or the binary says it
;;; exists: tracepoints from tracefs, fentry/fexit targets and LSM hooks
;;; from vmlinux BTF (functions ftrace can hook), uprobes from a binary's
;;; ELF symbol tables, USDT probes from its SystemTap notes.
;;; bpf-probe-info adds a tracepoint's fields and whether the kernel
;;; lets the probe attach.

(define-module (ebpf probes)
  #:use-module ((ebpf core) #:select (%bpf-btf-functions %bpf-tracefs
                                      %bpf-tracepoint-format))
  #:use-module (ebpf error)
  #:use-module ((ebpf syntax) #:select (glob->regexp))
  #:use-module ((ebpf deploy) #:select (tracepoints-matching))
  #:use-module ((ebpf features) #:select (bpf-features))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 match)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 regex)
  #:use-module (rnrs bytevectors)
  ;; Only uprobe and usdt listing reads ELF files: (ebpf) starts without
  ;; loading the ELF reader.
  #:autoload (system vm elf) (parse-elf elf-bytes elf-sections elf-section
                              elf-section-by-name elf-section-type
                              elf-section-link elf-section-offset
                              elf-section-size elf-symbol-table-len
                              elf-symbol-table-ref elf-symbol-name
                              elf-symbol-type elf-symbol-shndx
                              elf-symbol-value SHT_SYMTAB SHT_DYNSYM STT_FUNC)
  #:export (bpf-list-probes
            bpf-probe-info))

(define traceable #f)
(define (traceable-functions)
  ;; Functions ftrace can hook (available_filter_functions), or #f when
  ;; that list cannot be read.
  (unless traceable
    (set! traceable
          (or (false-if-exception
               (let ((file (string-append (%bpf-tracefs)
                                          "/available_filter_functions"))
                     (table (make-hash-table 100000)))
                 (call-with-input-file file
                   (lambda (in)
                     (let lp ()
                       (let ((line (read-line in)))
                         (unless (eof-object? line)
                           (let ((sp (string-index line #\space)))
                             (hash-set! table (if sp (substring line 0 sp) line) #t))
                           (lp))))))
                 table))
              'none)))
  (and (hash-table? traceable) traceable))

(define btf-functions #f)
(define (kernel-functions)
  (unless btf-functions
    (set! btf-functions
          (catch #t %bpf-btf-functions (lambda _ '()))))
  btf-functions)

(define (fentry-targets rx)
  (let ((ok (traceable-functions)))
    (filter (lambda (f)
              (and (regexp-exec rx f)
                   (not (string-prefix? "bpf_lsm_" f))
                   (or (not ok) (hash-ref ok f))))
            (kernel-functions))))

(define (lsm-hooks rx)
  (filter-map (lambda (f)
                (and (string-prefix? "bpf_lsm_" f)
                     (let ((hook (substring f 8)))
                       (and (regexp-exec rx hook) hook))))
              (kernel-functions)))

(define (elf-of path who)
  (unless (and (string? path) (file-exists? path))
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "no binary ~s" path)
                      #:fix "give the path of an ELF file, e.g. uprobe:/bin/bash:read*"))
  (catch #t
    (lambda () (parse-elf (call-with-input-file path get-bytevector-all #:binary #t)))
    (lambda _
      (raise-ebpf-error 'ebpf-validation-error who
                        (format #f "~a is not an ELF file" path)
                        #:fix "give the path of an executable or shared library"))))

(define (elf-functions path rx)
  ;; Defined function symbols of PATH (.symtab and .dynsym) matching RX.
  (let* ((elf (elf-of path 'bpf-list-probes))
         (names (make-hash-table)))
    (for-each
     (lambda (sec)
       (when (memv (elf-section-type sec) (list SHT_SYMTAB SHT_DYNSYM))
         (let ((n (elf-symbol-table-len sec))
               (strtab (elf-section elf (elf-section-link sec))))
           (do ((i 1 (+ i 1))) ((>= i n))
             (let ((sym (elf-symbol-table-ref elf sec i strtab)))
               (when (and (= (elf-symbol-type sym) STT_FUNC)
                          (not (zero? (elf-symbol-shndx sym)))
                          (not (zero? (elf-symbol-value sym)))
                          (regexp-exec rx (elf-symbol-name sym)))
                 (hash-set! names (elf-symbol-name sym) #t)))))))
     (elf-sections elf))
    (sort (hash-map->list (lambda (k v) k) names) string<?)))

(define (c-string bv start)
  (let lp ((i start))
    (if (or (>= i (bytevector-length bv)) (zero? (bytevector-u8-ref bv i)))
        (values (utf8->string (let ((out (make-bytevector (- i start))))
                                (bytevector-copy! bv start out 0 (- i start))
                                out))
                (+ i 1))
        (lp (+ i 1)))))

(define (elf-usdt-notes path)
  ;; (PROVIDER . NAME) of the SystemTap SDT notes of PATH.
  (let* ((elf (elf-of path 'bpf-list-probes))
         (sec (elf-section-by-name elf ".note.stapsdt"))
         (bv (elf-bytes elf))
         (acc '()))
    (when sec
      (let ((end (+ (elf-section-offset sec) (elf-section-size sec)))
            (align (lambda (n) (* 4 (quotient (+ n 3) 4)))))
        (let lp ((off (elf-section-offset sec)))
          (when (< (+ off 12) end)
            (let* ((namesz (bytevector-u32-native-ref bv off))
                   (descsz (bytevector-u32-native-ref bv (+ off 4)))
                   (type (bytevector-u32-native-ref bv (+ off 8)))
                   (desc (+ off 12 (align namesz))))
              (when (= type 3)
                ;; Three addresses (pc, base, semaphore), then strings.
                (let*-values (((provider next) (c-string bv (+ desc 24)))
                              ((name _) (c-string bv next)))
                  (set! acc (cons (cons provider name) acc))))
              (lp (+ desc (align descsz))))))))
    (delete-duplicates (reverse acc))))

(define (trampoline-problem)
  ;; Why fentry, fexit and lsm cannot attach here, or #f.
  (let ((f (false-if-exception (bpf-features))))
    (and f (not (assq-ref f 'fentry))
         (format #f "this kernel refuses trampolines (~a)"
                 (or (assq-ref f 'fentry-error) "fentry unsupported")))))

(define (tracepoint-fields tp)
  ;; ((TYPE . NAME) ...) of tracepoint "G:N", its common_ fields left out,
  ;; from the kernel model's reading of its format.
  (let ((sep (string-index tp #\:)))
    (map (lambda (field) (cons (assq-ref field 'type) (assq-ref field 'name)))
         (or (and sep (%bpf-tracepoint-format (substring tp 0 sep)
                                              (substring tp (+ sep 1))))
             '()))))

(define (bpf-probe-info probe)
  "Return what is known about @var{probe} (one of the strings
@code{bpf-list-probes} returns) as an alist: @code{(probe . PROBE)},
@code{(available . #t or #f)}, @code{(reason . TEXT)} when it is not,
and for a tracepoint @code{(fields (TYPE . NAME) ...)} from its format
file, as @command{bpftrace -lv} shows them."
  (let* ((colon (string-index probe #\:))
         (kind (if colon (substring probe 0 colon) ""))
         (rest (if colon (substring probe (+ colon 1)) probe))
         (problem (and (member kind '("fentry" "fexit" "lsm")) (trampoline-problem))))
    `((probe . ,probe)
      (available . ,(not problem))
      ,@(if problem `((reason . ,problem)) '())
      ,@(if (equal? kind "tracepoint") `((fields . ,(tracepoint-fields rest))) '()))))

(define* (bpf-list-probes #:optional (glob "*"))
  "Return the attach points matching @var{glob} as @command{bpftrace -l}
lists them, sorted within each kind: @samp{tracepoint:CATEGORY:NAME},
@samp{rawtracepoint:NAME}, @samp{fentry:FUNCTION} (kernel functions with
BTF that ftrace can hook: targets of fentry and fexit programs),
@samp{lsm:HOOK}, @samp{uprobe:PATH:SYMBOL} (the functions of binary
PATH) and @samp{usdt:PATH:PROVIDER:NAME} (its SystemTap SDT notes).
@var{glob} uses @code{*}, @code{?} and @code{[...]}; a kind prefix
(@code{tracepoint:}, @code{rawtracepoint:}, @code{fentry:},
@code{kfunc:}, @code{fexit:}, @code{lsm:}, @code{uprobe:PATH:},
@code{usdt:PATH:}) restricts the search to that kind; without one,
@samp{CATEGORY:NAME} searches tracepoints and a bare name every kernel
kind.  Where this kernel refuses trampolines, fentry, fexit and lsm
points are still listed; @code{bpf-probe-info} says they cannot attach.
Examples: @code{(bpf-list-probes \"syscalls:sys_enter_open*\")},
@code{(bpf-list-probes \"lsm:file_*\")},
@code{(bpf-list-probes \"uprobe:/bin/bash:read*\")}."
  (unless (string? glob)
    (raise-ebpf-error 'ebpf-validation-error 'bpf-list-probes
                      (format #f "bad glob ~s" glob)
                      #:fix "give a string such as \"syscalls:sys_enter_open*\""))
  (let* ((colon (string-index glob #\:))
         (kind (and colon (substring glob 0 colon)))
         (rest (if colon (substring glob (+ colon 1)) glob))
         (tps (lambda (g)
                (map (lambda (t) (string-append "tracepoint:" t))
                     (tracepoints-matching g))))
         (raw (lambda (g)
                (let ((rx (glob->regexp g)))
                  (sort (delete-duplicates
                         (filter-map (lambda (t)
                                       (let ((n (substring t (+ 1 (string-index t #\:)))))
                                         (and (regexp-exec rx n)
                                              (string-append "rawtracepoint:" n))))
                                     (tracepoints-matching "*:*")))
                        string<?))))
         (fentry (lambda (g prefix)
                   (map (lambda (f) (string-append prefix f))
                        (fentry-targets (glob->regexp g)))))
         (lsm (lambda (g)
                (map (lambda (h) (string-append "lsm:" h))
                     (lsm-hooks (glob->regexp g)))))
         (path+glob (lambda (r)
                      ;; "PATH:GLOB" or "PATH" (every symbol).
                      (let ((c (string-index r #\:)))
                        (if c
                            (values (substring r 0 c) (substring r (+ c 1)))
                            (values r "*"))))))
    (cond
     ((not kind)
      (append (tps (string-append "*:" glob))
              (raw glob)
              (fentry glob "fentry:")
              (lsm glob)))
     ((member kind '("tracepoint" "t"))
      (tps (if (string-index rest #\:) rest (string-append "*:" rest))))
     ((member kind '("rawtracepoint" "rt")) (raw rest))
     ((member kind '("fentry" "kfunc" "f")) (fentry rest "fentry:"))
     ((member kind '("fexit" "kretfunc")) (fentry rest "fexit:"))
     ((equal? kind "lsm") (lsm rest))
     ((member kind '("uprobe" "u" "uretprobe" "ur"))
      (let-values (((path g) (path+glob rest)))
        (map (lambda (s) (string-append (if (member kind '("uretprobe" "ur")) "uretprobe:" "uprobe:")
                                        path ":" s))
             (elf-functions path (glob->regexp g)))))
     ((equal? kind "usdt")
      (let-values (((path g) (path+glob rest)))
        (let ((rx (glob->regexp g)))
          (filter-map (match-lambda
                        ((provider . name)
                         (and (or (regexp-exec rx name)
                                  (regexp-exec rx (string-append provider ":" name)))
                              (string-append "usdt:" path ":" provider ":" name))))
                      (elf-usdt-notes path)))))
     (else (tps glob)))))
