;;; (ebpf deploy-declare) --- program declarations: record, checks, registry.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf deploy), which re-exports the public names.  A
;;; declaration is data: its fields are checked when it is made (kinds
;;; and fallback lists, targets, the license a map user needs, the
;;; source), before anything is built.  The record also holds the live
;;; state the lifecycle modules set (object, links, dispatcher, C text,
;;; probe names), and the registry maps each name to the current
;;; declaration.

(define-module (ebpf deploy-declare)
  #:declarative? #f
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf kernel)
  #:use-module ((ebpf program) #:select (bpf-object-closed? bpf-link-live?))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  ;; For the other (ebpf deploy...) modules.  <bpf-program> too: Guile
  ;; inlines the record's small procedures (init-state!, the setters)
  ;; into the modules that call them, where the inlined code refers to
  ;; the record type by name.
  #:export (<bpf-program> %make-program declared-program init-state! registry program-arg
            program-kinds program-uses-maps program-pin-path
            set-program-source! set-program-constants!
            program-kind set-program-kind! program-object set-program-object!
            program-links set-program-links! program-slot set-program-slot!
            program-stub set-program-stub! program-c set-program-c!
            program-probes set-program-probes!)
  #:export (bpf-program?
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
            bpf-program-loaded?
            bpf-program-attached?
            bpf-program-kinds
            bpf-program-uses-maps
            gpl-compatible-license?))

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

(define (init-state! p)
  (set-program-kind! p #f)
  (set-program-object! p #f)
  (set-program-links! p '())
  (set-program-slot! p #f)
  (set-program-stub! p #f)
  (set-program-c! p #f)
  (set-program-probes! p #f))

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
  ;; The kinds bpf-fn lowers, from the kernel model (csrc/kernel/kinds.c).
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

;; The program declared by ALIST, validated; not registered, nothing
;; loaded.  (make-bpf-program registers it, swapping out an attached
;; program of that name.)
(define (declared-program alist)
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
         ;; Stand-ins share the first kind's context (the kernel model).
         (_ (for-each (lambda (k)
                        (match (stand-in-problem (car kinds) k)
                          ((msg . fix) ((invalid name "~a" msg) fix))
                          (#f #t)))
                      (cdr kinds)))
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
                              (ref 'pin-path #f) constants (ref 'doc #f))))
      (init-state! new)
      new)))

;;; ------------------------------------------------------------------
;;; The registry and the state of a program.

(define registry (make-hash-table))

(define (bpf-program-lookup name)
  "Return the program declared under @var{name} (string or symbol; - and _
are one character), or @code{#f}."
  (and=> (normalize-name name) (lambda (n) (hash-ref registry n))))

(define (bpf-program-names)
  "Return the names of the declared programs, sorted."
  (sort (hash-map->list (lambda (k v) k) registry) string<?))

(define (program-arg p)
  (or (and (bpf-program? p) p)
      (bpf-program-lookup p)
      (raise-ebpf-error 'ebpf-validation-error 'bpf-program
                        (format #f "no program named ~s" p)
                        #:fix "declare it with defbpf-program")))

(define (bpf-program-kind p)
  "Return the kind of program @var{p}: the kind in use once loaded (the
first of a fallback list that this kernel took), else the declared one."
  (or (program-kind p) (car (program-kinds p))))

(define (bpf-program-target p)
  "Return the attach target of @var{p}, or @code{#f}."
  (assq-ref (bpf-program-attach-spec p) 'target))

(define (bpf-program-kinds prog)
  "Return the kinds @var{prog} was declared with, a list in the order
they are tried (one element unless it has fallbacks)."
  (program-kinds (program-arg prog)))

(define (bpf-program-uses-maps prog)
  "Return the map names @var{prog} declared with @code{#:uses-maps}."
  (program-uses-maps (program-arg prog)))

(define (bpf-program-loaded? prog)
  "Return @code{#t} if @var{prog} is loaded in the kernel."
  (let ((p (program-arg prog)))
    (and (program-object p) (not (bpf-object-closed? (program-object p))) #t)))

(define (bpf-program-attached? prog)
  "Return @code{#t} if @var{prog} is attached."
  (let ((p (program-arg prog)))
    (and (any bpf-link-live? (program-links p)) #t)))

(define (print-program p port)
  (format port "#<bpf-program ~a ~a~a>" (bpf-program-name p)
          (bpf-program-kind p)
          (cond ((bpf-program-attached? p) " attached")
                ((bpf-program-loaded? p) " loaded")
                (else ""))))
(set-record-type-printer! <bpf-program> print-program)
