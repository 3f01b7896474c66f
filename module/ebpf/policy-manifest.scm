;;; (ebpf policy-manifest) --- where a pinned policy lives, and its manifest.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf policy), which re-exports the public names.  A pinned
;;; policy is a directory of pins under PIN-ROOT/POLICY/ on bpffs and a
;;; JSON manifest (and a record of its tc filters) in RUN-DIR/POLICY/.
;;; This module owns those places: the pin paths, the JSON reader (the
;;; writer is (ebpf syntax)'s), the manifest and tc record files.  Apply writes them, status
;;; and remove read them, from any process.

(define-module (ebpf policy-manifest)
  #:use-module ((ebpf core) #:select (%bpf-fd-pin! %bpf-link-tc-filters
                                      %bpf-tc-filter-remove!))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module (ebpf build)
  #:use-module ((ebpf program) #:hide (bpf-test-run))
  #:use-module (ebpf deploy)
  #:use-module (ebpf policy-declare)
  #:use-module ((ebpf syntax) #:select (write-json))
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module (ice-9 format)
  #:use-module (ice-9 ftw)
  #:export (bpf-policy-pin-root
            bpf-policy-run-dir
            bpf-policy-pin-dir
            bpf-policy-manifest
            bpf-pinned-policy-names
            ;; For the other (ebpf policy-...) modules.
            manifest-dir manifest-path target-text pin-path program-pins
            pin-one! unpin-one! ensure-dir! pin-of-program?
            write-manifest! regular-file? remove-manifest!
            tc-record-path write-tc-record! read-tc-record
            record-filter-state tc-left-behind
            this-process process-alive? manifest-complete?))

;;; ------------------------------------------------------------------
;;; Where pinned policies live.

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

(define (bpf-policy-pin-dir policy)
  "Return the bpffs directory where @var{policy} (a policy or its name)
is or would be pinned: @code{(bpf-policy-pin-root)/NAME}."
  (string-append (bpf-policy-pin-root) "/" (policy-name-of policy)))

(define (manifest-dir name)
  (string-append (bpf-policy-run-dir) "/" name))

(define (manifest-path name)
  (string-append (manifest-dir name) "/manifest.json"))

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

(define (ensure-dir! dir)
  (unless (file-exists? dir)
    (let ((parent (dirname dir)))
      (unless (or (string=? parent dir) (file-exists? parent))
        (ensure-dir! parent))
      (mkdir dir #o700))))

(define (pin-of-program? path name)
  (let ((base (basename path)))
    (or (string=? base (string-append "prog:" name))
        (string-prefix? (string-append "prog:" name ":") base)
        (string-prefix? (string-append "link:" name ":") base))))

;;; ------------------------------------------------------------------
;;; JSON, by hand: the manifest, written by (ebpf syntax)'s write-json
;;; (indented) and read back here.

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
         port #:indent 2)
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
                          port #:indent 2)
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

(define (this-process)
  ;; This process's id, read without getpid(2): programs that count a
  ;; process's getpid calls (a common test) then count only the caller's.
  (or (false-if-exception (string->number (readlink "/proc/self")))
      (getpid)))

(define (process-alive? pid)
  (and (integer? pid)
       (file-exists? (format #f "/proc/~a" pid))))

(define (manifest-complete? m)
  ;; Manifests written before the mark existed are complete.
  (match (assq 'complete m)
    (#f #t)
    ((_ . v) (eq? v #t))))
