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
;;;
;;; This module holds the plan and the transactional apply, and
;;; re-exports the rest of the policy interface from the modules that
;;; hold it: (ebpf policy-declare) the declaration, resolution and
;;; digest, (ebpf policy-manifest) the pins and the manifest,
;;; (ebpf policy-status) and (ebpf policy-remove).

(define-module (ebpf policy)
  #:use-module ((ebpf core) #:select (%bpf-map-release!))
  #:use-module ((ebpf fn) #:select (call-with-lowering-memo))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ebpf build)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module ((ebpf deploy-build) #:select (build-together!))
  #:use-module ((ebpf kernel) #:select (kind-flag?))
  #:use-module (ebpf policy-declare)
  #:use-module (ebpf policy-manifest)
  #:use-module (ebpf policy-status)
  #:use-module (ebpf policy-remove)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 rdelim)
  #:export (bpf-policy-plan
            bpf-policy-print-plan
            bpf-policy-apply!
            bpf-policy-fail-at-step)
  #:re-export (defbpf-policy
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
               bpf-policy-applied?
               bpf-policy-status
               bpf-policy-remove!
               bpf-policy-digest
               bpf-policy-map
               bpf-policy-manifest
               bpf-policy-pin-dir
               bpf-pinned-policy-names
               bpf-policy-pin-root
               bpf-policy-run-dir))

;;; ------------------------------------------------------------------
;;; The test hooks.

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

(define (shape-text m)
  (format #f "~a, key ~a bytes, value ~a bytes, ~a entries"
          (bpf-map-kind m) (bpf-map-key-size m) (bpf-map-value-size m)
          (bpf-map-max-entries m)))

(define (attachable? p)
  (not (eq? (bpf-program-kind p) 'socket-filter)))

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
  ;; The digest, the unit built together and each load's check lower
  ;; the same programs: once each.
  (call-with-lowering-memo
   (lambda () (apply-policy policy dry-run? pin?))))

(define (apply-policy policy dry-run? pin?)
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
