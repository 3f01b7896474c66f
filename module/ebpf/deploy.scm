;;; (ebpf deploy) --- defbpf-program and the program lifecycle.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; A program declaration is data (validated at once, registered by
;;; name); bpf-load! builds its source (a bpf-fn, a .bpf.c, a .bpf.o or a
;;; "file.scm:fn") through the clang cache and loads it with the object
;;; layer of (ebpf program); bpf-attach! attaches it.  Re-evaluating the
;;; declaration of an attached program swaps the new version in after it
;;; has compiled and verified: bpf_link_update where the link allows it,
;;; otherwise through a dispatcher -- a stub attached once that tail-calls
;;; through a one-slot prog-array, so a swap is one map update.

(define-module (ebpf deploy)
  #:declarative? #f
  #:use-module (ebpf error)
  #:use-module ((ebpf core) #:select (%bpf-tracefs %bpf-uprobe-symbols))
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf build)
  #:use-module (ebpf kernel)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module ((ebpf program) #:select ((bpf-test-run . object-test-run)
                                         (bpf-attach-socket! . object-attach-socket!)))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module (ice-9 match)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 regex)
  #:use-module (oop goops)
  ;; For (ebpf bpfman) and (ebpf policy), not re-exported by (ebpf):
  #:export (resolve-source lowering-target combine-c build-together!)
  #:export (defbpf-program
            make-bpf-program
            bpf-program?
            bpf-program-name
            bpf-program-kind
            bpf-program-source
            bpf-program-license
            bpf-program-target
            bpf-program-attach-spec
            bpf-program-constants
            bpf-program-doc
            bpf-program-lookup
            bpf-program-names
            bpf-program-fields
            bpf-load!
            bpf-attach!
            bpf-detach!
            bpf-unload!
            bpf-program-loaded?
            bpf-program-attached?
            bpf-program-object
            bpf-program-links
            bpf-program-c
            bpf-program-digest
            bpf-program-verifier-log
            bpf-program-stats
            bpf-program-set-constants!
            bpf-program-fd
            bpf-probe-name
            bpf-probe-names
            tracepoints-matching
            gpl-compatible-license?
            bpf-test-run
            bpf-program-kinds
            bpf-program-uses-maps
            bpf-program-build
            bpf-program-dispatcher
            bpf-program-reload!
            bpf-attach-socket!))

;;; ------------------------------------------------------------------
;;; The declaration.

(define-record-type <bpf-program>
  (%make-program name kinds attach source license uses-maps pin-path
                 constants doc)
  bpf-program?
  (name bpf-program-name)
  (kinds program-kinds)                 ; list of kind symbols, in order
  (attach bpf-program-attach-spec)      ; alist: target mode direction ...
  (source bpf-program-source set-program-source!)
  (license bpf-program-license)
  (uses-maps program-uses-maps)
  (pin-path program-pin-path)
  (constants bpf-program-constants set-program-constants!)
  (doc bpf-program-doc)
  ;; Live state.
  (kind program-kind set-program-kind!)           ; the kind in use
  (object program-object set-program-object!)     ; <bpf-object> or #f
  (links program-links set-program-links!)        ; list of <bpf-link>
  (slot program-slot set-program-slot!)           ; dispatcher prog-array
  (stub program-stub set-program-stub!)           ; dispatcher <bpf-object>
  (c program-c set-program-c!)
  (probes program-probes set-program-probes!))    ; vector of probe names

(define bpf-program-fields
  '((name #f "The program's name: string or symbol; - and _ are one character.")
    (kind #f "Program kind, or a list of fallbacks ('(fentry kprobe)).")
    (attach #f "Target: \"eth0\", \"syscalls/sys_enter_openat\", a list of targets (tracing kinds), or a list (#:target T #:mode M #:direction D #:hook H #:pid P #:frequency F).")
    (pid #f "uprobe, uretprobe, usdt: probe this process only.")
    (source #f "A bpf-fn, \"x.bpf.c\", \"x.bpf.o\" or \"file.scm:fn\".")
    (license "GPL" "License string; GPL-compatible when maps are used.")
    (uses-maps () "Names of the maps the program uses.")
    (pin-path #f "Pin the program (and its links) under this bpffs path.")
    (constants () "Values of (const NAME) set before load: ((NAME . INT) ...).")
    (doc #f "Documentation string.")))

(define known-kinds
  ;; The kinds bpf-fn lowers, from the kernel model (csrc/kernel.c).
  (kinds-where (lambda (k) (assq-ref k 'bpf-fn))))

;; Kinds whose #:attach may be a list of targets, (probe) telling them
;; apart (the kernel model's multi-target flag).
;; (Not raw-tracepoint: its links carry no cookie for (probe) before
;; libbpf 1.5.)
(define multi-target-kinds
  (kinds-where (lambda (k) (memq 'multi-target (assq-ref k 'flags)))))

(define (enum x)
  (cond ((keyword? x) (keyword->symbol x))
        ((and (symbol? x) (string-prefix? ":" (symbol->string x))
              (> (string-length (symbol->string x)) 1))
         (string->symbol (substring (symbol->string x) 1)))
        ((string? x) (string->symbol x))
        (else x)))

(define (gpl-compatible-license? s)
  "Return true if the license string @var{s} lets a BPF program use GPL-only
helpers and maps (as the kernel's license_is_gpl_compatible)."
  (and (string? s)
       (member s '("GPL" "GPL v2" "GPL and additional rights" "Dual BSD/GPL"
                   "Dual MIT/GPL" "Dual MPL/GPL"))
       #t))

(define (invalid name fmt . args)
  (lambda (fix)
    (raise-ebpf-error 'ebpf-validation-error 'defbpf-program
                      (string-append (format #f "program ~a: " name)
                                     (apply format #f fmt args))
                      #:fix fix)))

(define (target-list? x)
  (and (pair? x) (list? x) (every string? x)))

(define (parse-attach name spec)
  ;; "eth0" | ("a" "b" ...) | (#:target "eth0" #:mode auto ...) -> alist
  (cond
   ((not spec) '())
   ((string? spec) `((target . ,spec)))
   ((target-list? spec) `((target . ,spec)))
   ((and (pair? spec) (list? spec))
    (let loop ((l spec) (acc '()))
      (match l
        (() (reverse acc))
        ((k v . rest)
         (let ((key (declaration-key k)))
           (unless (memq key '(target mode direction hook pid frequency))
             ((invalid name "unknown attach field ~s" k)
              "use #:target #:mode #:direction #:hook #:pid #:frequency"))
           (loop rest (acons key (if (memq key '(mode direction hook))
                                     (enum v) v)
                             acc))))
        (_ ((invalid name "malformed #:attach ~s" spec)
            "write #:attach \"eth0\" or '(#:target \"eth0\" #:mode auto)")))))
   (else ((invalid name "malformed #:attach ~s" spec)
          "write #:attach \"eth0\" or '(#:target \"eth0\" #:mode auto)"))))

(define (source-maps source kind)
  ;; The maps a bpf-fn source names (for the license rule).
  (if (bpf-fn? source)
      (catch 'ebpf-lower-error
        (lambda () (map bpf-map-name (bpf-fn-maps source #:kind kind)))
        (lambda _ '()))
      '()))

(define (check-source name source)
  (cond
   ((bpf-fn? source) source)
   ((and (string? source)
         (or (string-suffix? ".bpf.c" source) (string-suffix? ".c" source)
             (string-suffix? ".bpf.o" source) (string-suffix? ".o" source)
             (string-suffix? ".rs" source)
             (string-match "\\.scm:[^:/]+$" source)))
    source)
   ((not source)
    ((invalid name "no #:source") "give #:source a bpf-fn, \"x.bpf.c\", \"x.bpf.o\" or \"file.scm:fn\""))
   (else
    ((invalid name "bad #:source ~s" source)
     "give #:source a bpf-fn, \"x.bpf.c\", \"x.bpf.o\" or \"file.scm:fn\""))))

(define registry (make-hash-table))

(define (bpf-program-lookup name)
  "Return the program declared under @var{name} (string or symbol; - and _
are one character), or @code{#f}."
  (and=> (normalize-name name) (lambda (n) (hash-ref registry n))))

(define (bpf-program-names)
  "Return the names of the declared programs, sorted."
  (sort (hash-map->list (lambda (k v) k) registry) string<?))

(define (make-bpf-program alist)
  "Make a program from the declaration @var{alist} @code{((field . value)
...)}; see @code{defbpf-program}.  Re-declaring an attached program
swaps the new version in."
  ;; Checked by hand, not by regexps: a declaration typed at the REPL
  ;; runs this each time, and compiling "^[ -~]{1,127}$" alone took
  ;; milliseconds.
  (define (ascii-in? c lo hi)
    (char<=? lo c hi))
  (define (identifier-char? c)
    (or (ascii-in? c #\a #\z) (ascii-in? c #\A #\Z) (ascii-in? c #\0 #\9)
        (char=? c #\_) (char=? c #\-)))
  (define (identifier? s)
    ;; As "^[A-Za-z_][A-Za-z0-9_-]*$".
    (and (positive? (string-length s))
         (let ((c (string-ref s 0)))
           (or (ascii-in? c #\a #\z) (ascii-in? c #\A #\Z) (char=? c #\_)))
         (string-every identifier-char? s)))
  (define (printable-ascii? s)
    ;; As "^[ -~]{1,127}$".
    (and (<= 1 (string-length s) 127)
         (string-every (lambda (c) (ascii-in? c #\space #\~)) s)))
  (check-declaration-keys 'defbpf-program alist (map car bpf-program-fields))
  (let* ((ref (lambda (k d) (declaration-ref alist k d)))
         (raw-name (ref 'name #f))
         (name (or (normalize-name raw-name)
                   ((invalid "?" "no name")
                    "write (defbpf-program NAME #:kind KIND ...)")))
         (_ (unless (identifier? name)
              ((invalid name "~s is not a valid identifier" raw-name)
               "use letters, digits, - and _")))
         (kind-spec (ref 'kind #f))
         (kinds (map enum (if (list? kind-spec) kind-spec (list kind-spec))))
         (_ (when (or (null? kinds) (not (car kinds)))
              ((invalid name "no #:kind") "add #:kind, e.g. #:kind 'xdp")))
         (_ (for-each (lambda (k)
                        (unless (memq k known-kinds)
                          ((invalid name "unknown kind ~s" k)
                           (format #f "use one of: ~a" known-kinds))))
                      kinds))
         (attach (let ((a (parse-attach name (ref 'attach #f)))
                       (pid (ref 'pid #f)))
                   (if pid (acons 'pid pid (alist-delete 'pid a)) a)))
         (source (check-source name (ref 'source #f)))
         (license (ref 'license "GPL"))
         (uses (map (lambda (m) (if (bpf-map? m) (bpf-map-name m) m))
                    (let ((u (ref 'uses-maps '()))) (if (list? u) u (list u)))))
         (constants (ref 'constants '())))
    (unless (and (string? license) (printable-ascii? license))
      ((invalid name "#:license ~s is not 1 to 127 printable ASCII characters"
                license)
       "write #:license \"GPL\" (or the license of the program)"))
    (check-targets name (car kinds) attach)
    ;; "" is no target either, in both spellings of #:attach.
    (when (kind-ref (car kinds) 'target-required)
      (let ((t (assq-ref attach 'target)))
        (unless (and (string? t) (not (string-null? t)))
          ((invalid name "~a programs need a target~a" (car kinds)
                    (if t (format #f ", not ~s" t) ""))
           "add #:attach \"IFACE\" (the interface to attach to)"))))
    (let ((maps (append uses (source-maps source (car kinds)))))
      (when (and (pair? maps) (not (gpl-compatible-license? license)))
        ((invalid name "uses maps (~a) but its license ~s is not GPL-compatible"
                  (string-join (map (lambda (m) (format #f "~a" m)) maps) " ")
                  license)
         "use #:license \"GPL\", \"GPL v2\", \"Dual MIT/GPL\" or \"Dual BSD/GPL\"")))
    (unless (and (list? constants) (every pair? constants))
      ((invalid name "#:constants must be an alist") "write #:constants '((NAME . VALUE) ...)"))
    (let ((new (%make-program name kinds attach source license uses
                              (ref 'pin-path #f) constants (ref 'doc #f)))
          (old (hash-ref registry name)))
      (init-state! new)
      (cond
       ((and old (bpf-program-attached? old))
        ;; Hot swap: the new version replaces the old in place.
        (swap! old new)
        (hash-set! registry name new)
        new)
       (else
        (when (and old (bpf-program-loaded? old))
          (bpf-unload! old))
        (hash-set! registry name new)
        new)))))

(define (check-targets name kind attach)
  (let ((t (assq-ref attach 'target))
        (pid (assq-ref attach 'pid)))
    (when (pair? t)
      (unless (memq kind multi-target-kinds)
        ((invalid name "~a programs take one target, not a list ~s" kind t)
         (format #f "give one target; lists are for ~a" multi-target-kinds)))
      (when (any string-null? t)
        ((invalid name "empty target in ~s" t)
         "drop the empty string from the list of targets")))
    (when pid
      (unless (and (exact-integer? pid) (positive? pid))
        ((invalid name "bad #:pid ~s" pid)
         "give #:pid a process id, e.g. #:pid (getpid)"))
      (unless (memq kind '(uprobe uretprobe usdt))
        ((invalid name "#:pid applies to uprobe, uretprobe and usdt, not ~a" kind)
         "drop #:pid, or filter in the body with (when (= (pid) ...) ...)")))))

(define (init-state! p)
  (set-program-kind! p #f)
  (set-program-object! p #f)
  (set-program-links! p '())
  (set-program-slot! p #f)
  (set-program-stub! p #f)
  (set-program-c! p #f)
  (set-program-probes! p #f))

(define-declaration-syntax defbpf-program make-bpf-program)

(define (bpf-program-kind p)
  "Return the kind of program @var{p}: the kind in use once loaded (the
first of a fallback list that this kernel took), else the declared one."
  (or (program-kind p) (car (program-kinds p))))

(define (bpf-program-target p)
  "Return the attach target of @var{p}, or @code{#f}."
  (assq-ref (bpf-program-attach-spec p) 'target))

(define (program-arg p)
  (or (and (bpf-program? p) p)
      (bpf-program-lookup p)
      (raise-ebpf-error 'ebpf-validation-error 'bpf-program
                        (format #f "no program named ~s" p)
                        #:fix "declare it with defbpf-program")))

;;; ------------------------------------------------------------------
;;; Building and loading.

(define (fn-source? p)
  ;; Is P built from a bpf-fn (which resolve-source gives)?
  (let ((src (bpf-program-source p)))
    (or (bpf-fn? src)
        (and (string? src) (string-match "^(.*\\.scm):([^:/]+)$" src) #t))))

(define (resolve-source p)
  (let ((src (bpf-program-source p)))
    (cond
     ((bpf-fn? src) src)
     ((string-match "^(.*\\.scm):([^:/]+)$" src)
      => (lambda (m)
           (let* ((file (match:substring m 1))
                  (fn-name (string->symbol (match:substring m 2)))
                  (mod (make-user-module 'bpf-load!)))
             (unless (file-exists? file)
               (raise-ebpf-error 'ebpf-error 'bpf-load!
                                 (format #f "program ~a: ~a does not exist"
                                         (bpf-program-name p) file)
                                 #:fix "check the path of #:source"))
             (save-module-excursion
              (lambda ()
                (set-current-module mod)
                (load (canonicalize-path file))))
             (let ((v (module-variable mod fn-name)))
               (unless (and v (bpf-fn? (variable-ref v)))
                 (raise-ebpf-error 'ebpf-error 'bpf-load!
                                   (format #f "program ~a: ~a defines no bpf-fn ~a"
                                           (bpf-program-name p) file fn-name)
                                   #:fix "name a (bpf-fn NAME (CTX) ...) of that file"))
               (variable-ref v)))))
     (else src))))

(define (glob? s) (and (string? s) (string-index s (char-set #\* #\? #\[))))

;;; ------------------------------------------------------------------
;;; One translation unit for several programs: a policy's programs are
;;; built by one clang run (and exported to bpfman as one object).

(define (strip-strings line)
  (regexp-substitute/global #f "\"(\\\\.|[^\"\\\\])*\"" line 'pre "\"\"" 'post))

(define (depth-change line)
  (let ((s (strip-strings line)))
    (- (string-count s #\{) (string-count s #\}))))

;; Split one generated C text into (includes items function): items are
;; the top-level declarations before the program's SEC() function.
(define (split-c c)
  (let loop ((lines (string-split c #\newline)) (depth 0) (cur '())
             (includes '()) (items '()))
    (define (push-item)
      (if (null? cur) items
          (cons (string-join (reverse cur) "\n") items)))
    (match lines
      (() (values (reverse includes) (reverse (push-item)) ""))
      ((line . rest)
       (cond
        ((and (zero? depth) (null? cur) (string-prefix? "SEC(\"" line))
         (values (reverse includes) (reverse items)
                 (string-join lines "\n")))
        ((and (zero? depth) (null? cur) (string-prefix? "#include" line))
         (loop rest depth cur (cons line includes) items))
        ((and (zero? depth) (null? cur)
              (or (string-null? (string-trim-both line))
                  (string-prefix? "// SPDX" line)
                  (string-prefix? "/* Generated by" line)))
         (loop rest depth cur includes items))
        (else
         (let* ((d (+ depth (depth-change line)))
                (cur (cons line cur))
                (t (string-trim-right line)))
           (if (and (zero? d)
                    (or (string-suffix? ";" t) (string-suffix? "}" t)
                        (string-prefix? "#" t)))
               (loop rest d '() includes
                     (cons (string-join (reverse cur) "\n") items))
               (loop rest d cur includes items)))))))))

(define (license-item? s) (string-prefix? "char LICENSE[]" s))

(define inline-rx
  (make-regexp "^static __always_inline [^\n]*\n([A-Za-z_][A-Za-z0-9_]*) [(]"))

(define (rename-identifier c from to)
  (regexp-substitute/global
   #f (string-append "(^|[^A-Za-z0-9_])" from "([^A-Za-z0-9_]|$)") c
   'pre 1 to 2 'post))

;; Inline instances are numbered per program (twice__0): two programs
;; may give one name to different instances.  Rename the later ones.
(define (distinct-inlines lowered)
  (let loop ((l lowered) (i 0) (seen '()) (acc '()))
    (match l
      (() (reverse acc))
      (((p kind fname c . _) . rest)
       (call-with-values (lambda () (split-c c))
         (lambda (incs items fn)
           (let* ((inlines (filter-map
                            (lambda (item)
                              (and=> (regexp-exec inline-rx item)
                                     (lambda (m) (cons (match:substring m 1) item))))
                            items))
                  (clashes (filter (lambda (ni)
                                     (let ((old (assoc (car ni) seen)))
                                       (and old (not (string=? (cdr old) (cdr ni))))))
                                   inlines))
                  (c (fold (lambda (ni c)
                             (rename-identifier c (car ni)
                                                (format #f "~a_p~a" (car ni) i)))
                           c clashes)))
             (if (null? clashes)
                 (loop rest (+ i 1) (append inlines seen)
                       (cons (list p kind fname c) acc))
                 ;; Renamed: look again (the new names may be seen too).
                 (loop (cons (list p kind fname c) rest) i seen acc)))))))))

;; Combine the generated C of the programs LOWERED, a list of
;; (PROGRAM KIND FUNCTION C-TEXT), into one translation unit: HEADER (a
;; comment), the includes and declarations (types, maps, constants,
;; inlines) once, then every program as a global function.  Programs
;; with different licenses cannot share a unit: (ON-LICENSE-CLASH
;; PROGRAM) is called for the first that differs.  Returns the C text.
(define (combine-c header lowered on-license-clash)
  (let loop ((l (distinct-inlines lowered)) (includes '()) (items '()) (fns '())
             (license #f))
    (match l
      (()
       (string-append
        "// SPDX-License-Identifier: GPL-2.0\n"
        header
        (string-join (reverse includes) "\n") "\n\n"
        (string-join (reverse items) "\n\n") "\n\n"
        (or license "char LICENSE[] SEC(\"license\") = \"GPL\";") "\n\n"
        (string-join (reverse fns) "\n")))
      (((p kind fname c) . rest)
       (call-with-values (lambda () (split-c c))
         (lambda (incs its fn)
           (let* ((lic (find license-item? its))
                  (its (remove license-item? its)))
             (when (and license lic (not (string=? license lic)))
               (on-license-clash p))
             (loop rest
                   (fold (lambda (i acc) (if (member i acc) acc (cons i acc)))
                         includes incs)
                   (fold (lambda (i acc) (if (member i acc) acc (cons i acc)))
                         items its)
                   (if (member fn fns) fns (cons fn fns))
                   (or license lic)))))))))

;; Programs built together: program -> (KIND C-TEXT OBJECT-PATH FUNCTION).
;; An entry serves the checks and the one load that follow the build,
;; while the program lowers to the same C for that kind; later loads
;; (and new versions, which are new records) build the program alone.
(define combined-builds (make-weak-key-hash-table))

(define (lower-for p kind)
  ;; P's bpf-fn lowered for KIND: (UNIT . LOWERING), UNIT its C with the
  ;; dispatcher of a dispatched kind riding in the same unit (see build),
  ;; LOWERING what bpf-fn-lowering returns.
  (let* ((target (bpf-program-target p))
         (r (bpf-fn-lowering (resolve-source p) #:kind kind
                             #:target (and target
                                           (lowering-target kind target p))
                             #:constants (bpf-program-constants p)
                             #:license (bpf-program-license p)))
         (c (assq-ref r 'c)))
    (cons (if (dispatched-kind? kind)
              (string-append c (stub-function kind (slot-name p)))
              c)
          r)))

(define (build-together! programs)
  ;; Build the bpf-fn programs of PROGRAMS (each for the first kind it
  ;; lists) as one translation unit: one clang run instead of one per
  ;; program.  Their loads then take their program from that object.
  ;; Best effort: a program that does not lower, a license clash or a
  ;; unit clang refuses leaves the programs to be built one by one, where
  ;; each error is reported against its own program.
  (let ((lowered
         (filter-map
          (lambda (p)
            (and (fn-source? p)
                 (not (bpf-program-loaded? p))
                 (let ((kind (car (program-kinds p))))
                   (catch #t
                     (lambda ()
                       (match (lower-for p kind)
                         ((unit . r)
                          (let ((fname (assq-ref r 'function)))
                            (and fname (list p kind fname unit))))))
                     (const #f)))))
          programs)))
    (when (>= (length lowered) 2)
      (let ((path (catch #t
                    (lambda ()
                      (bpf-build-c
                       (combine-c "/* Generated by guile-ebpf: programs built together.  */\n"
                                  lowered
                                  (lambda (p) (throw 'license-clash p)))))
                    (const #f))))
        (when path
          (for-each (match-lambda
                      ((p kind fname c)
                       (hashq-set! combined-builds p (list kind c path fname))))
                    lowered))))))

(define (combined-build p kind c)
  ;; (OBJECT-PATH . FUNCTION) when P was built together with others for
  ;; KIND and still lowers to C; else #f.
  (match (hashq-ref combined-builds p)
    ((k c0 path fname)
     (and (eq? k kind) (string=? c c0) (file-exists? path) (cons path fname)))
    (_ #f)))

;; Build P's source for KIND: (values object-path line-map c-text
;; constants function), CONSTANTS being the symbols of the (const NAME) a
;; bpf-fn reads, or #f for a source whose constants are unknown, and
;; FUNCTION naming P's program in an object built with others (#f: the
;; object's first program is P).
(define (build p kind)
  (let ((src (resolve-source p)))
    (cond
     ((bpf-fn? src)
      ;; A dispatched kind's stub rides in the same unit: one clang run
      ;; per version, and the stub is loaded from that object.
      (match (lower-for p kind)
        ((unit . r)
         (let ((c (assq-ref r 'c))
               (used (assq-ref r 'constants)))
           (match (combined-build p kind unit)
             ((path . fname)
              ;; Line numbers are the combined unit's: no line map.
              (values path #f c used fname))
             (#f (values (bpf-build-c unit) (assq-ref r 'line-map) c used
                         #f)))))))
     ((string-suffix? ".rs" src)
      (raise-ebpf-error 'ebpf-compile-error 'bpf-load!
                        (format #f "program ~a: Rust sources (~a) are not built by guile-ebpf"
                                (bpf-program-name p) src)
                        #:fix "build it to a .bpf.o with its own tool chain and give that as #:source, or write the program as a bpf-fn"))
     ((or (string-suffix? ".o" src))
      (unless (file-exists? src)
        (raise-ebpf-error 'ebpf-error 'bpf-load!
                          (format #f "program ~a: object ~a does not exist"
                                  (bpf-program-name p) src)
                          #:fix "check the path of #:source"))
      (values src #f #f #f #f))
     (else
      (unless (file-exists? src)
        (raise-ebpf-error 'ebpf-error 'bpf-load!
                          (format #f "program ~a: source ~a does not exist"
                                  (bpf-program-name p) src)
                          #:fix "check the path of #:source"))
      (values (bpf-build-file src) #f
              (call-with-input-file src (@ (ice-9 rdelim) read-string))
              #f #f)))))

(define (lowering-target kind target p)
  ;; What the lowerer needs of the target: tracepoint name (or glob),
  ;; function for fentry/fexit, cgroup hook -- what its SEC() names.
  (cond ((attach-type p kind) => symbol->string)
        ((not (kind-ref kind 'target-in-section)) #f)
        ;; A list of tracepoints: the lowerer reads their fields from every
        ;; one, as from the matches of a glob.
        ((pair? target) (string-join target ","))
        (else target)))

(define (attach-type p kind)
  ;; A cgroup program's hook: #:direction or #:hook, else the kind's
  ;; default (both from the kernel model).
  (let ((default (kind-ref kind 'default-attach-type)))
    (and default
         (or (assq-ref (bpf-program-attach-spec p) (kind-ref kind 'attach-option))
             default))))

(define (object-constants p)
  ;; (const NAME) is a const volatile __u64: negative values travel as
  ;; their two's complement and read back signed where the body says so.
  (map (lambda (c)
         (if (and (integer? (cdr c)) (negative? (cdr c)) (bpf-fn? (bpf-program-source p)))
             (cons (car c) (logand (cdr c) #xffffffffffffffff))
             c))
       (bpf-program-constants p)))

(define (used-constants p used)
  ;; A bpf-fn's C declares only the constants its body reads (USED, C
  ;; symbols); the others of #:constants are for other programs sharing
  ;; the list.
  (if used
      (filter (lambda (k)
                (member (string-map (lambda (ch) (if (char=? ch #\-) #\_ ch))
                                    (format #f "~a" (car k)))
                        used))
              (object-constants p))
      (object-constants p)))

;; <bpf-object> -> the constants its source reads (see BUILD), for a
;; load again with the verifier's log.
(define object-used-constants (make-weak-key-hash-table))

(define (load-object p kind)
  (call-with-values (lambda () (build p kind))
    (lambda (path line-map c used fname)
      (define (load path line-map fname)
        (bpf-object-load path #:kind kind #:name fname
                         #:constants (used-constants p used)
                         #:line-map line-map
                         #:attach-type (attach-type p kind)
                         #:target (and (kind-flag? kind 'btf)
                                       (bpf-program-target p))))
      (let ((obj (if fname
                     ;; Built with other programs: should the load fail,
                     ;; the program built alone gives the error its own
                     ;; lines.
                     (let ((obj (catch #t
                                  (lambda () (load path line-map fname))
                                  (lambda (key . args)
                                    (hashq-remove! combined-builds p)
                                    (call-with-values (lambda () (build p kind))
                                      (lambda (path line-map c used fname)
                                        (load path line-map fname)))))))
                       ;; Used once: a later load builds the program alone.
                       (hashq-remove! combined-builds p)
                       obj)
                     (load path line-map fname))))
        (hashq-set! object-used-constants obj used)
        (values obj c)))))

(define (without-fix msg)
  (let ((i (and (string? msg) (string-contains msg ". Fix: "))))
    (if i (substring msg 0 i) (or msg ""))))

(define (first-line msg)
  (let ((i (string-index msg #\newline)))
    (if i (substring msg 0 i) msg)))

(define (try-kinds p what proc)
  ;; Run (PROC KIND) for each kind until one works; one error names all.
  (let loop ((kinds (program-kinds p)) (failures '()))
    (match kinds
      (()
       (match failures
         (((kind key . args))
          (apply throw key args))
         (_
          (raise-ebpf-error
           'ebpf-attach-error what
           (format #f "program ~a: no kind of ~a works here: ~a"
                   (bpf-program-name p) (program-kinds p)
                   (string-join
                    (map (match-lambda
                           ((kind key . args)
                            (format #f "~a: ~a" kind
                                    (first-line (without-fix (ebpf-error-message args))))))
                         (reverse failures))
                    "; "))
           #:fix "use a kind this kernel supports (bpf-features tells which)"))))
      ((kind . rest)
       (catch #t
         (lambda () (proc kind))
         (lambda (key . args)
           (if (and (pair? rest)
                    (memq key '(ebpf-attach-error ebpf-permission-error
                                ebpf-verifier-error ebpf-lower-error)))
               (loop rest (cons (cons* kind key args) failures))
               (if (null? failures)
                   (apply throw key args)
                   (loop '() (cons (cons* kind key args) failures))))))))))

(define (bpf-load! prog)
  "Build and load @var{prog} (a program or its name) into the kernel if it
is not loaded, and return it.  A kind list is tried in order.  Raises
@code{ebpf-lower-error}, @code{ebpf-compile-error},
@code{ebpf-verifier-error}, @code{ebpf-attach-error} or
@code{ebpf-permission-error}."
  (call-with-public-who 'bpf-load! (lambda () (load-now! prog))))

(define (load-now! prog)
  (let ((p (program-arg prog)))
    (unless (bpf-program-loaded? p)
      (try-kinds p 'bpf-load!
                 (lambda (kind)
                   (call-with-values (lambda () (load-object p kind))
                     (lambda (obj c)
                       (set-program-object! p obj)
                       (set-program-kind! p kind)
                       (set-program-c! p c))))))
    p))

(define (bpf-program-loaded? prog)
  "Return @code{#t} if @var{prog} is loaded in the kernel."
  (let ((p (program-arg prog)))
    (and (program-object p) (not (bpf-object-closed? (program-object p))) #t)))

(define (bpf-program-attached? prog)
  "Return @code{#t} if @var{prog} is attached."
  (let ((p (program-arg prog)))
    (and (any bpf-link-live? (program-links p)) #t)))

;;; ------------------------------------------------------------------
;;; Attaching.


(define (tracepoints-matching glob)
  "Return the tracepoints matching @var{glob} (\"CATEGORY:NAME\" or
\"CATEGORY/NAME\", with * ? [ ] wildcards) as \"CATEGORY:NAME\" strings,
sorted; tracefs is mounted if it is missing."
  (let* ((sep (string-index glob (char-set #\: #\/)))
         (cat (if sep (substring glob 0 sep) "*"))
         (name (if sep (substring glob (+ sep 1)) glob))
         (root (%bpf-tracefs #t))
         (wild (char-set #\* #\? #\[)))
    (cond
     ((not root) '())
     ((not (or (string-index cat wild) (string-index name wild)
               (string-index name #\/) (member cat '("" "." ".."))
               (member name '("" "." ".."))))
      ;; An exact name: one file to look for, not every category's
      ;; directory to read (checks look up each program's target).
      (if (file-exists? (string-append root "/events/" cat "/" name "/format"))
          (list (string-append cat ":" name))
          '()))
     (else
        (let ((events (string-append root "/events"))
              (rc (glob->regexp cat))
              (rn (glob->regexp name)))
          (sort
           (append-map
            (lambda (c)
              (if (regexp-exec rc c)
                  (filter-map
                   (lambda (n)
                     (and (regexp-exec rn n)
                          (file-exists? (string-append events "/" c "/" n "/format"))
                          (string-append c ":" n)))
                   (or (scandir (string-append events "/" c)
                                (lambda (f) (not (string-prefix? "." f))))
                       '()))
                  '()))
            (or (scandir events (lambda (f) (and (not (string-prefix? "." f))
                                                 (file-is-directory?* (string-append events "/" f)))))
                '()))
           string<?))))))


(define (file-is-directory?* f)
  (false-if-exception (eq? 'directory (stat:type (stat f)))))

;; Kinds whose links bpf_link_update can retarget: the new program is
;; swapped in the link itself.  Others go through a dispatcher.
(define (updatable-kind? kind)
  ;; tc: the filter is replaced in place (BPF_TC_F_REPLACE).
  (kind-flag? kind 'updatable))

(define (dispatched-kind? kind)
  (kind-flag? kind 'dispatched))

(define (attach-one p obj kind target cookie)
  (let ((spec (bpf-program-attach-spec p)))
    (bpf-object-attach obj #:kind kind #:target target
                       #:mode (or (assq-ref spec 'mode) 'auto)
                       #:direction (assq-ref spec 'direction)
                       #:pid (assq-ref spec 'pid)
                       #:cookie cookie
                       #:frequency (or (assq-ref spec 'frequency) 99))))

(define (stub-section kind)
  ;; The bare SEC() of a dispatched kind: the loader attaches the stub.
  (kind-ref kind 'section-prefix))

(define (stub-function kind slot-name)
  ;; The dispatcher, appended to a program's generated C: attached once,
  ;; it tail-calls the current version in SLOT-NAME[0].  It comes after
  ;; the program, so the program stays the object's first.
  (string-append
   "\n/* The dispatcher: attached once, it tail-calls the version in "
   slot-name "[0].  */\n"
   "struct {\n\t__uint(type, BPF_MAP_TYPE_PROG_ARRAY);\n"
   "\t__uint(max_entries, 1);\n\t__uint(key_size, sizeof(__u32));\n"
   "\t__uint(value_size, sizeof(__u32));\n} " slot-name " SEC(\".maps\");\n\n"
   "SEC(\"" (stub-section kind) "\")\nint " slot-name "__dispatch(void *ctx)\n{\n"
   "\tbpf_tail_call(ctx, &" slot-name ", 0);\n\treturn 0;\n}\n"))

(define (stub-source p kind slot-name)
  ;; The dispatcher on its own, for a program built from a C file or an
  ;; object: one more clang run.
  (string-append
   "// SPDX-License-Identifier: GPL-2.0\n"
   "/* Dispatcher of " (bpf-program-name p) ".  */\n"
   "#include <linux/bpf.h>\n#include <linux/types.h>\n"
   "#include <bpf/bpf_helpers.h>\n\n"
   "char LICENSE[] SEC(\"license\") = "
    (c-string-literal (bpf-program-license p)) ";\n"
   (stub-function kind slot-name)))

(define (c-string-literal s)
  ;; S as a C string literal: nothing in it can end the literal.
  (string-append
   "\""
   (string-concatenate
    (map (lambda (c)
           (cond ((memv c '(#\" #\\)) (string #\\ c))
                 ((or (char<? c #\space) (char>? c #\~))
                  (string-append "\\" (string-pad (number->string
                                                    (char->integer c) 8)
                                                   3 #\0)))
                 (else (string c))))
         (string->list s)))
   "\""))

(define (slot-name p)
  (string-append "gebpf_slot_"
                 (string-map (lambda (c) (if (char=? c #\-) #\_ c))
                             (bpf-program-name p))))

(define (ensure-dispatcher! p kind)
  (unless (program-stub p)
    (let* ((sn (slot-name p))
           (slot (make-bpf-map `((name . ,sn) (kind . prog-array)
                                 (max-entries . 1))))
           (stub (if (fn-source? p)
                     ;; Built with the program (see build).
                     (bpf-object-load (bpf-object-path (program-object p))
                                      #:kind kind
                                      #:name (string-append sn "__dispatch"))
                     (bpf-object-load (bpf-build-c (stub-source p kind sn))
                                      #:kind kind))))
      (set-program-slot! p slot)
      (set-program-stub! p stub)))
  (bpf-map-set! (program-slot p) 0 (bpf-object-fd (program-object p))))

(define (program-targets p)
  ;; The declared targets, a list (one #f for kinds without a target).
  (let ((t (bpf-program-target p)))
    (if (pair? t) t (list t))))

(define uprobe-symbols %bpf-uprobe-symbols)

(define (uprobes-matching p target)
  ;; "LIB:GLOB" -> ("LIB:SYM" ...), the functions of LIB the glob matches.
  (let* ((i (string-rindex target #\:))
         (lib (substring target 0 i))
         (syms (uprobe-symbols target)))
    (when (null? syms)
      (raise-ebpf-error 'ebpf-attach-error 'bpf-attach!
                        (format #f "program ~a: no function of ~a matches ~s"
                                (bpf-program-name p) lib
                                (substring target (+ i 1)))
                        #:fix "check the pattern against nm -D --defined-only on the file"))
    (map (lambda (s) (string-append lib ":" s)) syms)))

(define (targets p kind)
  ;; Every attach point, globs expanded, in (probe) index order.
  (append-map
   (lambda (target)
     (cond
      ((and (eq? kind 'tracepoint) (glob? target))
       (let ((tps (tracepoints-matching target)))
         (when (null? tps)
           (raise-ebpf-error 'ebpf-attach-error 'bpf-attach!
                             (format #f "program ~a: no tracepoint matches ~s"
                                     (bpf-program-name p) target)
                             #:fix "list them with (bpf-list-probes \"syscalls:*\")"))
         tps))
      ((and (memq kind '(uprobe uretprobe)) (string? target)
            (string-rindex target #\:)
            (glob? (substring target (+ (string-rindex target #\:) 1))))
       (uprobes-matching p target))
      (else (list target))))
   (program-targets p)))

(define (probe-spelling kind target)
  ;; As bpf-list-probes and bpftrace spell it: "tracepoint:sched:sched_switch",
  ;; "uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc" (the library's file).
  (define (colons s) (string-map (lambda (c) (if (char=? c #\/) #\: c)) s))
  (define (with-file lib rest)
    (string-append (car (bpf-resolve-uprobe (string-append lib ":0x0")))
                   ":" rest))
  (cond
   ((not (string? target)) (symbol->string kind))
   (else
    (case kind
      ((tracepoint) (string-append "tracepoint:" (colons target)))
      ((raw-tracepoint) (string-append "rawtracepoint:" target))
      ((uprobe uretprobe)
       (let ((i (string-rindex target #\:)))
         (string-append (symbol->string kind) ":"
                        (with-file (substring target 0 i)
                                   (substring target (+ i 1))))))
      ((usdt)
       (let* ((j (string-rindex target #\:))
              (i (string-rindex target #\: 0 j)))
         (string-append "usdt:" (with-file (substring target 0 i)
                                           (substring target (+ i 1))))))
      (else (string-append (symbol->string kind) ":" target))))))

(define (attach-now! p kind)
  (if (dispatched-kind? kind)
      (naming-user-program p (lambda () (attach-now/stub! p kind)))
      (attach-now/stub! p kind)))

(define (replace-all s from to)
  (let loop ((start 0) (acc '()))
    (let ((i (string-contains s from start)))
      (if i
          (loop (+ i (string-length from))
                (cons* to (substring s start i) acc))
          (string-concatenate-reverse acc (substring s start))))))

(define (naming-user-program p thunk)
  ;; The dispatcher's program and slot are internal: an error raised
  ;; while loading or attaching them names the user's program instead.
  (let ((stub (string-append (slot-name p) "__dispatch"))
        (name (bpf-program-name p)))
    (catch #t thunk
      (lambda (key . args)
        (match (and (ebpf-error? key) args)
          ((subr (? string? msg) rest details)
           (throw key subr
                  (replace-all (replace-all msg stub name) (slot-name p)
                               (string-append "the dispatcher of " name))
                  rest details))
          (_ (apply throw key args)))))))

(define (attach-now/stub! p kind)
  (let* ((tgts (targets p kind))
         (obj (if (dispatched-kind? kind)
                  (begin (ensure-dispatcher! p kind) (program-stub p))
                  (program-object p)))
         (links
          (let loop ((ts tgts) (i 0) (acc '()))
            (match ts
              (() (reverse acc))
              ((t . rest)
               (let ((l (catch #t
                          (lambda () (attach-one p obj kind t i))
                          (lambda (key . args)
                            ;; All or nothing: undo the ones attached.
                            (for-each bpf-link-destroy! acc)
                            (apply throw key args)))))
                 (loop rest (+ i 1) (cons l acc))))))))
    (set-program-probes! p (list->vector
                            (map (lambda (t) (probe-spelling kind t)) tgts)))
    (set-program-links! p links)))

(define (bpf-attach! prog)
  "Attach @var{prog} (loading it first if needed) to its target and return
it.  A list of targets attaches to each, a tracepoint glob to every
match; @code{(probe)} in the body gives the index of the one that fired
(@code{bpf-probe-name} names it).  Raises @code{ebpf-attach-error}
naming a missing interface, tracepoint, cgroup or binary, and the errors
of @code{bpf-load!}."
  (call-with-public-who 'bpf-attach! (lambda () (attach! prog))))

(define (attach! prog)
  (let ((p (program-arg prog)))
    (unless (bpf-program-attached? p)
      (if (bpf-program-loaded? p)
          (attach-now! p (program-kind p))
          (try-kinds p 'bpf-attach!
                     (lambda (kind)
                       (call-with-values (lambda () (load-object p kind))
                         (lambda (obj c)
                           (set-program-object! p obj)
                           (set-program-kind! p kind)
                           (set-program-c! p c)
                           (catch #t
                             (lambda () (attach-now! p kind))
                             (lambda (key . args)
                               (bpf-object-close! obj)
                               (set-program-object! p #f)
                               (set-program-kind! p #f)
                               (drop-dispatcher! p)
                               (apply throw key args)))))))))
    p))

(define (drop-dispatcher! p)
  (when (program-stub p)
    (bpf-object-close! (program-stub p))
    (set-program-stub! p #f))
  (when (program-slot p)
    (bpf-map-close! (program-slot p))
    (set-program-slot! p #f)))

(define (bpf-detach! prog)
  "Detach @var{prog} from its target(s); it stays loaded."
  (let ((p (program-arg prog)))
    (for-each bpf-link-destroy! (program-links p))
    (set-program-links! p '())
    (drop-dispatcher! p)
    p))

(define (bpf-unload! prog)
  "Detach and unload @var{prog}.  Maps keep their contents."
  (let ((p (program-arg prog)))
    (bpf-detach! p)
    (when (program-object p)
      (bpf-object-close! (program-object p))
      (set-program-object! p #f))
    (set-program-kind! p #f)
    p))

;;; ------------------------------------------------------------------
;;; Hot swap.

(define (at-repl?)
  ;; Inside a REPL (not a script): there a swap is worth a note.
  (pair? (fluid-ref *repl-stack*)))

(define (swap! old new)
  (swap-now! old new)
  (when (at-repl?)
    (format #t ";;; swapped running program ~a for its new version (maps kept)~%"
            (bpf-program-name new))))

(define (swap-now! old new)
  ;; Build and verify NEW first: a failure leaves OLD running.
  (let ((kind (program-kind old)))
    (call-with-values (lambda () (load-object new kind))
      (lambda (obj c)
        (set-program-object! new obj)
        (set-program-kind! new kind)
        (set-program-c! new c)
        (cond
         ((program-stub old)
          ;; One map update: from now on the stub tail-calls NEW.
          (bpf-map-set! (program-slot old) 0 (bpf-object-fd obj))
          (set-program-stub! new (program-stub old))
          (set-program-slot! new (program-slot old))
          (set-program-links! new (program-links old))
          (set-program-probes! new (program-probes old)))
         ((updatable-kind? kind)
          (for-each (lambda (l) (bpf-link-update! l obj)) (program-links old))
          (set-program-links! new (program-links old))
          (set-program-probes! new (program-probes old)))
         (else
          ;; No atomic path (tc filters, tp-btf links): attach the new
          ;; version, then detach the old one, so nothing runs unattached.
          (attach-now! new kind)
          (for-each bpf-link-destroy! (program-links old))))
        (set-program-links! old '())
        (set-program-stub! old #f)
        (set-program-slot! old #f)
        (bpf-object-close! (program-object old))
        (set-program-object! old #f)))))

(define* (revise! p #:key (source (bpf-program-source p))
                  (constants (bpf-program-constants p)))
  ;; Run a new version of P -- another source, or other constants -- in P
  ;; itself, so variables and the registry bound to P stay true: swapped
  ;; in if P is attached, reloaded if it is only loaded.
  (let ((new (%make-program (bpf-program-name p) (program-kinds p)
                            (bpf-program-attach-spec p) source
                            (bpf-program-license p) (program-uses-maps p)
                            (program-pin-path p) constants
                            (bpf-program-doc p))))
    (init-state! new)
    (cond
     ((bpf-program-attached? p) (swap! p new))
     ((bpf-program-loaded? p) (bpf-unload! p) (bpf-load! new))
     (else #t))
    (set-program-source! p source)
    (set-program-constants! p constants)
    (set-program-kind! p (program-kind new))
    (set-program-object! p (program-object new))
    (set-program-links! p (program-links new))
    (set-program-slot! p (program-slot new))
    (set-program-stub! p (program-stub new))
    (set-program-c! p (program-c new))
    (set-program-probes! p (program-probes new))
    p))

(define (bpf-program-set-constants! prog constants)
  "Change the @code{(const NAME)} values of @var{prog}: a loaded program
is reloaded from its cached object (no recompilation) and swapped in."
  (revise! (program-arg prog) #:constants constants))

;; Re-evaluating a bpf-fn swaps the attached programs built from a bpf-fn
;; of that name, as re-evaluating their defbpf-program would.
(add-hook! bpf-fn-redefinition-hook
           (lambda (fn)
             (hash-for-each
              (lambda (name p)
                (let ((src (bpf-program-source p)))
                  (when (and (bpf-fn? src) (not (eq? src fn))
                             (equal? (bpf-fn-name src) (bpf-fn-name fn))
                             (bpf-program-attached? p))
                    (revise! p #:source fn))))
              registry)))

(define (bpf-attach-socket! prog port-or-fd)
  "Attach the socket-filter program @var{prog} (a program, its name, or a
@code{<bpf-object>}) to a socket given as a port or a file descriptor,
loading it first if needed, and return the @code{<bpf-link>}."
  (if (bpf-object? prog)
      (object-attach-socket! prog port-or-fd)
      (let ((p (program-arg prog)))
        (bpf-load! p)
        (let ((link (object-attach-socket! (program-object p) port-or-fd)))
          (set-program-links! p (cons link (program-links p)))
          link))))

;;; ------------------------------------------------------------------
;;; Introspection.

(define* (bpf-test-run prog data #:key (repeat 1))
  "Run @var{prog} (a program, its name, or a @code{<bpf-object>}) on the
packet @var{data} (a bytevector from the Ethernet header on) @var{repeat}
times with BPF_PROG_TEST_RUN, loading it first if needed, and return a
@code{<bpf-run-result>} (@code{bpf-run-result-retval},
@code{bpf-run-result-verdict}, @code{bpf-run-result-data},
@code{bpf-run-result-duration-ns}).  Raises the errors of
@code{bpf-load!}, and @code{ebpf-error} for kinds the kernel cannot
test-run."
  (if (bpf-object? prog)
      (object-test-run prog data #:repeat repeat)
      (let ((p (program-arg prog)))
        (bpf-load! p)
        (object-test-run (program-object p) data #:repeat repeat))))

(define (bpf-program-object prog)
  "Return the @code{<bpf-object>} of loaded @var{prog}, or @code{#f}."
  (program-object (program-arg prog)))

(define (bpf-program-links prog)
  "Return the live links of @var{prog}."
  (filter bpf-link-live? (program-links (program-arg prog))))

(define (bpf-program-fd prog)
  "Return the program fd of loaded @var{prog}, or @code{#f}."
  (and=> (program-object (program-arg prog)) bpf-object-fd))

(define* (bpf-program-c prog #:key kind)
  "Return the C that @var{prog} is (or would be) built from."
  (let ((p (program-arg prog)))
    (or (and (not kind) (program-c p))
        (let ((src (resolve-source p))
              (kind (or kind (bpf-program-kind p))))
          (if (bpf-fn? src)
              (car (bpf-fn-lower src #:kind kind
                                 #:target (and (bpf-program-target p)
                                               (lowering-target kind (bpf-program-target p) p))))
              (and (string? src) (string-suffix? ".c" src) (file-exists? src)
                   (call-with-input-file src (@ (ice-9 rdelim) read-string))))))))

(define (loaded p who)
  (or (program-object p)
      (raise-ebpf-error 'ebpf-error who
                        (format #f "program ~a is not loaded" (bpf-program-name p))
                        #:fix "load it with bpf-load! or bpf-attach!")))

(define (bpf-program-digest prog)
  "Return the sha256 of the object file @var{prog} was loaded from: the
attestation of what runs."
  (bpf-object-digest (loaded (program-arg prog) 'bpf-program-digest)))

(define (bpf-program-verifier-log prog)
  "Return the verifier's log of loaded @var{prog}.  A successful load keeps
no log (logging slows loading), so the object is loaded once more with
the verifier's log on, and that log returned."
  (let* ((p (program-arg prog))
         (obj (loaded p 'bpf-program-verifier-log)))
    (or (bpf-object-verifier-log obj)
        (let ((again (bpf-object-load (bpf-object-path obj)
                                      #:kind (program-kind p)
                                      #:name (bpf-object-name obj)
                                      #:constants (used-constants
                                                   p (hashq-ref object-used-constants obj))
                                      #:attach-type (attach-type p (program-kind p))
                                      #:target (and (kind-flag? (program-kind p) 'btf)
                                                    (bpf-program-target p))
                                      #:log-level 1)))
          (let ((log (bpf-object-verifier-log again)))
            (bpf-object-close! again)
            log)))))

(define (bpf-program-stats prog)
  "Return an alist about loaded @var{prog}: @code{run-count},
@code{run-time-ns} (of the attached entry point: the program, or its
dispatcher), @code{xlated-insns}, @code{jited-bytes},
@code{verified-insns}."
  (let* ((p (program-arg prog))
         (info (bpf-object-info (loaded p 'bpf-program-stats)))
         (entry (if (program-stub p) (bpf-object-info (program-stub p)) info)))
    (list (cons 'run-count (assq-ref entry 'run-count))
          (cons 'run-time-ns (assq-ref entry 'run-time-ns))
          (cons 'xlated-insns (assq-ref info 'xlated-insns))
          (cons 'jited-bytes (assq-ref info 'jited-bytes))
          (cons 'verified-insns (assq-ref info 'verified-insns)))))

(define (bpf-probe-names prog)
  "Return the probes @var{prog} is attached to, a vector in probe index
order, spelled as @code{bpf-list-probes} spells them:
@samp{tracepoint:sched:sched_switch},
@samp{uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc}."
  (or (program-probes (program-arg prog)) #()))

(define (bpf-probe-name prog i)
  "Return the name of probe @var{i} of @var{prog}, the one that
@code{(probe)} returned @var{i} for, spelled as @code{bpf-list-probes}
spells it (@samp{tracepoint:sched:sched_switch})."
  (let ((v (bpf-probe-names prog)))
    (if (and (integer? i) (< -1 i (vector-length v)))
        (vector-ref v i)
        (raise-ebpf-error 'ebpf-validation-error 'bpf-probe-name
                          (format #f "no probe ~a: ~a" i
                                  (if (zero? (vector-length v))
                                      "the program has no probes"
                                      (format #f "it must be between 0 and ~a"
                                              (- (vector-length v) 1))))
                          #:fix (format #f "give an index 0..~a" (- (vector-length v) 1))))))

(define (print-program p port)
  (format port "#<bpf-program ~a ~a~a>" (bpf-program-name p)
          (bpf-program-kind p)
          (cond ((bpf-program-attached? p) " attached")
                ((bpf-program-loaded? p) " loaded")
                (else ""))))
(set-record-type-printer! <bpf-program> print-program)
;;; ------------------------------------------------------------------
;;; For policies: checking a program without the kernel, reloading it,
;;; and the parts a pin must hold.

(define (bpf-program-kinds prog)
  "Return the kinds @var{prog} was declared with, a list in the order
they are tried (one element unless it has fallbacks)."
  (program-kinds (program-arg prog)))

(define (bpf-program-uses-maps prog)
  "Return the map names @var{prog} declared with @code{#:uses-maps}."
  (program-uses-maps (program-arg prog)))

(define (bpf-program-build prog)
  "Build the object of @var{prog} without touching the kernel: lower its
bpf-fn (or read its C file) and compile it through the object cache.
Return @code{(KIND . OBJECT-PATH)} for the first kind of its kind list
that builds.  Raises the first kind's @code{ebpf-lower-error} or
@code{ebpf-compile-error} when none builds, and @code{ebpf-error} for a
missing source file."
  (let ((p (program-arg prog)))
    (let loop ((kinds (program-kinds p)) (first #f))
      (match kinds
        (() (apply throw first))
        ((kind . rest)
         (catch #t
           (lambda ()
             (call-with-values (lambda () (build p kind))
               (lambda (path line-map c used fname) (cons kind path))))
           (lambda (key . args)
             (if (and (pair? rest)
                      (memq key '(ebpf-lower-error ebpf-compile-error)))
                 (loop rest (or first (cons key args)))
                 (apply throw (or first (cons key args)))))))))))

(define (bpf-program-dispatcher prog)
  "Return @code{(STUB . SLOT)} when attached @var{prog} runs behind a
dispatcher: @var{STUB} the @code{<bpf-object>} attached once, @var{SLOT}
the one-slot prog-array map it tail-calls through.  Return @code{#f}
otherwise.  Whoever pins the program must pin both: the kernel empties a
prog-array when the last process or pin holding it lets go."
  (let ((p (program-arg prog)))
    (and (program-stub p) (cons (program-stub p) (program-slot p)))))

(define (bpf-program-reload! prog)
  "Build and load @var{prog} again from its declaration, and swap the
new version in if it is attached (atomically, as a re-declaration does);
return the new program, which replaces @var{prog} under its name.  Used
when a map the program uses was recreated: the new version uses the new
map.  A version that fails to build or verify leaves @var{prog}
running."
  (bpf-program-set-constants! prog (bpf-program-constants (program-arg prog))))
