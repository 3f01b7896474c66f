;;; (ebpf policy-status) --- what a policy is doing now.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf policy), which re-exports the public names.  The state
;;; of a policy applied by this process (from the applied table) or
;;; pinned by any process (from its manifest and pins, never trusting a
;;; path outside its pin directory), and its maps.

(define-module (ebpf policy-status)
  #:use-module ((ebpf core) #:select (%bpf-pinned-info))
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module (ebpf policy-declare)
  #:use-module (ebpf policy-manifest)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:export (bpf-policy-status
            bpf-policy-map))

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
