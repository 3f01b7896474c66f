;;; (ebpf policy-declare) --- a policy as data: declaration, resolution, digest.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf policy), which re-exports the public names.  What a
;;; policy is, apart from any kernel: the defbpf-policy record and its
;;; registry, the resolution of its names to the current declarations,
;;; the digest of what it deploys, and the table of the policies this
;;; process applied.  Separate so that plan/apply, status and remove all
;;; build on it without depending on each other.

(define-module (ebpf policy-declare)
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf fn)
  #:use-module (ebpf build)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module ((srfi srfi-9 gnu) #:select (set-record-type-printer!))
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
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
            bpf-policy-applied?
            bpf-policy-digest
            ;; For the other (ebpf policy-...) modules.
            policy-name? policy-name-of policy-arg names-or-none item-name
            resolve resolved-policy resolved-maps resolved-programs
            resolved-program-maps current-program current-map
            make-applied applied-policy applied-maps applied-created
            set-applied-created! applied-programs applied-digests
            applied-pin-dir applied-pins applied-digest applied-time
            applied-table applied-state
            shape policy-text))

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

(define (file-sha256 path)
  (bpf-sha256 (call-with-input-file path get-bytevector-all #:binary #t)))

(define (shape m)
  `((kind . ,(bpf-map-kind m)) (key-size . ,(bpf-map-key-size m))
    (value-size . ,(bpf-map-value-size m))
    (max-entries . ,(bpf-map-max-entries m)) (flags . ,(bpf-map-flags m))))

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
;;; Printer.

(define (print-policy p port)
  (format port "#<bpf-policy ~a programs:~a maps:~a~a>" (bpf-policy-name p)
          (bpf-policy-programs p) (bpf-policy-maps p)
          (if (applied-state (bpf-policy-name p)) " applied" "")))
(set-record-type-printer! <bpf-policy> print-policy)
