;;; (ebpf deploy-attach) --- a loaded program attached to its targets.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf deploy), which re-exports the public names.  The
;;; declared targets are expanded (tracepoint globs, uprobe symbol
;;; globs) into attach points in (probe) index order, each spelled as
;;; bpf-list-probes spells it, and attached all or nothing.  A
;;; dispatched kind attaches its stub once, the program sitting in the
;;; stub's one-slot prog-array, so a new version is one map update.

(define-module (ebpf deploy-attach)
  #:declarative? #f
  #:use-module (ebpf error)
  #:use-module ((ebpf core) #:select (%bpf-tracefs %bpf-uprobe-symbols))
  #:use-module (ebpf syntax)
  #:use-module (ebpf map)
  #:use-module (ebpf build)
  #:use-module ((ebpf program) #:hide (bpf-test-run bpf-attach-socket!))
  #:use-module (ebpf deploy-declare)
  #:use-module (ebpf deploy-build)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  ;; Only tracepoint globs list directories: not loaded at start-up.
  #:autoload (ice-9 ftw) (scandir)
  ;; For (ebpf deploy):
  #:export (attach-now! drop-dispatcher!)
  #:export (tracepoints-matching))

;;; ------------------------------------------------------------------
;;; Targets: globs expanded, probes named.

(define (glob? s) (and (string? s) (string-index s (char-set #\* #\? #\[))))

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
      ;; "software:page-faults:100", as the event is spelled.
      ((perf-event) target)
      (else (string-append (symbol->string kind) ":" target))))))

;;; ------------------------------------------------------------------
;;; Attaching, through the dispatcher for a dispatched kind.

(define (attach-one p obj kind target cookie)
  (let ((spec (bpf-program-attach-spec p)))
    (bpf-object-attach obj #:kind kind #:target target
                       #:mode (or (assq-ref spec 'mode) 'auto)
                       #:direction (assq-ref spec 'direction)
                       #:pid (assq-ref spec 'pid)
                       #:cookie cookie
                       #:frequency (or (assq-ref spec 'frequency) 99))))

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

(define (drop-dispatcher! p)
  (when (program-stub p)
    (bpf-object-close! (program-stub p))
    (set-program-stub! p #f))
  (when (program-slot p)
    (bpf-map-close! (program-slot p))
    (set-program-slot! p #f)))

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
