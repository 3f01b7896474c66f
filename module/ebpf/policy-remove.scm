;;; (ebpf policy-remove) --- undoing a policy.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf policy), which re-exports the public names.  Removing
;;; a policy applied by this process, pinned by another one, or left as
;;; tc filters by a process that ended: separate from apply because any
;;; process may remove, from the pins and manifest alone.

(define-module (ebpf policy-remove)
  #:use-module ((ebpf core) #:select (%bpf-map-release! %bpf-pin-dir-remove!))
  #:use-module (ebpf error)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module (ebpf policy-declare)
  #:use-module (ebpf policy-manifest)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:export (bpf-policy-remove!))

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
