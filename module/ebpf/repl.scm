;;; (ebpf repl) --- bpf-help and the REPL's BPF meta-commands.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; bpf-help documents every declaration form from the field tables the
;;; forms themselves validate against (bpf-map-fields, bpf-program-fields,
;;; bpf-policy-fields), so the help cannot drift from the code; each entry
;;; carries an example that the test suite evaluates.
;;;
;;; The meta-commands are registered with Guile's (system repl command)
;;; under the category "ebpf" (,help ebpf lists them):
;;;
;;;   ,bpf-c EXP [KIND [TARGET]]   the C generated for a bpf-fn or program
;;;   ,bpf-maps [all [internal]]   declared maps (all: the kernel's)
;;;   ,bpf-progs [all]             declared programs (all: the kernel's)
;;;   ,bpf-dump MAP                a map's contents, printed as bpftrace does
;;;   ,bpf-features                what this kernel and tool chain can do
;;;   ,bpf-help [FORM]             bpf-help

(define-module (ebpf repl)
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf features)
  #:use-module (ebpf deploy)
  #:use-module ((ebpf program) #:select (bpf-programs))
  #:use-module (ebpf events)
  #:use-module ((ebpf policy) #:select (bpf-policy-fields))
  ;; Loaded for bpf-help, which documents the procedures they export.
  #:use-module ((ebpf types) #:select ())
  #:use-module ((ebpf build) #:select ())
  #:use-module ((ebpf packet) #:select ())
  #:use-module ((ebpf bpfman) #:select ())
  #:use-module ((ebpf metrics) #:select ())
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 regex)
  #:use-module (system repl common)
  #:use-module (system repl command)
  #:export (bpf-help
            bpf-help-topics
            bpf-help-example))

;;; ------------------------------------------------------------------
;;; bpf-help.

(define struct-fields
  '((name #f "The struct's name (a symbol): it names the C struct, the Guile record type <NAME>, make-NAME (keyword arguments), NAME? and NAME-FIELD accessors, in Scheme and in bpf-fn bodies alike.")
    ((FIELD TYPE) #f "One per field, in order: a name and a type (u8 u16 u32 u64 i8 i16 i32 i64 bool be16 be32 be64 ipv4 ipv6 mac (string N) (bytes N) (array T N) or another struct). C layout and alignment rules apply.")))

(define fn-fields
  '((name #f "The bpf-fn's name (a symbol): bound to the bpf-fn object, and the C function's name.")
    ((CTX) #f "The context parameter: (arg CTX ...), (proto CTX), (packet-ipv4 CTX) ... read through it.")
    (body #f "Forms lowered to BPF C when a program using the bpf-fn is loaded: let, if, cond, case, arithmetic, (map-ref M K), (map-increment! M K), (hist! M V), (lhist! M V MIN MAX STEP), (emit! RB V), (printk FMT X ...), (stack-id CTX SM), packet and tracing accessors.  ,EXPR splices a value computed by Guile.")))

(define (topics)
  ;; (FORM SUMMARY USAGE FIELDS EXAMPLE NOTE)
  (append
   `((defbpf-map
      "Declare a BPF map.  Declaring is data: the kernel map is created on first use (a map I/O call, or loading a program that names it) and shared by every program that names it."
      "(defbpf-map NAME #:kind KIND #:FIELD VALUE ...)"
      ,bpf-map-fields
      "(defbpf-map exec-counts #:kind 'hash #:key 'u32 #:value 'u64 #:max-entries 1024)
(defbpf-map latency #:kind 'histogram)
(defbpf-map events #:kind 'ringbuf #:max-entries (* 256 1024))"
      ,(format #f "Kinds: ~a.  A histogram map needs no other field; #:key makes it keyed."
               (string-join (map symbol->string bpf-map-kinds) " ")))
     (defbpf-program
      "Declare a BPF program: its kind, where it attaches and its source.  Nothing is built or loaded until bpf-load! or bpf-attach!; re-declaring an attached program swaps the new version in atomically."
      "(defbpf-program NAME #:kind KIND #:attach TARGET #:source SOURCE #:FIELD VALUE ...)"
      ,bpf-program-fields
      "(defbpf-map exec-counts #:kind 'hash #:key 'u32 #:value 'u64)
(bpf-fn count-execs (ctx)
  (map-increment! exec-counts (uid)))
(defbpf-program exec-counter
  #:kind 'tracepoint
  #:attach \"sched/sched_process_exec\"
  #:source count-execs)"
      "Then (bpf-attach! exec-counter), and (bpf-print-map exec-counts) to see the counts.")
     (defbpf-struct
      "Declare a struct type: the C struct BPF code uses and a Guile record type for the same values, usable as map keys and values and as ring buffer records."
      "(defbpf-struct NAME (FIELD TYPE) ...)"
      ,struct-fields
      "(defbpf-struct exec-event (pid u32) (uid u32) (comm (string 16)))
(make-exec-event #:pid 1 #:uid 0 #:comm \"init\")"
      "(bpf-struct->alist v) gives a value's fields as an alist."))
   `((defbpf-policy
      "Declare a policy: programs and maps deployed together, all or nothing, in dependency order, optionally pinned so they outlive the process."
      "(defbpf-policy NAME #:programs '(PROGRAM ...) #:maps '(MAP ...) #:FIELD VALUE ...)"
      ,bpf-policy-fields
      "(defbpf-map exec-counts #:kind 'hash #:key 'u32 #:value 'u64)
(bpf-fn count-execs (ctx)
  (map-increment! exec-counts (uid)))
(defbpf-program exec-counter
  #:kind 'tracepoint #:attach \"sched/sched_process_exec\" #:source count-execs)
(defbpf-policy exec-audit
  #:description \"count exec calls per user\"
  #:programs '(\"exec-counter\")
  #:maps '(\"exec-counts\"))"
      "(bpf-policy-plan exec-audit) shows the steps; (bpf-policy-apply! exec-audit) runs them."))
   `((bpf-fn
      "Write a program body in Scheme.  Its shape is checked at once; it is lowered to BPF C (with every bounds check the verifier needs) when a program using it is loaded, for that program's kind."
      "(bpf-fn NAME (CTX) BODY ...)"
      ,fn-fields
      "(bpf-fn drop-syn (ctx)
  (if (= (proto ctx) :tcp)
      (return :xdp-drop)
      (return :xdp-pass)))"
      "(bpf-fn->c drop-syn #:kind 'xdp) shows the C; ,bpf-c drop-syn at the REPL too."))))

(define (bpf-help-topics)
  "Return the declaration forms @code{bpf-help} documents, as symbols."
  (map car (topics)))

(define (topic-name what)
  (cond ((symbol? what) what)
        ((string? what) (string->symbol what))
        (else #f)))

(define (bpf-help-example form)
  "Return the example of declaration @var{form} (a symbol such as
@code{defbpf-map}) that @code{bpf-help} prints, as a string of Scheme
forms that evaluate in a module using @code{(ebpf)}; @code{#f} for a
form without one."
  (match (assq (topic-name form) (topics))
    ((_ summary usage fields example note) example)
    (_ #f)))

(define (field-label f)
  (match f
    ((? symbol? s) (string-append "#:" (symbol->string s)))
    (x (format #f "~a" x))))

(define (default-text d)
  (cond ((not d) "-")
        ((null? d) "()")
        (else (format #f "~s" d))))

(define (indent text prefix)
  (string-join (map (lambda (l) (if (string-null? l) l (string-append prefix l)))
                    (string-split text #\newline))
               "\n"))

(define (print-topic entry port)
  (match entry
    ((form summary usage fields example note)
     (format port "~a~%~%~a~%~%Usage: ~a~%~%Fields (default, then meaning):~%"
             form summary usage)
     (for-each (match-lambda
                 ((name default doc)
                  (format port "  ~16a ~10a ~a~%" (field-label name)
                          (default-text default) doc)))
               fields)
     (format port "~%Example:~%~a~%" (indent example "  "))
     (when note
       (format port "~%~a~%" note)))))

(define texinfo-command
  (make-regexp "@([a-z]+)\\{([^{}]*)\\}"))

(define (texinfo->text doc)
  ;; Docstrings are Texinfo; the REPL shows them as plain text: @var{x}
  ;; as X, @code{x} and its kin as x, environments' lines dropped.
  (let* ((lines (filter (lambda (l)
                          (not (or (string-prefix? "@end " l)
                                   (member l '("@itemize" "@example" "@lisp"
                                               "@table @code" "@enumerate")))))
                        (string-split doc #\newline)))
         (text (string-join (map (lambda (l)
                                   (if (string-prefix? "@item " l)
                                       (string-append "  - " (substring l 6))
                                       l))
                                 lines)
                            "\n")))
    (let loop ((t text))
      (let ((m (regexp-exec texinfo-command t)))
        (if m
            (loop (string-append
                   (match:prefix m)
                   (let ((cmd (match:substring m 1))
                         (arg (match:substring m 2)))
                     (cond ((string=? cmd "var") (string-upcase arg))
                           ((string=? cmd "dots") "...")
                           ((string=? cmd "samp") (string-append "'" arg "'"))
                           (else arg)))
                   (match:suffix m)))
            (regexp-substitute/global
             #f "@([@{}])"
             (regexp-substitute/global #f "@dots\\{\\}" t 'pre "..." 'post)
             'pre 1 'post))))))

;; The modules whose exports (ebpf) re-exports, in its order ((ebpf
;; deploy)'s bpf-test-run before (ebpf program)'s).  All are imported
;; above, so this module depends on them and never on (ebpf) itself.
(define public-interfaces
  (append (map resolve-interface
               '((ebpf error) (ebpf types) (ebpf map) (ebpf features)
                 (ebpf build) (ebpf packet) (ebpf fn) (ebpf deploy)
                 (ebpf policy) (ebpf bpfman) (ebpf events) (ebpf metrics)
                 (ebpf program)))
          (list (module-public-interface (current-module)))))

(define (ebpf-procedure name)
  ;; The value of NAME in the public interface, or #f.
  (any (lambda (iface)
         (let ((v (module-variable iface name)))
           (and v (variable-bound? v) (variable-ref v))))
       public-interfaces))

(define* (bpf-help #:optional what (port (current-output-port)))
  "Print help on @var{what} to @var{port}.  For a declaration form
(@code{defbpf-map}, @code{defbpf-program}, @code{defbpf-struct},
@code{defbpf-policy}, @code{bpf-fn}): what it does, its usage, every
field with its default and meaning, and a working example.  For a
procedure of @code{(ebpf)} (its name, or the procedure): its
documentation.  Without @var{what}: the forms and the REPL's
meta-commands.  Raises @code{ebpf-validation-error} for a name it does
not know."
  (let ((name (cond ((procedure? what) (procedure-name what))
                    (else (topic-name what)))))
    (cond
     ((not what)
      (format port "bpf-help FORM documents a declaration form: ~a.~%"
              (string-join (map symbol->string (bpf-help-topics)) ", "))
      (format port "bpf-help PROCEDURE shows a procedure's documentation.~%~%")
      (format port "REPL meta-commands (,help ebpf):~%")
      (for-each (lambda (l) (format port "  ~a~%" l))
                '(",bpf-c EXP [KIND [TARGET]]  C generated for a bpf-fn or program"
                  ",bpf-maps [all]             declared maps (all: every kernel map)"
                  ",bpf-progs [all]            declared programs (all: every kernel program)"
                  ",bpf-dump MAP               a map's contents, as bpftrace prints them"
                  ",bpf-features               what this kernel and tool chain can do"
                  ",bpf-help [FORM]            this help")))
     ((assq name (topics))
      => (lambda (entry) (print-topic entry port)))
     ((and name (ebpf-procedure name))
      => (lambda (proc)
           (format port "~a~%~%~a~%" name
                   (or (and (procedure? proc)
                            (and=> (procedure-documentation proc) texinfo->text))
                       "(no documentation)"))))
     (else
      (raise-ebpf-error 'ebpf-validation-error 'bpf-help
                        (format #f "no help on ~s" what)
                        #:fix (format #f "ask about one of ~a, or a procedure of (ebpf)"
                                      (string-join (map symbol->string (bpf-help-topics))
                                                   " ")))))
    (if #f #f)))

;;; ------------------------------------------------------------------
;;; Meta-commands.

(define (report-errors thunk)
  ;; Meta-commands print an error's message rather than entering the
  ;; debugger.
  (catch #t thunk
    (lambda (key . args)
      (if (ebpf-error? key)
          (format #t "~a: ~a~%" key (ebpf-error-message args))
          (format #t "error: ~a ~s~%" key args)))))

(define (enum-arg x)
  (cond ((keyword? x) (keyword->symbol x))
        ((and (symbol? x) (string-prefix? ":" (symbol->string x)))
         (string->symbol (substring (symbol->string x) 1)))
        ((string? x) (string->symbol x))
        (else x)))

(define (resolve-named repl datum lookup)
  ;; DATUM as the REPL reads it: an identifier bound to an object, or a
  ;; name for LOOKUP.
  (or (and (symbol? datum)
           (let ((v (module-variable (current-module) datum)))
             (and v (variable-bound? v) (variable-ref v))))
      (and (or (symbol? datum) (string? datum)) (lookup datum))
      datum))

(define-meta-command ((bpf-c ebpf) repl (form) . args)
  "bpf-c EXP [KIND [TARGET]]
Show the BPF C of a bpf-fn or program (default kind: the program's, or xdp)."
  (report-errors
   (lambda ()
     (let ((v (repl-eval repl (repl-parse repl form)))
           (kind (match args ((k . _) (enum-arg k)) (_ #f)))
           (target (match args ((_ t . _) (format #f "~a" t)) (_ #f))))
       (display
        (cond
         ((bpf-fn? v) (bpf-fn->c v #:kind (or kind 'xdp) #:target target))
         ((or (bpf-program? v) (string? v) (symbol? v))
          (if kind (bpf-program-c v #:kind kind) (bpf-program-c v)))
         (else
          (raise-ebpf-error 'ebpf-validation-error 'bpf-c
                            (format #f "~s is not a bpf-fn or a program" v)
                            #:fix "give a bpf-fn, a program or a program's name"))))))))

(define (cell x) (if x (format #f "~a" x) "-"))

(define-meta-command ((bpf-maps ebpf) repl . args)
  "bpf-maps [all [internal]]
List the declared maps (all: every map of the kernel; internal: with
guile-ebpf's own dispatcher maps)."
  (report-errors
   (lambda ()
     (if (member 'all args)
         (begin
           (format #t "~6a ~16a ~18a ~5a ~6a ~a~%" "id" "name" "kind" "key"
                   "value" "entries")
           (for-each (lambda (m)
                       (format #t "~6a ~16a ~18a ~5a ~6a ~a~%"
                               (assq-ref m 'id) (assq-ref m 'name)
                               (assq-ref m 'kind) (assq-ref m 'key-size)
                               (assq-ref m 'value-size)
                               (assq-ref m 'max-entries)))
                     (bpf-maps #:all? (and (member 'internal args) #t))))
         (let ((names (bpf-map-names)))
           (if (null? names)
               (format #t "No maps declared.  (bpf-help 'defbpf-map)~%")
               (begin
                 (format #t "~20a ~16a ~14a ~14a ~8a ~a~%" "name" "kind" "key"
                         "value" "max" "fd")
                 (for-each
                  (lambda (n)
                    (let ((m (bpf-map-lookup n)))
                      (format #t "~20a ~16a ~14a ~14a ~8a ~a~%" n
                              (bpf-map-kind m)
                              (cell (bpf-map-key-type m))
                              (cell (or (bpf-map-record-type m)
                                        (bpf-map-value-type m)))
                              (bpf-map-max-entries m)
                              (cell (bpf-map-fd m)))))
                  names))))))))

(define-meta-command ((bpf-progs ebpf) repl . args)
  "bpf-progs [all [internal]]
List the declared programs (all: every program of the kernel;
internal: with guile-ebpf's own dispatcher stubs)."
  (report-errors
   (lambda ()
     (if (member 'all args)
         (begin
           (format #t "~6a ~16a ~16a ~10a ~a~%" "id" "name" "kind" "runs"
                   "run-time-ns")
           (for-each (lambda (p)
                       (format #t "~6a ~16a ~16a ~10a ~a~%"
                               (assq-ref p 'id) (assq-ref p 'name)
                               (assq-ref p 'kind) (assq-ref p 'run-count)
                               (assq-ref p 'run-time-ns)))
                     (bpf-programs #:all? (and (member 'internal args) #t))))
         (let ((names (bpf-program-names)))
           (if (null? names)
               (format #t "No programs declared.  (bpf-help 'defbpf-program)~%")
               (begin
                 (format #t "~20a ~14a ~30a ~9a ~a~%" "name" "kind" "target"
                         "state" "runs")
                 (for-each
                  (lambda (n)
                    (let* ((p (bpf-program-lookup n))
                           (state (cond ((bpf-program-attached? p) "attached")
                                        ((bpf-program-loaded? p) "loaded")
                                        (else "declared")))
                           (runs (and (bpf-program-loaded? p)
                                      (assq-ref (bpf-program-stats p)
                                                'run-count))))
                      (format #t "~20a ~14a ~30a ~9a ~a~%" n
                              (bpf-program-kind p)
                              (cell (bpf-program-target p)) state (cell runs))))
                  names))))))))

(define-meta-command ((bpf-dump ebpf) repl . args)
  "bpf-dump MAP
Print a map's contents as bpftrace does (histograms drawn)."
  (report-errors
   (lambda ()
     (match args
       ((datum . _)
        (let ((m (resolve-named repl datum bpf-map-lookup)))
          (unless (bpf-map? m)
            (raise-ebpf-error 'ebpf-map-error 'bpf-dump
                              (format #f "no map ~s" datum)
                              #:fix "give a declared map or its name (,bpf-maps lists them)"))
          (case (bpf-map-kind m)
            ((histogram) (bpf-print-hist m))
            ((ringbuf)
             (format #t "~a: ring buffer of ~a bytes~%" (bpf-map-name m)
                     (bpf-map-max-entries m))
             (for-each (lambda (p) (format #t "  ~a: ~a~%" (car p) (cdr p)))
                       (bpf-ringbuf-stats m)))
            ((perf-event-array)
             (format #t "~a: perf buffers~%" (bpf-map-name m))
             (for-each (lambda (p) (format #t "  ~a: ~a~%" (car p) (cdr p)))
                       (bpf-perf-stats m)))
            ((stack-trace)
             (for-each (match-lambda
                         ((id . _)
                          (format #t "@~a[~a]:~%" (bpf-map-name m) id)
                          (for-each (lambda (f) (format #t "        ~a~%" f))
                                    (bpf-stack-symbols m id))
                          (newline)))
                       (bpf-map->alist m)))
            ((queue stack bloom-filter prog-array array-of-maps hash-of-maps
                    devmap devmap-hash cpumap xskmap cgroup-array)
             (format #t "~a: a ~a map; its contents are not listed~%"
                     (bpf-map-name m) (bpf-map-kind m)))
            (else (bpf-print-map m)))))
       (_ (format #t "Usage: ,bpf-dump MAP~%"))))))

(define-meta-command ((bpf-features ebpf) repl)
  "bpf-features
Show what this kernel and tool chain can do."
  (report-errors
   (lambda ()
     (for-each (match-lambda
                 ((k . v) (format #t "~20a ~a~%" (format #f "~a:" k) v)))
               (bpf-features)))))

(define-meta-command ((bpf-help ebpf) repl . args)
  "bpf-help [FORM]
Help on a declaration form (defbpf-map ...) or a procedure."
  (report-errors
   (lambda ()
     (match args
       ((what . _) (bpf-help what))
       (() (bpf-help))))))
