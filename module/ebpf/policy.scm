;;; (ebpf policy) --- defbpf-policy: the unit people deploy.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; A policy names maps and programs.  Declaring it is data, as for every
;;; defbpf-* form.  Applying it runs a plan of small steps -- maps
;;; created, programs loaded, programs attached in the listed order, then
;;; (when pinned) pins and a manifest -- after every name was resolved and
;;; every component checked (targets exist, bodies lower, objects build),
;;; so most failures happen before the kernel is touched.  A step that
;;; still fails undoes the steps before it, newest first: apply is
;;; all-or-nothing.
;;;
;;; The steps run against a runtime: the kernel, or a simulated one that
;;; only says what each step would do (#:dry-run? #t), so a dry run walks
;;; the same plan, injected failures and undos included, with no bpf()
;;; call at all.
;;;
;;; Re-applying a policy in the process that applied it changes only
;;; what changed: programs that were re-declared were already swapped in
;;; atomically by their declaration, maps re-declared with the same shape
;;; kept their kernel map and data, and a map whose shape changed is
;;; created anew, with the programs that use it reloaded and swapped in;
;;; the result reports each case.
;;;
;;; A pinned policy lives in the kernel after its process exits: its
;;; maps, programs (and dispatchers) and links are pinned under
;;; PIN-ROOT/POLICY/ on bpffs.  bpffs holds only BPF objects, so the JSON
;;; manifest that describes the pins (and the policy's digest) is kept
;;; beside them in a plain directory, RUN-DIR/POLICY/manifest.json.  Any
;;; process can then report on the policy and remove it from the pins and
;;; the manifest alone.

(define-module (ebpf policy)
  #:use-module ((ebpf core) #:select (%bpf-fd-pin! %bpf-pinned-info
                                      %bpf-map-release! %bpf-pin-dir-remove!
                                      %bpf-link-tc-filters
                                      %bpf-tc-filter-remove!))
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf build)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module ((ebpf kernel) #:select (kind-flag?))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 regex)
  #:use-module ((ice-9 binary-ports) #:select (get-bytevector-all))
  #:export (defbpf-policy
            make-bpf-policy
            bpf-policy?
            bpf-policy-name
            bpf-policy-description
            bpf-policy-programs
            bpf-policy-maps
            bpf-policy-doc
            bpf-policy-fields
            bpf-policy-lookup
            bpf-policy-names
            bpf-policy-plan
            bpf-policy-print-plan
            bpf-policy-apply!
            bpf-policy-applied?
            bpf-policy-status
            bpf-policy-remove!
            bpf-policy-digest
            bpf-policy-map
            bpf-policy-manifest
            bpf-policy-pin-dir
            bpf-pinned-policy-names
            bpf-policy-fail-at-step
            bpf-policy-pin-root
            bpf-policy-run-dir))

;;; ------------------------------------------------------------------
;;; Where pinned policies live, and the test hook.

(define (env-or name default)
  (let ((v (getenv name)))
    (if (and v (not (string-null? v))) v default)))

(define (bpf-policy-pin-root)
  "Return the bpffs directory under which each pinned policy gets a
directory of its own: @env{GUILE_EBPF_PIN_ROOT}, by default
@file{/sys/fs/bpf/guile-ebpf} (read at each call)."
  (env-or "GUILE_EBPF_PIN_ROOT" "/sys/fs/bpf/guile-ebpf"))

(define (bpf-policy-run-dir)
  "Return the plain directory that holds the manifest of each pinned
policy (bpffs holds only BPF objects): @env{GUILE_EBPF_RUN_DIR}, by
default @file{/run/guile-ebpf} (read at each call)."
  (env-or "GUILE_EBPF_RUN_DIR" "/run/guile-ebpf"))

(define fail-at #f)

(define (bpf-policy-fail-at-step . args)
  "The test hook of @code{bpf-policy-apply!}.  With an integer @var{k},
make step @var{k} of every later apply fail (after steps 1 ... @var{k}-1
ran, so that their undoing can be checked); with @code{#f}, stop.  Return
the previous setting.  Without argument, return the current one.  When it
is @code{#f}, the environment variable @env{GUILE_EBPF_FAIL_AT_STEP} is
read instead, for commands run as subprocesses.  The failure is an
@code{ebpf-error} saying it was injected; a dry run reports it in its log."
  (let ((old fail-at)
        (k (and (pair? args) (car args))))
    (when (pair? args)
      (unless (or (not k) (and (integer? k) (positive? k)))
        (raise-ebpf-error 'ebpf-validation-error 'bpf-policy-fail-at-step
                          (format #f "~s is not a step number" k)
                          #:fix "give a step number from 1, or #f"))
      (set! fail-at k))
    old))

(define (fail-step)
  (or fail-at
      (let ((v (getenv "GUILE_EBPF_FAIL_AT_STEP")))
        (and v (string->number v)))))

;; The crash hooks, for tests of what a killed apply leaves: with
;; GUILE_EBPF_CRASH_AT_STEP=K the process kills itself with SIGKILL just
;; before step K of an apply; with GUILE_EBPF_CRASH_AT_PIN=N just after
;; the Nth pin it makes (inside a step).
(define (env-number name)
  (let ((v (getenv name)))
    (and v (string->number v))))

(define (crash! what)
  (format (current-error-port) "guile-ebpf: test hook: killed ~a~%" what)
  (force-output (current-error-port))
  (kill (getpid) SIGKILL))

(define pins-made 0)

(define (bpf-policy-pin-dir policy)
  "Return the bpffs directory where @var{policy} (a policy or its name)
is or would be pinned: @code{(bpf-policy-pin-root)/NAME}."
  (string-append (bpf-policy-pin-root) "/" (policy-name-of policy)))

(define (manifest-dir name)
  (string-append (bpf-policy-run-dir) "/" name))

(define (manifest-path name)
  (string-append (manifest-dir name) "/manifest.json"))

;;; ------------------------------------------------------------------
;;; The declaration.

(define-record-type <bpf-policy>
  (%make-policy name description programs maps doc)
  bpf-policy?
  (name bpf-policy-name)
  (description bpf-policy-description)
  (programs policy-program-items)       ; names (strings) or programs
  (maps policy-map-items)               ; names (strings) or maps
  (doc bpf-policy-doc))

(define bpf-policy-fields
  '((name #f "The policy's name: string or symbol of 1 to 64 letters, digits, - and _ (one character).")
    (description #f "One line saying what the policy does.")
    (programs () "The programs, by name or object, attached in this order.")
    (maps () "The maps, by name or object; maps the programs use are added.")
    (doc #f "Documentation string.")))

(define registry (make-hash-table))
(define declared-order '())             ; names, newest first

(define (invalid name fmt . args)
  (lambda (fix)
    (raise-ebpf-error 'ebpf-validation-error 'defbpf-policy
                      (string-append (format #f "policy ~a: " name)
                                     (apply format #f fmt args))
                      #:fix fix)))

(define (item-name x)
  (cond ((bpf-program? x) (bpf-program-name x))
        ((bpf-map? x) (bpf-map-name x))
        (else (normalize-name x))))

(define (check-items name field items ok? what)
  (let ((items (cond ((not items) '())
                     ((list? items) items)
                     (else (list items)))))
    (for-each
     (lambda (x)
       (unless (or (string? x) (symbol? x) (ok? x))
         ((invalid name "#:~a: ~s is not a ~a name or object" field x what)
          (format #f "write #:~a '(\"NAME\" ...) with the names of declared ~as"
                  field what))))
     items)
    (let loop ((l (map item-name items)) (seen '()))
      (match l
        (() #t)
        ((n . rest)
         (when (member n seen)
           ((invalid name "#:~a names ~a twice" field n)
            "list each one once"))
         (loop rest (cons n seen)))))
    (map (lambda (x) (if (or (string? x) (symbol? x)) (item-name x) x))
         items)))

(define (make-bpf-policy alist)
  "Make a policy from the declaration @var{alist} @code{((field . value)
...)}; see @code{defbpf-policy}.  Nothing is resolved or touched yet:
names are looked up when the policy is planned or applied."
  (check-declaration-keys 'defbpf-policy alist (map car bpf-policy-fields))
  (let* ((ref (lambda (k) (declaration-ref alist k #f)))
         (raw (ref 'name))
         (name (or (normalize-name raw)
                   ((invalid "?" "no name")
                    "write (defbpf-policy NAME #:programs '(...) #:maps '(...))")))
         (_ (unless (policy-name? name)
              ((invalid name "~s is not a valid name" raw)
               "use 1 to 64 letters, digits, - and _ (the name is a directory under bpffs)")))
         (description (ref 'description))
         (_ (unless (or (not description) (string? description))
              ((invalid name "#:description must be a string")
               "write #:description \"what the policy does\"")))
         (programs (check-items name 'programs (ref 'programs) bpf-program?
                                "program"))
         (maps (check-items name 'maps (ref 'maps) bpf-map? "map"))
         (doc (ref 'doc)))
    (when (and (null? programs) (null? maps))
      ((invalid name "it names no program and no map")
       "list them: #:programs '(\"PROGRAM\" ...) #:maps '(\"MAP\" ...)"))
    (let ((p (%make-policy name description programs maps doc)))
      (hash-set! registry name p)
      (set! declared-order (cons name (delete name declared-order)))
      p)))

(define-declaration-syntax defbpf-policy make-bpf-policy)

(define (bpf-policy-programs p)
  "Return the names of the programs of policy @var{p}, in attach order."
  (map item-name (policy-program-items p)))

(define (bpf-policy-maps p)
  "Return the names of the maps policy @var{p} lists (the maps its
programs use are added when it is planned)."
  (map item-name (policy-map-items p)))

(define (bpf-policy-lookup name)
  "Return the policy declared under @var{name} (string or symbol; - and _
are one character), or @code{#f}."
  (and=> (normalize-name name) (lambda (n) (hash-ref registry n))))

(define (bpf-policy-names)
  "Return the names of the declared policies, in declaration order."
  (reverse declared-order))

(define policy-name-chars
  (string->char-set
   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))

(define (policy-name? s)
  ;; The name is a directory under the pin root and the run directory:
  ;; nothing that could climb out of them (no "/", no "..").
  (and (<= 1 (string-length s) 64)
       (string-every policy-name-chars s)))

(define (policy-name-of x)
  (cond ((bpf-policy? x) (bpf-policy-name x))
        ((normalize-name x)
         => (lambda (n)
              (unless (policy-name? n)
                (raise-ebpf-error 'ebpf-validation-error 'bpf-policy
                                  (format #f "~s is not a policy name" x)
                                  #:fix "a policy name has 1 to 64 letters, digits, - and _"))
              n))
        (else (raise-ebpf-error 'ebpf-validation-error 'bpf-policy
                                (format #f "~s is not a policy or a policy's name" x)
                                #:fix "pass a policy made by defbpf-policy, or its name"))))

(define (policy-arg x who)
  (or (and (bpf-policy? x) x)
      (bpf-policy-lookup (policy-name-of x))
      (raise-ebpf-error 'ebpf-validation-error who
                        (format #f "no policy named ~s" x)
                        #:fix (format #f "declare it with defbpf-policy (declared: ~a)"
                                      (names-or-none (bpf-policy-names))))))

(define (names-or-none l)
  (if (null? l) "none" (string-join l ", ")))

;;; ------------------------------------------------------------------
;;; Resolution: names to the current declarations.

;; A resolved policy: its maps in plan order (listed ones first, then
;; those its programs use), its programs in the listed order, and for
;; each program the names of its maps.
(define-record-type <resolved>
  (make-resolved policy maps programs program-maps)
  resolved?
  (policy resolved-policy)
  (maps resolved-maps)                  ; ((name . <bpf-map>) ...)
  (programs resolved-programs)          ; ((name . <bpf-program>) ...)
  (program-maps resolved-program-maps)) ; ((prog-name map-name ...) ...)

(define (current-program item)
  ;; The current declaration under the item's name: a program object
  ;; given in the policy may have been re-declared since.
  (let ((n (item-name item)))
    (or (bpf-program-lookup n)
        (and (bpf-program? item) item))))

(define (current-map item)
  (let ((n (item-name item)))
    (or (bpf-map-lookup n)
        (and (bpf-map? item) item))))

(define (fn-source-maps p)
  (let ((src (bpf-program-source p)))
    (if (bpf-fn? src)
        (catch 'ebpf-lower-error
          (lambda () (bpf-fn-maps src #:kind (bpf-program-kind p)))
          (lambda _ '()))
        '())))

(define (resolve policy)
  (let* ((pname (bpf-policy-name policy))
         (programs
          (map (lambda (item)
                 (cons (item-name item)
                       (or (current-program item)
                           (raise-ebpf-error
                            'ebpf-validation-error 'bpf-policy-apply!
                            (format #f "policy ~a: no program named ~s"
                                    pname (item-name item))
                            #:fix (format #f "declare it with defbpf-program, or correct the name in #:programs (declared programs: ~a)"
                                          (names-or-none (bpf-program-names)))))))
               (policy-program-items policy)))
         (listed
          (map (lambda (item)
                 (cons (item-name item)
                       (or (current-map item)
                           (raise-ebpf-error
                            'ebpf-validation-error 'bpf-policy-apply!
                            (format #f "policy ~a: no map named ~s" pname
                                    (item-name item))
                            #:fix (format #f "declare it with defbpf-map, or correct the name in #:maps (declared maps: ~a)"
                                          (names-or-none (bpf-map-names)))))))
               (policy-map-items policy)))
         (program-maps
          (map (match-lambda
                 ((name . p)
                  (cons name
                        (delete-duplicates
                         (append
                          (map (lambda (m)
                                 (let ((n (normalize-name m)))
                                   (unless (current-map n)
                                     (raise-ebpf-error
                                      'ebpf-validation-error 'bpf-policy-apply!
                                      (format #f "policy ~a: program ~a uses map ~s, which is not declared"
                                              pname name n)
                                      #:fix "declare the map with defbpf-map, or correct #:uses-maps"))
                                   n))
                               (bpf-program-uses-maps p))
                          (map bpf-map-name (fn-source-maps p)))))))
               programs))
         (used (delete-duplicates (append-map cdr program-maps)))
         (extra (filter-map (lambda (n)
                              (and (not (assoc n listed))
                                   (cons n (current-map n))))
                            used)))
    (make-resolved policy (append listed extra) programs program-maps)))

;;; ------------------------------------------------------------------
;;; Applied state, in this process.

(define-record-type <applied>
  (make-applied policy maps created programs digests pin-dir pins digest
                time)
  applied?
  (policy applied-policy)
  (maps applied-maps)                   ; ((name . <bpf-map>) ...)
  (created applied-created set-applied-created!) ; maps the policy created
  (programs applied-programs)           ; ((name . <bpf-program>) ...)
  (digests applied-digests)             ; ((name . object sha256) ...)
  (pin-dir applied-pin-dir)             ; directory, or #f
  (pins applied-pins)                   ; ((path . object) ...)
  (digest applied-digest)
  (time applied-time))

(define applied-table (make-hash-table))

(define (applied-state name) (hash-ref applied-table name))

(define (bpf-policy-applied? policy)
  "Return @code{#t} if @var{policy} (a policy or its name) was applied
by this process and not removed since."
  (and (applied-state (policy-name-of policy)) #t))

;;; ------------------------------------------------------------------
;;; Component checks (before the kernel is touched).

(define (kind-target-problem p kind)
  ;; #f if KIND's attach target of P exists, else (KEY MESSAGE FIX).
  (let ((target (bpf-program-target p))
        (name (bpf-program-name p)))
    (case kind
      ((xdp tc)
       (and (string? target)
            (not (file-exists? (string-append "/sys/class/net/" target)))
            (list 'ebpf-attach-error
                  (format #f "program ~a: interface ~a does not exist" name target)
                  "create it, or change #:attach (ip link lists the interfaces)")))
      ((tracepoint)
       (and (string? target)
            (null? (tracepoints-matching target))
            (list 'ebpf-attach-error
                  (format #f "program ~a: no tracepoint ~a" name target)
                  "list them with (bpf-list-probes \"CATEGORY:*\") or under /sys/kernel/tracing/events")))
      ((cgroup-skb cgroup-sock-addr)
       (and (string? target) (not (file-exists? target))
            (list 'ebpf-attach-error
                  (format #f "program ~a: no cgroup directory ~a" name target)
                  "create it under the cgroup2 mount, or change #:attach")))
      ((uprobe uretprobe)
       ;; Library names, symbols and versions resolve as at attach.
       (let loop ((ts (if (pair? target) target (list target))))
         (and (pair? ts)
              (or (and (string? (car ts))
                       (catch 'ebpf-attach-error
                         (lambda () (bpf-resolve-uprobe (car ts)) #f)
                         (lambda args
                           (let* ((msg (or (ebpf-error-message (cdr args)) ""))
                                  (i (string-contains msg "Fix: ")))
                             (list 'ebpf-attach-error
                                   (format #f "program ~a: ~a" name
                                           (string-trim-right
                                            (if i (substring msg 0 i) msg)))
                                   (if i (substring msg (+ i 5))
                                       "give #:attach \"LIB:SYMBOL\""))))))
                  (loop (cdr ts))))))
      (else #f))))

(define (check-target! policy p)
  (let* ((kinds (if (bpf-program-loaded? p)
                    (list (bpf-program-kind p))
                    (bpf-program-kinds p)))
         (problems (map (lambda (k) (kind-target-problem p k)) kinds)))
    (when (every identity problems)
      (match (car problems)
        ((key msg fix)
         (raise-ebpf-error key 'bpf-policy-apply!
                           (format #f "policy ~a: ~a" (bpf-policy-name policy) msg)
                           #:fix fix))))))

(define (check-pinnable! policy p)
  (when (eq? (bpf-program-kind p) 'tc)
    (raise-ebpf-error
     'ebpf-validation-error 'bpf-policy-apply!
     (format #f "policy ~a: program ~a is a tc program, whose filter is attached through netlink and cannot be pinned"
             (bpf-policy-name policy) (bpf-program-name p))
     #:fix "apply the policy without #:pin? (guile-ebpf run keeps it in the foreground), or make the program an xdp one")))

(define (file-sha256 path)
  (bpf-sha256 (call-with-input-file path get-bytevector-all #:binary #t)))

(define (build-program! policy p)
  ;; Lower and compile now, through the object cache: the load step
  ;; then finds the object built.
  (catch #t
    (lambda () (bpf-program-build p))
    (lambda (key . args)
      (if (ebpf-error? key)
          (rethrow-with-context key args
                                (format #f "policy ~a: program ~a: "
                                        (bpf-policy-name policy)
                                        (bpf-program-name p)))
          (apply throw key args)))))

;;; ------------------------------------------------------------------
;;; Errors.

(define (split-fix msg)
  ;; "TEXT. Fix: HINT" -> (values TEXT HINT)
  (let ((i (and (string? msg) (string-contains msg ". Fix: "))))
    (if i
        (values (substring msg 0 i) (substring msg (+ i 7)))
        (values (or msg "") #f))))

(define (error-text key args)
  (if (ebpf-error? key)
      (or (ebpf-error-message args) (format #f "~a" key))
      (match args
        (((? symbol-or-string? subr) (? string? fmt) (? list? fargs) . _)
         (format #f "~a: ~a" key
                 (catch #t (lambda () (apply simple-format #f fmt fargs))
                   (lambda _ fmt))))
        (_ (format #f "~a: ~s" key args)))))

(define (symbol-or-string? x) (or (symbol? x) (string? x) (not x)))

(define (rethrow-with-context key args prefix)
  (call-with-values (lambda () (split-fix (error-text key args)))
    (lambda (text fix)
      (raise-ebpf-error (if (ebpf-error? key) key 'ebpf-error)
                        (if (ebpf-error? key) (ebpf-error-subr args) 'bpf-policy-apply!)
                        (string-append prefix text)
                        #:fix (or fix "see the error above")
                        #:details (if (ebpf-error? key) (ebpf-error-details args) '())))))

;;; ------------------------------------------------------------------
;;; Steps.

;; A step: what it is (printable), and what it does and undoes on the
;; kernel runtime.  DO returns a result symbol for the report.
(define-record-type <step>
  (make-step action name detail do undo)
  step?
  (index step-index set-step-index!)
  (action step-action)
  (name step-name)
  (detail step-detail)
  (do step-do)
  (undo step-undo))

(define (step->alist s)
  `((index . ,(step-index s)) (action . ,(step-action s))
    (name . ,(step-name s)) (detail . ,(step-detail s))))

(define (shape m)
  `((kind . ,(bpf-map-kind m)) (key-size . ,(bpf-map-key-size m))
    (value-size . ,(bpf-map-value-size m))
    (max-entries . ,(bpf-map-max-entries m)) (flags . ,(bpf-map-flags m))))

(define (shape-text m)
  (format #f "~a, key ~a bytes, value ~a bytes, ~a entries"
          (bpf-map-kind m) (bpf-map-key-size m) (bpf-map-value-size m)
          (bpf-map-max-entries m)))

(define (target-text p)
  (let ((spec (bpf-program-attach-spec p)))
    (string-append
     (format #f "~a" (or (assq-ref spec 'target)
                         (case (bpf-program-kind p)
                           ((perf-event) (format #f "~a Hz on every CPU"
                                                 (or (assq-ref spec 'frequency) 99)))
                           (else "its hook"))))
     (if (assq-ref spec 'mode) (format #f " (mode ~a)" (assq-ref spec 'mode)) "")
     (if (assq-ref spec 'direction) (format #f " (~a)" (assq-ref spec 'direction)) ""))))

(define (attachable? p)
  (not (eq? (bpf-program-kind p) 'socket-filter)))

(define (pin-path dir prefix name . parts)
  ;; bpffs refuses dots in names: the parts are joined with colons.
  (string-append dir "/" prefix ":" name
                 (string-concatenate (map (lambda (x) (format #f ":~a" x)) parts))))

;; The pins a program needs: ((path . fd-or-map) ...).  Maps are pinned
;; with bpf-map-pin!, programs and links with their fds.
(define (program-pins p dir)
  (let* ((name (bpf-program-name p))
         (obj (bpf-program-object p))
         (disp (bpf-program-dispatcher p)))
    (append
     (if obj (list (cons (pin-path dir "prog" name) (bpf-object-fd obj))) '())
     (if disp
         (list (cons (pin-path dir "prog" name "dispatch") (bpf-object-fd (car disp)))
               (cons (pin-path dir "prog" name "slot") (cdr disp)))
         '())
     (append-map
      (lambda (l i)
        (let ((fds (bpf-link-fds l)))
          (if (= (length fds) 1)
              (list (cons (pin-path dir "link" name i) (car fds)))
              (map (lambda (fd j) (cons (pin-path dir "link" name i j) fd))
                   fds (iota (length fds))))))
      (bpf-program-links p) (iota (length (bpf-program-links p)))))))

(define (pin-one! path what)
  (if (bpf-map? what)
      (bpf-map-pin! what path)
      (%bpf-fd-pin! what path)))

(define (unpin-one! path what)
  (if (bpf-map? what)
      (bpf-map-unpin! what path)
      (when (file-exists? path) (delete-file path))))

(define (check-pin-dir! name)
  ;; Pins are made and replaced by path under ROOT/NAME: that must be a
  ;; directory itself, not a symbolic link that would lead elsewhere.
  (let* ((dir (bpf-policy-pin-dir name))
         (st (false-if-exception (lstat dir))))
    (when (and st (not (eq? (stat:type st) 'directory)))
      (raise-ebpf-error 'ebpf-error 'bpf-policy-apply!
                        (format #f "~a is not a directory of pins (a ~a); nothing was done"
                                dir (stat:type st))
                        #:fix "it was not made by guile-ebpf: look at it and remove it by hand if it should go"))))

(define (ensure-dir! dir)
  (unless (file-exists? dir)
    (let ((parent (dirname dir)))
      (unless (or (string=? parent dir) (file-exists? parent))
        (ensure-dir! parent))
      (mkdir dir #o700))))

(define (bpffs-mounted?)
  (catch #t
    (lambda ()
      (call-with-input-file "/proc/mounts"
        (lambda (port)
          (let loop ()
            (let ((line (read-line port)))
              (cond ((eof-object? line) #f)
                    ((let ((f (string-split line #\space)))
                       (and (>= (length f) 3)
                            (string=? (caddr f) "bpf")
                            (string=? (cadr f) "/sys/fs/bpf")))
                     #t)
                    (else (loop))))))))
    (lambda _ #f)))

(define (ensure-bpffs!)
  ;; The pin primitives mount bpffs themselves; the directories must
  ;; exist first.
  (unless (bpffs-mounted?)
    (unless (file-exists? "/sys/fs/bpf") (false-if-exception (mkdir "/sys/fs/bpf")))
    (unless (zero? (or (status:exit-val
                        (system* "mount" "-t" "bpf" "bpffs" "/sys/fs/bpf"))
                       1))
      (raise-ebpf-error 'ebpf-permission-error 'bpf-policy-apply!
                        "bpffs is not mounted at /sys/fs/bpf and could not be mounted"
                        #:fix "mount it as root: mount -t bpf bpffs /sys/fs/bpf"))))

;; Build the steps of applying RESOLVED.  PRIOR is this process's state
;; of an earlier apply of the same policy, or #f.  Steps record what they
;; did in STATE (an alist box) for the report and the new applied state.
(define (make-steps resolved prior pin? state)
  (define policy (resolved-policy resolved))
  (define pname (bpf-policy-name policy))
  (define dir (and pin? (bpf-policy-pin-dir pname)))
  (define (note! key val) (set-cdr! state (acons key val (cdr state))))
  (define prior-maps (if prior (applied-maps prior) '()))
  (define prior-programs (if prior (applied-programs prior) '()))
  (define prior-pins (if prior (applied-pins prior) '()))
  (define recreated
    ;; Maps the policy used before whose new declaration has another
    ;; shape: the re-declaration could not keep the kernel map.
    (filter-map
     (match-lambda
       ((name . m)
        (let ((old (assoc-ref prior-maps name)))
          (and old (not (eq? old m)) (not (bpf-map-fd m))
               (not (equal? (shape old) (shape m)))
               name))))
     (resolved-maps resolved)))
  (define (uses-recreated? pname)
    (any (lambda (m) (member m recreated))
         (or (assoc-ref (resolved-program-maps resolved) pname) '())))
  (define map-steps
    (map
     (match-lambda
       ((name . m)
        (let ((old (assoc-ref prior-maps name)))
          (cond
           ((member name recreated)
            (make-step 'recreate-map name
                       (format #f "create map ~a anew (~a); its shape was ~a, so its data is not kept"
                               name (shape-text m) (shape-text old))
                       (lambda ()
                         (bpf-map-create! m)
                         (note! 'recreated (list name (cons 'old (shape old))
                                                 (cons 'new (shape m))))
                         (note! 'map (cons name 'recreated))
                         (note! 'created name)
                         'recreated)
                       (lambda () (%bpf-map-release! m))))
           ((bpf-map-fd m)
            (make-step 'keep-map name
                       (format #f "keep map ~a (~a) and its data" name (shape-text m))
                       (lambda () (note! 'map (cons name 'kept)) 'kept)
                       (lambda () #t)))
           (else
            (make-step 'create-map name
                       (format #f "create map ~a (~a)" name (shape-text m))
                       (lambda ()
                         (bpf-map-create! m)
                         (note! 'map (cons name 'created))
                         (note! 'created name)
                         'created)
                       (lambda () (%bpf-map-release! m))))))))
     (resolved-maps resolved)))
  (define (maps-text name)
    (let ((ms (or (assoc-ref (resolved-program-maps resolved) name) '())))
      (if (null? ms) "" (format #f " (maps: ~a)" (string-join ms ", ")))))
  (define load-steps
    (map
     (match-lambda
       ((name . p)
        (let ((old (assoc-ref prior-programs name))
              (kind (bpf-program-kind p)))
          (cond
           ((and (bpf-program-loaded? p) (uses-recreated? name))
            (make-step 'reload-program name
                       (format #f "reload ~a program ~a for its recreated maps and swap it in atomically~a"
                               kind name (maps-text name))
                       (lambda ()
                         (let ((new (bpf-program-reload! p)))
                           (note! 'program-object (cons name new))
                           (note! 'program (cons name 'reloaded))
                           'reloaded))
                       ;; The old version was closed by the swap: a
                       ;; reload is not undone.
                       (lambda () #t)))
           ((bpf-program-loaded? p)
            (make-step 'keep-program name
                       (if (and old (not (eq? old p)))
                           (format #f "keep ~a program ~a: its new version was swapped in when it was re-declared"
                                   kind name)
                           (format #f "keep ~a program ~a, already loaded" kind name))
                       (lambda ()
                         (let* ((d (bpf-program-digest p))
                                (before (and prior (assoc-ref (applied-digests prior) name)))
                                (r (cond ((not old) 'kept)
                                         ((equal? d before) 'unchanged)
                                         (else 'swapped))))
                           (note! 'program (cons name r))
                           r))
                       (lambda () #t)))
           (else
            (make-step 'load-program name
                       (format #f "load ~a program ~a~a" kind name (maps-text name))
                       (lambda ()
                         (bpf-load! p)
                         (note! 'program (cons name 'loaded))
                         'loaded)
                       (lambda () (bpf-unload! p))))))))
     (resolved-programs resolved)))
  (define attach-steps
    (filter-map
     (match-lambda
       ((name . p)
        (and (attachable? p)
             (not (bpf-program-attached? p))
             (make-step 'attach-program name
                        (format #f "attach ~a to ~a" name (target-text p))
                        (lambda ()
                          (let ((p (current-program name)))
                            (bpf-attach! p)
                            (note! 'program (cons name 'attached))
                            (when (eq? (bpf-program-kind p) 'tc)
                              (write-tc-record! pname (resolved-programs resolved)))
                            'attached))
                        (lambda ()
                          (bpf-detach! (current-program name))
                          (when (eq? (bpf-program-kind p) 'tc)
                            (write-tc-record! pname (resolved-programs resolved))))))))
     (resolved-programs resolved)))
  (define removed-programs
    (filter (match-lambda ((name . _) (not (assoc name (resolved-programs resolved)))))
            prior-programs))
  (define remove-steps
    (append
     (map
      (match-lambda
        ((name . p)
         (let ((was-attached? (bpf-program-attached? p))
               (pins (filter (lambda (pin) (pin-of-program? (car pin) name))
                             prior-pins)))
           (make-step 'remove-program name
                      (format #f "detach and unload ~a, which the policy no longer names" name)
                      (lambda ()
                        (for-each (match-lambda ((path . what) (unpin-one! path what))) pins)
                        (bpf-unload! p)
                        (note! 'program (cons name 'removed))
                        'removed)
                      (lambda ()
                        (if was-attached? (bpf-attach! p) (bpf-load! p))
                        (when (applied-pin-dir prior)
                          (for-each (match-lambda
                                      ((path . what)
                                       (false-if-exception (pin-one! path what))))
                                    (program-pins p (applied-pin-dir prior)))))))))
      removed-programs)
     (filter-map
      (match-lambda
        ((name . m)
         (and (not (assoc name (resolved-maps resolved)))
              (let ((pins (filter (lambda (pin) (equal? (car pin) (pin-path (applied-pin-dir prior) "map" name)))
                                  (if (applied-pin-dir prior) prior-pins '()))))
                (make-step 'release-map name
                           (format #f "drop map ~a from the policy (the map itself stays declared~a)"
                                   name (if (null? pins) "" ", its pin is removed"))
                           (lambda ()
                             (for-each (match-lambda ((path . what) (unpin-one! path what))) pins)
                             (note! 'map (cons name 'released))
                             'released)
                           (lambda ()
                             (for-each (match-lambda ((path . what) (pin-one! path what))) pins)))))))
      prior-maps)))
  (define began-pins? #f)
  (define (begin-pins!)
    ;; Before the first pin: a manifest marked incomplete that lists
    ;; every pin to come, so that an apply killed from here on leaves a
    ;; policy that status reports and remove cleans.  Everything made
    ;; before it dies with the process.
    (unless began-pins?
      (set! began-pins? #t)
      (write-manifest!
       resolved
       (append (map (match-lambda ((name . _) (pin-path dir "map" name)))
                    (resolved-maps resolved))
               (append-map (match-lambda
                             ((name . _) (map car (program-pins (current-program name) dir))))
                           (resolved-programs resolved)))
       dir #f)))
  (define pin-steps
    (if (not pin?)
        '()
        (append
         (map
          (match-lambda
            ((name . m)
             (let ((path (pin-path dir "map" name)))
               (make-step 'pin-map name
                          (format #f "pin map ~a at ~a" name path)
                          (lambda ()
                            (begin-pins!)
                            (repin! path m state)
                            'pinned)
                          (lambda () (undo-pins! state (list path)))))))
          (resolved-maps resolved))
         (map
          (match-lambda
            ((name . _)
             (make-step 'pin-program name
                        (format #f "pin program ~a~a and its links under ~a"
                                name
                                (let ((p (current-program name)))
                                  (if (kind-flag? (bpf-program-kind p) 'dispatched)
                                      ", its dispatcher" ""))
                                dir)
                        (lambda ()
                          (begin-pins!)
                          (let* ((p (current-program name))
                                 (pins (program-pins p dir)))
                            (for-each (match-lambda
                                        ((path . what) (repin! path what state)))
                                      pins)
                            ;; Pins of an older version no longer used.
                            (for-each (match-lambda
                                        ((path . what)
                                         (when (and (pin-of-program? path name)
                                                    (string=? (dirname path) dir)
                                                    (not (assoc path pins)))
                                           (unpin-one! path what))))
                                      prior-pins)
                            'pinned))
                        (lambda ()
                          (undo-pins! state (map car (program-pins (current-program name) dir)))))))
          (resolved-programs resolved))
         (list
          (let ((file (manifest-path pname)))
            (make-step 'write-manifest pname
                       (format #f "write the manifest ~a" file)
                       (lambda ()
                         (write-manifest! resolved (map car (reverse (state-all state 'pin)))
                                          dir #t)
                         'written)
                       (lambda ()
                         (let ((old (assq-ref (cdr state) 'old-manifest)))
                           (if old
                               (call-with-output-file file (lambda (port) (display old port)))
                               (remove-manifest! pname))))))))))
  (let ((steps (append map-steps load-steps attach-steps remove-steps pin-steps)))
    (for-each set-step-index! steps (iota (length steps) 1))
    (values steps recreated)))

(define (pin-of-program? path name)
  (let ((base (basename path)))
    (or (string=? base (string-append "prog:" name))
        (string-prefix? (string-append "prog:" name ":") base)
        (string-prefix? (string-append "link:" name ":") base))))

(define (repin! path what state)
  ;; Pin WHAT at PATH, replacing what an earlier apply of this process
  ;; pinned there (this process holds it meanwhile, so nothing is freed
  ;; in between).  Always pinned again: an fd number alone cannot tell
  ;; a new version from the old one.
  (when (file-exists? path)
    (delete-file path))
  (ensure-dir! (dirname path))
  (pin-one! path what)
  (set-cdr! state (acons 'pinned path (cdr state)))
  (set-cdr! state (acons 'pin (cons path what) (cdr state)))
  (set! pins-made (+ pins-made 1))
  (when (eqv? pins-made (env-number "GUILE_EBPF_CRASH_AT_PIN"))
    (crash! (format #f "after pin ~a (~a)" pins-made path))))

(define (undo-pins! state paths)
  (for-each (lambda (path)
              (when (member path (state-all state 'pinned))
                (let ((what (assoc-ref (state-all state 'pin) path)))
                  (if (bpf-map? what)
                      (bpf-map-unpin! what path)
                      (when (file-exists? path) (delete-file path))))))
            paths))

(define (state-all state key)
  (filter-map (lambda (p) (and (eq? (car p) key) (cdr p))) (cdr state)))

;;; ------------------------------------------------------------------
;;; The plan.

(define* (bpf-policy-plan policy #:key pin?)
  "Return the steps that applying @var{policy} (a policy or its name)
would run, in order, touching nothing: a list of alists with
@code{index}, @code{action}, @code{name} and @code{detail} (a sentence).
Actions: @code{create-map}, @code{keep-map}, @code{recreate-map} (its
shape changed since the last apply: its data is not kept),
@code{load-program}, @code{keep-program}, @code{reload-program} (it uses
a recreated map), @code{attach-program}, @code{remove-program},
@code{release-map}, and with @var{pin?} @code{pin-map},
@code{pin-program} and @code{write-manifest}.  The order comes from the
dependencies: maps first (those listed, then those the programs use),
then programs loaded, then attached in the listed order.  Raises
@code{ebpf-validation-error} naming a program or map that is not
declared."
  (let* ((policy (policy-arg policy 'bpf-policy-plan))
         (prior (applied-state (bpf-policy-name policy)))
         (pin? (or pin? (and prior (applied-pin-dir prior) #t))))
    (call-with-values
        (lambda () (make-steps (resolve policy) prior pin? (list 'state)))
      (lambda (steps recreated) (map step->alist steps)))))

(define* (bpf-policy-print-plan steps #:optional (port (current-output-port)))
  "Print @var{steps} (from @code{bpf-policy-plan}, or the @code{steps} of
what @code{bpf-policy-apply!} returns) to @var{port}, one per line."
  (for-each (lambda (s)
              (format port "  ~2d. ~15a ~a~@[   [~a]~]~%"
                      (assq-ref s 'index) (assq-ref s 'action)
                      (assq-ref s 'detail)
                      (assq-ref s 'result)))
            steps))

;;; ------------------------------------------------------------------
;;; The digest.

(define (program-content p)
  ;; What the program runs, as text: the C it is built from, or the
  ;; digest of a given object.
  (let ((src (bpf-program-source p)))
    (cond
     ((and (string? src) (string-suffix? ".o" src))
      (if (file-exists? src)
          (string-append "object-sha256 " (file-sha256 src))
          (string-append "object " src)))
     ((and (string? src) (string-suffix? ".rs" src))
      (string-append "rust-source " src))
     (else
      (let ((c (bpf-program-c p #:kind (car (bpf-program-kinds p)))))
        (string-append "c-sha256 " (if c (bpf-sha256 c) "none")))))))

(define (policy-text resolved)
  (let ((policy (resolved-policy resolved)))
    (with-output-to-string
      (lambda ()
        (format #t "guile-ebpf policy 1~%name ~a~%description ~s~%"
                (bpf-policy-name policy) (or (bpf-policy-description policy) ""))
        (for-each
         (match-lambda
           ((name . m)
            (format #t "map ~a ~s key-type ~s value-type ~s~%" name (shape m)
                    (bpf-map-key-type m) (bpf-map-value-type m))))
         (resolved-maps resolved))
        (for-each
         (match-lambda
           ((name . p)
            (format #t "program ~a kinds ~s attach ~s license ~s constants ~s~%~a~%"
                    name (bpf-program-kinds p) (bpf-program-attach-spec p)
                    (bpf-program-license p) (bpf-program-constants p)
                    (program-content p))))
         (resolved-programs resolved))))))

(define (bpf-policy-digest policy)
  "Return the sha256 (64 hex digits) of what @var{policy} (a policy or
its name) deploys: its name and description, the shape and types of
each map, and for each program its kinds, attach target, license,
constants and the sha256 of the C it is built from (of the object file
for a @file{.o} source).  It depends only on the declarations, not on
the kernel, so it is the same in every process; applying a pinned
policy stores it in the manifest.  Raises the errors of
@code{bpf-policy-plan} and @code{ebpf-lower-error}."
  (bpf-sha256 (policy-text (resolve (policy-arg policy 'bpf-policy-digest)))))

;;; ------------------------------------------------------------------
;;; JSON, by hand: the manifest.

(define (json-string s port)
  (write-char #\" port)
  (string-for-each
   (lambda (c)
     (case c
       ((#\") (display "\\\"" port))
       ((#\\) (display "\\\\" port))
       ((#\newline) (display "\\n" port))
       ((#\tab) (display "\\t" port))
       ((#\return) (display "\\r" port))
       (else (if (< (char->integer c) 32)
                 (format port "\\u~4,'0x" (char->integer c))
                 (write-char c port)))))
   s)
  (write-char #\" port))

;; Scheme -> JSON: alists with symbol keys are objects, vectors arrays,
;; strings, exact integers, #t/#f, 'null.
(define* (write-json x port #:optional (indent 0))
  (define (nl i) (newline port) (display (make-string i #\space) port))
  (cond
   ((eq? x #t) (display "true" port))
   ((eq? x #f) (display "false" port))
   ((eq? x 'null) (display "null" port))
   ((and (integer? x) (exact? x)) (display x port))
   ((string? x) (json-string x port))
   ((symbol? x) (json-string (symbol->string x) port))
   ((vector? x)
    (if (zero? (vector-length x))
        (display "[]" port)
        (begin
          (display "[" port)
          (let loop ((i 0))
            (when (< i (vector-length x))
              (unless (zero? i) (display "," port))
              (nl (+ indent 2))
              (write-json (vector-ref x i) port (+ indent 2))
              (loop (+ i 1))))
          (nl indent)
          (display "]" port))))
   ((list? x)
    (if (null? x)
        (display "{}" port)
        (begin
          (display "{" port)
          (let loop ((l x) (first? #t))
            (match l
              (() #t)
              (((k . v) . rest)
               (unless first? (display "," port))
               (nl (+ indent 2))
               (json-string (if (symbol? k) (symbol->string k) k) port)
               (display ": " port)
               (write-json v port (+ indent 2))
               (loop rest #f))))
          (nl indent)
          (display "}" port))))
   (else (json-string (format #f "~a" x) port))))

;; JSON -> Scheme: objects as alists with symbol keys, arrays as lists.
(define (read-json port)
  (define (peek) (peek-char port))
  (define (next) (read-char port))
  (define (skip-ws)
    (let ((c (peek)))
      (when (and (char? c) (char-whitespace? c)) (next) (skip-ws))))
  (define (fail what)
    (raise-ebpf-error 'ebpf-error 'bpf-policy-manifest
                      (format #f "malformed manifest: ~a" what)
                      #:fix "remove the policy's pins and manifest by hand (guile-ebpf remove POLICY does it)"))
  (define (expect s)
    (string-for-each (lambda (c) (unless (eqv? (next) c) (fail (format #f "expected ~a" s)))) s))
  (define (read-string*)
    (next)
    (let loop ((acc '()))
      (let ((c (next)))
        (cond
         ((eof-object? c) (fail "unterminated string"))
         ((char=? c #\") (list->string (reverse acc)))
         ((char=? c #\\)
          (let ((e (next)))
            (case e
              ((#\n) (loop (cons #\newline acc)))
              ((#\t) (loop (cons #\tab acc)))
              ((#\r) (loop (cons #\return acc)))
              ((#\b) (loop (cons #\backspace acc)))
              ((#\f) (loop (cons #\page acc)))
              ((#\u) (let ((hex (string (next) (next) (next) (next))))
                       (loop (cons (integer->char (or (string->number hex 16)
                                                      (fail "bad \\u escape")))
                                   acc))))
              (else (loop (cons e acc))))))
         (else (loop (cons c acc)))))))
  (define (read-number)
    (let loop ((acc '()))
      (let ((c (peek)))
        (if (and (char? c) (or (char-numeric? c) (memv c '(#\- #\+ #\. #\e #\E))))
            (begin (next) (loop (cons c acc)))
            (or (string->number (list->string (reverse acc)))
                (fail "bad number"))))))
  (define (value)
    (skip-ws)
    (let ((c (peek)))
      (cond
       ((eof-object? c) (fail "unexpected end"))
       ((char=? c #\{)
        (next) (skip-ws)
        (if (eqv? (peek) #\})
            (begin (next) '())
            (let loop ((acc '()))
              (skip-ws)
              (unless (eqv? (peek) #\") (fail "expected a key"))
              (let ((k (string->symbol (read-string*))))
                (skip-ws) (expect ":")
                (let* ((v (value)) (acc (acons k v acc)))
                  (skip-ws)
                  (case (next)
                    ((#\,) (loop acc))
                    ((#\}) (reverse acc))
                    (else (fail "expected , or }"))))))))
       ((char=? c #\[)
        (next) (skip-ws)
        (if (eqv? (peek) #\])
            (begin (next) '())
            (let loop ((acc '()))
              (let ((v (value)))
                (skip-ws)
                (case (next)
                  ((#\,) (loop (cons v acc)))
                  ((#\]) (reverse (cons v acc)))
                  (else (fail "expected , or ]")))))))
       ((char=? c #\") (read-string*))
       ((char=? c #\t) (expect "true") #t)
       ((char=? c #\f) (expect "false") #f)
       ((char=? c #\n) (expect "null") 'null)
       (else (read-number)))))
  (value))

(define (write-manifest! resolved pins dir complete?)
  ;; PINS: the paths pinned (or, while incomplete, to be pinned).  The
  ;; file is replaced atomically: a reader, or a crash, sees the old
  ;; manifest or the new one.
  (let* ((policy (resolved-policy resolved))
         (name (bpf-policy-name policy))
         (file (manifest-path name))
         (tmp (string-append file ".tmp"))
         (pins-of (lambda (pred) (list->vector (filter pred pins)))))
    (ensure-dir! (manifest-dir name))
    (call-with-output-file tmp
      (lambda (port)
        (write-json
         `((format . "guile-ebpf policy manifest")
           (version . 1)
           (policy . ,name)
           (complete . ,complete?)
           (description . ,(or (bpf-policy-description policy) 'null))
           (digest . ,(bpf-sha256 (policy-text resolved)))
           (applied-by . ,(this-process))
           (applied-at . ,(current-time))
           (pin-dir . ,dir)
           (maps
            . ,(list->vector
                (map (match-lambda
                       ((mname . m)
                        `((name . ,mname) (kind . ,(bpf-map-kind m))
                          (key-size . ,(bpf-map-key-size m))
                          (value-size . ,(bpf-map-value-size m))
                          (max-entries . ,(bpf-map-max-entries m))
                          (pin . ,(pin-path dir "map" mname)))))
                     (resolved-maps resolved))))
           (programs
            . ,(list->vector
                (map (match-lambda
                       ((pname . _)
                        (let ((p (current-program pname)))
                          `((name . ,pname) (kind . ,(bpf-program-kind p))
                            (target . ,(target-text p))
                            (digest . ,(bpf-program-digest p))
                            (pin . ,(pin-path dir "prog" pname))
                            (dispatcher
                             . ,(if (bpf-program-dispatcher p)
                                    (pin-path dir "prog" pname "dispatch")
                                    'null))
                            (links . ,(pins-of
                                       (lambda (path)
                                         (string-prefix? (string-append dir "/link:" pname ":")
                                                         path))))
                            (pins . ,(pins-of (lambda (path) (pin-of-program? path pname))))))))
                     (resolved-programs resolved)))))
         port)
        (newline port)))
    (rename-file tmp file)))

(define (regular-file? path)
  ;; Without following a symbolic link.
  (let ((st (false-if-exception (lstat path))))
    (and st (eq? (stat:type st) 'regular))))

(define (remove-manifest! name)
  ;; Only the regular files this module writes there, and the directory
  ;; if that leaves it empty; a symbolic link in place of either is left.
  (let ((dir (manifest-dir name)))
    (when (let ((st (false-if-exception (lstat dir))))
            (and st (eq? (stat:type st) 'directory)))
      (for-each (lambda (f)
                  (let ((path (string-append dir "/" f)))
                    (when (regular-file? path) (delete-file path))))
                '("manifest.json" "manifest.json.tmp"))
      (false-if-exception (rmdir dir)))))

(define (tc-record-path name)
  (string-append (manifest-dir name) "/tc.json"))

;; tc filters are attached through netlink: unlike links they outlive a
;; process that is killed (or that exits without removing its policy).
;; Each one a policy attaches is recorded, as it lands, in the run
;; directory -- the process, and for each filter where it is and the
;; kernel id of its program -- so that status shows what such a process
;; left and remove takes it away.
(define (write-tc-record! name programs)
  (let* ((filters
          (append-map
           (match-lambda
             ((pname . _)
              (let ((p (current-program pname)))
                (if (and p (eq? (bpf-program-kind p) 'tc))
                    (append-map
                     (lambda (l)
                       (let ((id (assq-ref (bpf-object-info (bpf-link-object l)) 'id)))
                         (map (match-lambda
                                (#(ifindex direction handle priority)
                                 `((program . ,pname) (target . ,(bpf-link-target l))
                                   (ifindex . ,ifindex) (direction . ,direction)
                                   (handle . ,handle) (priority . ,priority)
                                   (prog-id . ,id))))
                              (%bpf-link-tc-filters l))))
                     (bpf-program-links p))
                    '()))))
           programs))
         (file (tc-record-path name))
         (tmp (string-append file ".tmp")))
    (if (null? filters)
        (when (regular-file? file)
          (delete-file file)
          (false-if-exception (rmdir (manifest-dir name))))
        (begin
          (ensure-dir! (manifest-dir name))
          (call-with-output-file tmp
            (lambda (port)
              (write-json `((format . "guile-ebpf tc filters") (version . 1)
                            (policy . ,name) (applied-by . ,(this-process))
                            (filters . ,(list->vector filters)))
                          port)
              (newline port)))
          (rename-file tmp file)))))

(define (read-tc-record name)
  (let ((file (tc-record-path name)))
    (and (regular-file? file)
         (false-if-exception (call-with-input-file file read-json)))))

(define (record-filter-state f remove?)
  ;; What has become of filter F: removed, present, gone or other.
  (catch #t
    (lambda ()
      (let ((r (%bpf-tc-filter-remove! (assq-ref f 'ifindex)
                                       (string->symbol (assq-ref f 'direction))
                                       (assq-ref f 'handle) (assq-ref f 'priority)
                                       (assq-ref f 'prog-id) remove?)))
        r))
    (lambda _ 'gone)))

(define (tc-filter-present? f)
  (eq? (record-filter-state f #f) 'present))

(define (tc-left-behind name)
  ;; The filters a process that no longer runs left for NAME and that
  ;; still run its programs, or #f.
  (let* ((rec (read-tc-record name))
         (pid (and rec (assq-ref rec 'applied-by))))
    (and rec (integer? pid) (not (= pid (this-process))) (not (process-alive? pid))
         (let ((present (filter (lambda (f) (tc-filter-present? f))
                                (or (assq-ref rec 'filters) '()))))
           (and (pair? present) (cons pid present))))))

(define (bpf-policy-manifest policy)
  "Return the manifest of pinned @var{policy} (a policy or its name) as
an alist (JSON objects as alists with symbol keys, arrays as lists), or
@code{#f} if it is not pinned.  Keys: @code{policy}, @code{description},
@code{digest}, @code{applied-by} (a process id), @code{applied-at}
(seconds since the epoch), @code{pin-dir}, @code{maps} (each with
@code{name}, @code{kind}, @code{key-size}, @code{value-size},
@code{max-entries}, @code{pin}) and @code{programs} (each with
@code{name}, @code{kind}, @code{target}, @code{digest} of the loaded
object, @code{pin}, @code{dispatcher}, @code{links} and every
@code{pins} path).  Raises @code{ebpf-error} for a damaged manifest."
  (let ((file (manifest-path (policy-name-of policy))))
    (and (regular-file? file)
         (call-with-input-file file read-json))))

(define (bpf-pinned-policy-names)
  "Return the names of the policies pinned on this system (those with a
manifest or a pin directory), sorted."
  (define (dirs root)
    (or (scandir root (lambda (f)
                        (and (not (member f '("." "..")))
                             (false-if-exception
                              (eq? 'directory
                                   (stat:type (stat (string-append root "/" f))))))))
        '()))
  (sort (filter policy-name?
                (delete-duplicates
                 (append (filter (lambda (n)
                                   (file-exists? (manifest-path n)))
                                 (dirs (bpf-policy-run-dir)))
                         (filter (lambda (n) (and (policy-name? n) (tc-left-behind n)))
                                 (dirs (bpf-policy-run-dir)))
                         (dirs (bpf-policy-pin-root)))))
        string<?))

;;; ------------------------------------------------------------------
;;; Apply.

(define (simulate steps fail-at)
  ;; The simulated runtime: what each step would do, and undo.
  (let loop ((steps steps) (done '()) (log '()))
    (match steps
      (() (values 'applied #f (reverse log)))
      ((s . rest)
       (if (eqv? (step-index s) fail-at)
           (values 'failed s
                   (append (reverse log)
                           (list (format #f "step ~a (~a ~a) would fail: injected by bpf-policy-fail-at-step"
                                         (step-index s) (step-action s) (step-name s)))
                           (map (lambda (d)
                                  (format #f "would undo step ~a: ~a" (step-index d)
                                          (step-detail d)))
                                done)))
           (loop rest (cons s done)
                 (cons (format #f "step ~a would ~a" (step-index s) (step-detail s))
                       log)))))))

(define (injected-failure s)
  (raise-ebpf-error 'ebpf-error 'bpf-policy-apply!
                    (format #f "injected failure at step ~a (bpf-policy-fail-at-step)"
                            (step-index s))
                    #:fix "this is the test hook: call (bpf-policy-fail-at-step #f) and unset GUILE_EBPF_FAIL_AT_STEP"))

(define (run-steps policy steps fail-at)
  ;; The kernel runtime: run STEPS in order; on a failure undo the ones
  ;; done, newest first, and raise an error naming the failed step.
  (let loop ((todo steps) (done '()) (results '()))
    (match todo
      (() (reverse results))
      ((s . rest)
       (let ((r (catch #t
                  (lambda ()
                    (when (eqv? (step-index s) (env-number "GUILE_EBPF_CRASH_AT_STEP"))
                      (crash! (format #f "before step ~a" (step-index s))))
                    (when (eqv? (step-index s) fail-at)
                      (injected-failure s))
                    (cons 'ok ((step-do s))))
                  (lambda (key . args) (cons* 'error key args)))))
         (match r
           (('ok . result)
            (loop rest (cons s done) (cons (cons s result) results)))
           (('error key . args)
            (let ((undo-errors
                   (filter-map
                    (lambda (d)
                      (catch #t
                        (lambda () ((step-undo d)) #f)
                        (lambda (k . a)
                          (format #f "undo of step ~a failed: ~a" (step-index d)
                                  (call-with-values (lambda () (split-fix (error-text k a)))
                                    (lambda (text fix) text))))))
                    done)))
              (call-with-values (lambda () (split-fix (error-text key args)))
                (lambda (text fix)
                  (raise-ebpf-error
                   (if (ebpf-error? key) key 'ebpf-error)
                   'bpf-policy-apply!
                   (format #f "policy ~a: step ~a of ~a failed (~a ~a: ~a): ~a; ~a~a"
                           (bpf-policy-name policy) (step-index s) (length steps)
                           (step-action s) (step-name s) (step-detail s) text
                           (if (null? done)
                               "nothing had been done before it"
                               (format #f "steps 1-~a were undone" (length done)))
                           (if (null? undo-errors) ""
                               (string-append "; " (string-join undo-errors "; "))))
                   #:fix (or fix "see the error above")
                   #:details (append `((policy . ,(bpf-policy-name policy))
                                       (step . ,(step-index s))
                                       (action . ,(step-action s))
                                       (name . ,(step-name s))
                                       (cause-key . ,key)
                                       (undo-errors . ,undo-errors))
                                     (if (ebpf-error? key) (ebpf-error-details args) '())))))))))))))

(define* (bpf-policy-apply! policy #:key dry-run? pin?)
  "Apply @var{policy} (a policy or its name): create its maps, load its
programs, attach them in the listed order, and with @var{pin?} pin them
all and write the manifest.  Every name is resolved and every component
checked first -- attach targets exist, bpf-fn bodies lower, objects
build -- so that most errors are raised before the kernel is touched.

All or nothing: if step @var{k} fails, steps @var{k}-1 ... 1 are undone
and the error raised names the policy, the step and its cause.  It keeps
the cause's key (@code{ebpf-attach-error}, @code{ebpf-verifier-error}
...; a cause outside the @code{ebpf-error} family becomes
@code{ebpf-error}), its message follows the step's description and its
\"Fix:\" is the cause's; its details add @code{policy}, @code{step},
@code{action}, @code{name} and @code{cause-key}.  Two steps are not
undone: a program reloaded for a recreated map stays on its new version,
and a pin that replaced an older one does not bring it back.

Re-applying a policy this process applied changes only what changed
(see @code{bpf-policy-plan}).  A policy that was pinned stays pinned.

With @var{dry-run?} nothing is done: the steps run on a simulated
runtime that makes no system call into BPF, and the result says what
each would do (and undo, when @code{bpf-policy-fail-at-step} makes one
fail).

Returns an alist: @code{policy}, @code{digest}, @code{pin-dir} (or
@code{#f}), @code{steps} (as @code{bpf-policy-plan}, each with its
@code{result}), @code{maps} (@code{(NAME . created|kept|recreated|released)}),
@code{programs} (@code{(NAME . loaded|attached|kept|unchanged|swapped|reloaded|removed)})
and @code{recreated} (@code{(NAME (old . SHAPE) (new . SHAPE))} for each
map recreated because its shape changed); for a dry run @code{dry-run?},
@code{outcome} (@code{applied} or @code{failed}), @code{failed-step} and
@code{log} (one line per step) instead of the results."
  (let* ((policy (policy-arg policy 'bpf-policy-apply!))
         (name (bpf-policy-name policy))
         (prior (applied-state name))
         (pin? (or pin? (and prior (applied-pin-dir prior) #t)))
         (resolved (resolve policy))
         (failing (fail-step)))
    ;; Checks before the kernel is touched.
    (when (and pin? (not dry-run?))
      (check-pin-dir! name))
    (when (and pin? (not prior) (bpf-policy-manifest name))
      (let ((m (bpf-policy-manifest name)))
        (raise-ebpf-error
         'ebpf-error 'bpf-policy-apply!
         (if (not (manifest-complete? m))
             (format #f "policy ~a was left incomplete under ~a by an interrupted apply (process ~a)"
                     name (bpf-policy-pin-dir name) (assq-ref m 'applied-by))
             (format #f "policy ~a is already pinned under ~a (applied by process ~a)"
                     name (bpf-policy-pin-dir name) (assq-ref m 'applied-by)))
         #:fix (format #f "remove it first: guile-ebpf remove ~a, or (bpf-policy-remove! \"~a\")"
                       name name))))
    ;; One clang run for every bpf-fn program to load, not one each:
    ;; the checks below then find each program's object built.
    (build-together! (map cdr (resolved-programs resolved)))
    (for-each
     (match-lambda
       ((pname . p)
        (let ((old (and prior (assoc-ref (applied-programs prior) pname))))
          (when (and (attachable? p) (not (bpf-program-attached? p)))
            (check-target! policy p))
          (when pin? (check-pinnable! policy p))
          (unless (bpf-program-loaded? p)
            (build-program! policy p)))))
     (resolved-programs resolved))
    (let ((state (list 'state)))
      (call-with-values (lambda () (make-steps resolved prior pin? state))
        (lambda (steps recreated)
          (if dry-run?
              (call-with-values (lambda () (simulate steps failing))
                (lambda (outcome failed log)
                  `((policy . ,name)
                    (dry-run? . #t)
                    (digest . ,(bpf-sha256 (policy-text resolved)))
                    (pin-dir . ,(and pin? (bpf-policy-pin-dir name)))
                    (steps . ,(map step->alist steps))
                    (outcome . ,outcome)
                    (failed-step . ,(and failed (step-index failed)))
                    (log . ,log))))
              (let* ((dir (bpf-policy-pin-dir name))
                     (dir-existed? (file-exists? dir))
                     (file (manifest-path name))
                     (old-manifest (and pin? (regular-file? file)
                                        (call-with-input-file file read-string))))
                (when pin? (ensure-bpffs!))
                (set-cdr! state (acons 'old-manifest old-manifest (cdr state)))
                (let ((results
                       (catch #t
                         (lambda () (run-steps policy steps failing))
                         (lambda (key . args)
                           ;; The steps were undone; the manifest is as
                           ;; it was, and a pin directory this apply
                           ;; made goes too.
                           (when pin?
                             (false-if-exception
                              (if old-manifest
                                  (call-with-output-file file
                                    (lambda (port) (display old-manifest port)))
                                  (remove-manifest! name))))
                           (when (and pin? (not dir-existed?))
                             (false-if-exception (rmdir dir)))
                           (apply throw key args)))))
                  (finish-apply! policy resolved prior pin? state results)))))))))

(define (finish-apply! policy resolved prior pin? state results)
  (let* ((name (bpf-policy-name policy))
         (s (cdr state))
         (objects (state-all state 'program-object))
         (programs (map (match-lambda
                          ((pname . p)
                           (cons pname (or (assoc-ref objects pname)
                                           (current-program pname)))))
                        (resolved-programs resolved)))
         (created (delete-duplicates
                   (append (state-all state 'created)
                           (if prior
                               (filter (lambda (n) (assoc n (resolved-maps resolved)))
                                       (applied-created prior))
                               '()))))
         (dir (and pin? (bpf-policy-pin-dir name)))
         (pins (if pin? (reverse (state-all state 'pin)) '()))
         (digest (bpf-sha256 (policy-text resolved))))
    ;; Map objects replaced by a same-shape re-declaration: their fds are
    ;; duplicates of the kept map's; the recreated ones' old maps go too.
    (when prior
      (for-each (match-lambda
                  ((mname . old)
                   (let ((new (assoc-ref (resolved-maps resolved) mname)))
                     (when (and new (not (eq? new old)))
                       (bpf-map-close! old)))))
                (applied-maps prior)))
    (unless pin?
      (write-tc-record! name (resolved-programs resolved)))
    (hash-set! applied-table name
               (make-applied policy (resolved-maps resolved) created programs
                             (map (match-lambda
                                    ((pname . p)
                                     (cons pname (and (bpf-program-loaded? p)
                                                      (bpf-program-digest p)))))
                                  programs)
                             dir pins digest (current-time)))
    `((policy . ,name)
      (digest . ,digest)
      (pin-dir . ,dir)
      (steps . ,(map (match-lambda
                       ((step . result)
                        (append (step->alist step) `((result . ,result)))))
                     results))
      (maps . ,(map (match-lambda
                      ((mname . _) (cons mname (or (assoc-ref (state-all state 'map) mname)
                                                   'kept))))
                    (resolved-maps resolved)))
      (programs . ,(append
                    (map (match-lambda
                           ((pname . _)
                            (cons pname
                                  (let ((rs (filter-map (match-lambda
                                                          ((n . r) (and (equal? n pname) r)))
                                                        (state-all state 'program))))
                                    (cond ((memq 'attached rs) 'attached)
                                          ((pair? rs) (car (last-pair rs)))
                                          (else 'kept))))))
                         (resolved-programs resolved))
                    (filter-map (match-lambda
                                  ((n . r) (and (eq? r 'removed) (cons n r))))
                                (state-all state 'program))))
      (recreated . ,(reverse (state-all state 'recreated))))))

;;; ------------------------------------------------------------------
;;; Status.

(define (program-status name p pins)
  (let* ((loaded? (bpf-program-loaded? p))
         (stats (and loaded? (bpf-program-stats p))))
    `((name . ,name)
      (kind . ,(bpf-program-kind p))
      (target . ,(target-text p))
      (loaded . ,loaded?)
      (attached . ,(bpf-program-attached? p))
      (links . ,(length (bpf-program-links p)))
      (run-count . ,(and stats (assq-ref stats 'run-count)))
      (run-time-ns . ,(and stats (assq-ref stats 'run-time-ns)))
      (digest . ,(and loaded? (bpf-program-digest p)))
      (pin . ,(find (lambda (path) (string=? (basename path) (string-append "prog:" name)))
                    (map car pins))))))

(define (map-status name m pin)
  `((name . ,name)
    (kind . ,(bpf-map-kind m))
    (key-size . ,(bpf-map-key-size m))
    (value-size . ,(bpf-map-value-size m))
    (max-entries . ,(bpf-map-max-entries m))
    (entries . ,(and (bpf-map-fd m)
                     (not (memq (bpf-map-kind m) '(ringbuf perf-event-array)))
                     (false-if-exception (bpf-map-count m))))
    (pin . ,pin)))

(define (status-applied st)
  (let* ((policy (applied-policy st))
         (name (bpf-policy-name policy))
         (dir (applied-pin-dir st)))
    `((policy . ,name)
      (state . applied)
      (description . ,(bpf-policy-description policy))
      (digest . ,(applied-digest st))
      (pin-dir . ,dir)
      (applied-by . ,(this-process))
      (applied-at . ,(applied-time st))
      (maps . ,(map (match-lambda
                      ((mname . m)
                       (map-status mname m (and dir (pin-path dir "map" mname)))))
                    (applied-maps st)))
      (programs . ,(map (match-lambda
                          ((pname . p)
                           (program-status pname (or (current-program pname) p)
                                           (applied-pins st))))
                        (applied-programs st))))))

(define (this-process)
  ;; This process's id, read without getpid(2): programs that count a
  ;; process's getpid calls (a common test) then count only the caller's.
  (or (false-if-exception (string->number (readlink "/proc/self")))
      (getpid)))

(define (process-alive? pid)
  (and (integer? pid)
       (file-exists? (format #f "/proc/~a" pid))))

(define (pin-in-dir dir path)
  ;; PATH if it names an entry of DIR itself, else #f: a manifest is
  ;; never trusted for a path elsewhere.
  (and (string? path)
       (string-prefix? (string-append dir "/") path)
       (let ((base (substring path (+ 1 (string-length dir)))))
         (and (not (string-null? base))
              (not (string-index base #\/))
              (not (member base '("." "..")))
              path))))

(define (confine-manifest name m)
  ;; M with every pin path outside NAME's pin directory replaced by #f
  ;; (or dropped from a list), and its pin-dir the computed one.
  (let* ((dir (bpf-policy-pin-dir name))
         (one (lambda (p) (and (string? p) (pin-in-dir dir p))))
         (fix-entry
          (lambda (e)
            (map (match-lambda
                   (((and k (or 'pin 'dispatcher)) . v)
                    (cons k (if (string? v) (or (one v) #f) v)))
                   (((and k (or 'links 'pins)) . v)
                    (cons k (if (list? v) (filter-map one v) '())))
                   (x x))
                 e))))
    (map (match-lambda
           (('pin-dir . _) (cons 'pin-dir dir))
           (((and k (or 'maps 'programs)) . v)
            (cons k (if (list? v) (map fix-entry (filter list? v)) '())))
           (x x))
         m)))

(define (manifest-complete? m)
  ;; Manifests written before the mark existed are complete.
  (match (assq 'complete m)
    (#f #t)
    ((_ . v) (eq? v #t))))

(define (status-pinned name m)
  (let ((dir (assq-ref m 'pin-dir)))
    `((policy . ,name)
      (state . ,(if (manifest-complete? m) 'pinned 'incomplete))
      (description . ,(let ((d (assq-ref m 'description))) (if (eq? d 'null) #f d)))
      (digest . ,(assq-ref m 'digest))
      (pin-dir . ,dir)
      (applied-by . ,(assq-ref m 'applied-by))
      (applied-by-alive . ,(process-alive? (assq-ref m 'applied-by)))
      (applied-at . ,(assq-ref m 'applied-at))
      (maps
       . ,(map (lambda (mm)
                 (let* ((pin (assq-ref mm 'pin))
                        (info (false-if-exception (%bpf-pinned-info pin)))
                        (m (and info (false-if-exception (bpf-map-open-pinned pin)))))
                   (let ((entries (and m
                                       (not (member (assq-ref mm 'kind)
                                                    '("ringbuf" "perf-event-array")))
                                       (false-if-exception (bpf-map-count m)))))
                     (when m (bpf-map-close! m))
                     `((name . ,(assq-ref mm 'name))
                       (kind . ,(string->symbol (assq-ref mm 'kind)))
                       (key-size . ,(assq-ref mm 'key-size))
                       (value-size . ,(assq-ref mm 'value-size))
                       (max-entries . ,(assq-ref mm 'max-entries))
                       (entries . ,entries)
                       (pin . ,(and info pin))
                       (id . ,(and info (assq-ref info 'id)))))))
               (assq-ref m 'maps)))
      (programs
       . ,(map (lambda (pm)
                 (let* ((pin (assq-ref pm 'pin))
                        (info (false-if-exception (%bpf-pinned-info pin)))
                        (disp (assq-ref pm 'dispatcher))
                        (entry (or (and (string? disp)
                                        (false-if-exception (%bpf-pinned-info disp)))
                                   info))
                        (links (filter (lambda (l) (false-if-exception (%bpf-pinned-info l)))
                                       (assq-ref pm 'links))))
                   `((name . ,(assq-ref pm 'name))
                     (kind . ,(string->symbol (assq-ref pm 'kind)))
                     (target . ,(assq-ref pm 'target))
                     (loaded . ,(and info #t))
                     (attached . ,(and (pair? links)
                                       (= (length links) (length (assq-ref pm 'links)))))
                     (links . ,(length links))
                     (run-count . ,(and entry (assq-ref entry 'run-count)))
                     (run-time-ns . ,(and entry (assq-ref entry 'run-time-ns)))
                     (digest . ,(assq-ref pm 'digest))
                     (pin . ,(and info pin))
                     (id . ,(and info (assq-ref info 'id))))))
               (assq-ref m 'programs))))))

(define (bpf-policy-status policy)
  "Return the state of @var{policy} (a policy or its name) as an alist:
@code{policy}, @code{state} (@code{applied} in this process,
@code{pinned} by another process, @code{incomplete} when an apply was
killed while pinning -- @code{bpf-policy-remove!} cleans it --,
@code{left-behind} for the tc filters (@code{tc-filters}) of a process
that ended without removing the policy, or @code{declared}),
@code{description},
@code{digest}, @code{pin-dir}, @code{applied-by} (process id),
@code{applied-at}, @code{maps} (each: @code{name}, @code{kind}, sizes,
@code{entries}, @code{pin}) and @code{programs} (each: @code{name},
@code{kind}, @code{target}, @code{loaded}, @code{attached}, @code{links},
@code{run-count}, @code{run-time-ns}, @code{digest} of the loaded object,
@code{pin}).  A pinned policy is read from its manifest and pins, so
this works from any process; there @code{applied-by-alive} says whether
the applying process still runs.  Run counts are the kernel's, counted
while some process has statistics enabled.  Raises
@code{ebpf-validation-error} for a name that is neither declared nor
pinned."
  (let* ((name (policy-name-of policy))
         (st (applied-state name)))
    (cond
     (st (status-applied st))
     ((bpf-policy-manifest name)
      => (lambda (m) (status-pinned name (confine-manifest name m))))
     ((tc-left-behind name)
      => (match-lambda
           ((pid . filters)
            `((policy . ,name) (state . left-behind)
              (applied-by . ,pid) (applied-by-alive . #f)
              (tc-filters . ,filters)
              (maps) (programs)))))
     ((false-if-exception (lstat (bpf-policy-pin-dir name)))
      ;; Pins without a manifest: what an apply of an older version
      ;; killed midway leaves.
      `((policy . ,name) (state . incomplete)
        (pin-dir . ,(bpf-policy-pin-dir name))
        (pins . ,(or (scandir (bpf-policy-pin-dir name)
                              (lambda (f) (not (member f '("." "..")))))
                     '()))
        (maps) (programs)))
     ((bpf-policy-lookup name)
      => (lambda (p)
           `((policy . ,name) (state . declared)
             (description . ,(bpf-policy-description p))
             (maps . ,(map (lambda (n) `((name . ,n))) (bpf-policy-maps p)))
             (programs . ,(map (lambda (n) `((name . ,n))) (bpf-policy-programs p))))))
     (else
      (raise-ebpf-error 'ebpf-validation-error 'bpf-policy-status
                        (format #f "no policy named ~s is declared, applied or pinned" name)
                        #:fix (format #f "check the name (pinned policies: ~a)"
                                      (names-or-none (bpf-pinned-policy-names))))))))

(define (bpf-policy-map policy map-name)
  "Return the @code{<bpf-map>} named @var{map-name} of @var{policy} (a
policy or its name): the declared map when this process applied it,
else the pinned map opened from its pin (close it with
@code{bpf-map-close!}).  Raises @code{ebpf-map-error} when the policy
has no such map."
  (let* ((name (policy-name-of policy))
         (mname (normalize-name map-name))
         (st (applied-state name))
         (m (and=> (bpf-policy-manifest name)
                   (lambda (m) (confine-manifest name m))))
         (fail (lambda ()
                 (raise-ebpf-error 'ebpf-map-error 'bpf-policy-map
                                   (format #f "policy ~a has no applied or pinned map ~s" name mname)
                                   #:fix "apply the policy first; bpf-policy-status lists its maps"))))
    (cond
     ((and st (assoc-ref (applied-maps st) mname)) => identity)
     ((and m (find (lambda (mm) (equal? (assq-ref mm 'name) mname)) (assq-ref m 'maps)))
      => (lambda (mm) (if (assq-ref mm 'pin)
                          (bpf-map-open-pinned (assq-ref mm 'pin))
                          (fail))))
     (else (fail)))))

;;; ------------------------------------------------------------------
;;; Remove.

(define (unlink-pin-dir! name)
  ;; Unlink every pin of NAME's directory under the pin root, then the
  ;; directory.  The kernel frees each object once nothing else (a
  ;; process's fd, a link, another pin) holds it.  The primitive stays
  ;; on bpffs and under the root whatever the directory holds.
  (or (%bpf-pin-dir-remove! (bpf-policy-pin-root) name) '()))

(define (remove-applied! st)
  (let* ((policy (applied-policy st))
         (name (bpf-policy-name policy))
         (dir (applied-pin-dir st)))
    ;; Pins first: then detaching below really frees everything.
    (for-each (match-lambda ((path . what) (unpin-one! path what)))
              (reverse (applied-pins st)))
    (when dir (unlink-pin-dir! name))
    (when dir (remove-manifest! name))
    ;; What another applied policy also names stays for it.
    (hash-remove! applied-table name)
    (let ((others (hash-map->list (lambda (k v) v) applied-table)))
      (for-each (match-lambda
                  ((pname . p)
                   (unless (any (lambda (o) (assoc pname (applied-programs o))) others)
                     (bpf-unload! (or (current-program pname) p)))))
                (reverse (applied-programs st)))
      (for-each (lambda (mname)
                  (let ((m (assoc-ref (applied-maps st) mname))
                        (heir (find (lambda (o) (assoc mname (applied-maps o))) others)))
                    (cond
                     ;; The other policy releases it when it goes.
                     (heir (set-applied-created!
                            heir (cons mname (delete mname (applied-created heir)))))
                     (m (%bpf-map-release! m)))))
                (applied-created st)))
    ;; Its tc filters went with the detaching above.
    (write-tc-record! name '())
    `((policy . ,name)
      (removed . applied)
      (programs . ,(map car (applied-programs st)))
      (maps-released . ,(applied-created st))
      (pin-dir . ,dir))))

(define (remove-pinned! name m)
  ;; The pin directory is computed from the name, never read from M.
  (let* ((dir (bpf-policy-pin-dir name))
         (files (unlink-pin-dir! name))
         (pid (and m (assq-ref m 'applied-by)))
         (pid (and (integer? pid) pid)))
    (remove-manifest! name)
    `((policy . ,name)
      (removed . pinned)
      (pins . ,files)
      (pin-dir . ,dir)
      (still-held-by . ,(and pid (not (= pid (this-process))) (process-alive? pid) pid)))))

(define (remove-left-behind! name rec)
  ;; The tc filters a process that no longer runs left: each removed if
  ;; it still runs the recorded program.
  (let ((pid (assq-ref rec 'applied-by)))
    (when (and (integer? pid) (not (= pid (this-process))) (process-alive? pid))
      (raise-ebpf-error 'ebpf-error 'bpf-policy-remove!
                        (format #f "policy ~a is applied by process ~a, which still runs" name pid)
                        #:fix (format #f "stop process ~a: it removes its tc filters as it ends" pid)))
    (let ((results (map (lambda (f) (cons f (record-filter-state f #t)))
                        (or (assq-ref rec 'filters) '()))))
      (let ((file (tc-record-path name)))
        (when (regular-file? file) (delete-file file)))
      (remove-manifest! name)
      `((policy . ,name)
        (removed . left-behind)
        (tc-filters . ,(filter-map (match-lambda
                                     ((f . 'removed) (assq-ref f 'target))
                                     (_ #f))
                                   results))))))

(define (bpf-policy-remove! policy)
  "Undo @var{policy} (a policy or its name).  In the process that
applied it: remove its pins and manifest, detach and unload its programs,
and release the maps the apply created (their declarations stay: a later
use creates them anew, empty); maps that existed before the apply, and
programs and maps that another applied policy names, are kept.  For a policy pinned by another process: unlink its pins and its
manifest -- the kernel frees each program, link and map once nothing
else holds it; if the applying process still runs (@code{still-held-by}
in the result), what it holds stays until it exits.  Only the
policy's own pin directory under @code{(bpf-policy-pin-root)} is
emptied -- never through a symbolic link, never anything off bpffs, and
never a path a manifest names elsewhere.  Returns an alist
saying what was removed.  Raises @code{ebpf-error} for a policy that is
neither applied here nor pinned."
  (let* ((name (policy-name-of policy))
         (st (applied-state name)))
    (cond
     (st (remove-applied! st))
     ((read-tc-record name) => (lambda (rec) (remove-left-behind! name rec)))
     ;; A damaged manifest does not stop the removal.
     ((or (false-if-exception (lstat (manifest-path name)))
          (false-if-exception (lstat (bpf-policy-pin-dir name))))
      (remove-pinned! name (false-if-exception (bpf-policy-manifest name))))
     (else
      (raise-ebpf-error 'ebpf-error 'bpf-policy-remove!
                        (format #f "policy ~a is neither applied by this process nor pinned" name)
                        #:fix (format #f "check the name (pinned policies: ~a)"
                                      (names-or-none (bpf-pinned-policy-names))))))))

;;; ------------------------------------------------------------------
;;; Printer.

(define (print-policy p port)
  (format port "#<bpf-policy ~a programs:~a maps:~a~a>" (bpf-policy-name p)
          (bpf-policy-programs p) (bpf-policy-maps p)
          (if (applied-state (bpf-policy-name p)) " applied" "")))
(set-record-type-printer! <bpf-policy> print-policy)
