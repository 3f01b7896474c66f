;;; (ebpf map) --- defbpf-map and the map I/O procedures.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Element operations are C primitives (one call, one syscall); this
;;; module adds the declaration syntax, keyword wrappers of the whole-map
;;; operations, the accessors and the printer.

(define-module (ebpf map)
  #:use-module ((ebpf core) #:hide (bpf-map-names bpf-maps))
  #:use-module (ebpf error)
  #:use-module (ebpf syntax)
  #:use-module ((ebpf kernel) #:select (map-kind-names))
  #:use-module (srfi srfi-1)
  #:use-module (oop goops)
  #:re-export (bpf-map? bpf-map-ref bpf-map-set! bpf-map-delete!
               bpf-map-contains? bpf-map-ref/sum bpf-map-push! bpf-map-pop!
               bpf-map-peek bpf-map-count bpf-map-create! bpf-map-pin!
               bpf-map-unpin! bpf-map-close! bpf-map-lookup
               bpf-map-open-pinned <bpf-map>)
  #:export (defbpf-map
            make-bpf-map
            bpf-map-name bpf-map-kind bpf-map-key-size bpf-map-value-size
            bpf-map-max-entries bpf-map-fd bpf-map-pin-path bpf-map-doc
            bpf-map-key-type bpf-map-value-type bpf-map-flags
            bpf-map-record-type
            bpf-map-fold bpf-map-for-each bpf-map->alist bpf-map-clear!
            bpf-map-set-all!
            bpf-map-kinds bpf-map-fields
            bpf-map-names bpf-maps)
  ;; For (ebpf events), (ebpf print), (ebpf stacks); not re-exported by
  ;; (ebpf):
  #:export (map-of-kind))

(define bpf-map-kinds
  ;; The kernel model's map kinds (csrc/kernel/kinds.c).
  map-kind-names)

(define bpf-map-fields
  ;; (field default documentation), for bpf-help and the manual.
  '((name #f "The map's name: string or symbol; - and _ are one character.")
    (kind #f "One of bpf-map-kinds (hash, array, ringbuf, histogram ...).")
    (key #f "Key type (u32, ipv4, (prefix ipv4), a defbpf-struct ...).")
    (key-size #f "Key size in bytes, when no #:key type is given.")
    (value #f "Value type; for ringbuf/perf-event-array the record type.")
    (value-size #f "Value size in bytes, when no #:value type is given.")
    (max-entries 10240 "Capacity (ringbuf: bytes, a power of two).")
    (pin-path #f "Where to pin the map under /sys/fs/bpf; reused if there.")
    (flags () "Map flags: no-prealloc rdonly-prog wronly-prog mmapable ...")
    (inner-map #f "Template map of an array-of-maps or hash-of-maps.")
    (doc #f "Documentation string.")))

(define (make-bpf-map alist)
  "Make a @code{<bpf-map>} from the declaration @var{alist}
@code{((field . value) ...)}; see @code{defbpf-map}."
  (check-declaration-keys 'defbpf-map alist (map car bpf-map-fields))
  (let ((ref (lambda (k) (declaration-ref alist k #f))))
    (%make-bpf-map (ref 'name) (ref 'kind) (ref 'key) (ref 'key-size)
                   (ref 'value) (ref 'value-size) (ref 'max-entries)
                   (ref 'pin-path) (ref 'flags)
                   (list (ref 'inner-map) (ref 'doc)))))

(define-declaration-syntax defbpf-map make-bpf-map)

(define (bpf-internal-name? name)
  ;; One of guile-ebpf's own: a dispatcher's gebpf_slot_ prog-array, by
  ;; its declared name or as the kernel cut it.
  (string-prefix? "gebpf_slot" (string-map (lambda (c) (if (char=? c #\-) #\_ c))
                                           name)))

(define* (bpf-map-names #:key all?)
  "Return the names of the declared maps, sorted; the dispatchers' own
prog-arrays only with @code{#:all? #t}."
  (let ((names ((@ (ebpf core) bpf-map-names))))
    (if all? names (remove bpf-internal-name? names))))

(define* (bpf-maps #:key all?)
  "Return every map the kernel holds, as bpftool lists them: a list of
alists with @code{id}, @code{name}, @code{kind}, @code{key-size},
@code{value-size}, @code{max-entries} and @code{flags}; guile-ebpf's
dispatcher prog-arrays only with @code{#:all? #t}.  Raises
@code{ebpf-permission-error} without privilege."
  (let ((maps ((@ (ebpf core) bpf-maps))))
    (if all?
        maps
        (remove (lambda (m) (bpf-internal-name? (or (assq-ref m 'name) ""))) maps))))

(define (info m i) (vector-ref (%bpf-map-info m) i))
(define (bpf-map-name m) "Return the name of map @var{m}." (info m 0))
(define (bpf-map-kind m) "Return the kind of map @var{m} (a symbol)." (info m 1))
(define (bpf-map-key-size m) "Return the key size of @var{m} in bytes." (info m 2))
(define (bpf-map-value-size m)
  "Return the value size of @var{m} in bytes (per CPU for per-CPU maps)."
  (info m 3))
(define (bpf-map-max-entries m) "Return the capacity of @var{m}." (info m 4))
(define (bpf-map-fd m)
  "Return the file descriptor of @var{m}, or @code{#f} until it is created."
  (info m 5))
(define (bpf-map-pin-path m) "Return where @var{m} is pinned, or @code{#f}." (info m 6))
(define (bpf-map-doc m) "Return the documentation string of @var{m}." (info m 7))
(define (bpf-map-key-type m) "Return the spelling of @var{m}'s key type." (info m 8))
(define (bpf-map-value-type m) "Return the spelling of @var{m}'s value type." (info m 9))
(define (bpf-map-flags m) "Return @var{m}'s map flags as a list of symbols." (info m 10))
(define (bpf-map-record-type m)
  "Return the record type of a ringbuf or perf-event-array map, or @code{#f}."
  (info m 11))

(define* (bpf-map-fold proc init map #:key (batch? #t))
  "Fold @var{proc} over the entries of @var{map}: call
@code{(@var{proc} key value acc)} for each, starting with @var{init}, and
return the last result.  Uses the kernel's batch lookup where it has one
(and @var{batch?} is true), else element-by-element iteration."
  (%bpf-map-fold proc init map batch? (fold-batch proc)))

(define (fold-batch proc)
  ;; Fold PROC over one batch of decoded keys and values: the loop runs
  ;; in Scheme, so each call of PROC is a Scheme call, not one from C.
  (lambda (keys vals n acc)
    (let lp ((i 0) (acc acc))
      (if (< i n)
          (lp (+ i 1) (proc (vector-ref keys i) (vector-ref vals i) acc))
          acc))))

(define* (bpf-map-for-each proc map #:key (batch? #t))
  "Call @code{(@var{proc} key value)} for every entry of @var{map}."
  (let ((f (lambda (k v acc) (proc k v) acc)))
    (%bpf-map-fold f #t map batch? (fold-batch f)))
  (if #f #f))

(define* (bpf-map->alist map #:key (batch? #t))
  "Return the entries of @var{map} as an alist @code{((key . value) ...)}."
  (let ((f (lambda (k v acc) (cons (cons k v) acc))))
    (reverse! (%bpf-map-fold f '() map batch? (fold-batch f)))))

(define* (bpf-map-clear! map #:key (batch? #t))
  "Delete every entry of @var{map}; for arrays, set every element to zero;
for queues and stacks, drain them."
  (%bpf-map-clear! map batch?)
  (if #f #f))

(define* (bpf-map-set-all! map alist #:key (batch? #t))
  "Store every @code{(key . value)} of @var{alist} in @var{map}, with the
kernel's batch update where it has one; return the number stored."
  (%bpf-map-set-all! map alist batch?))

;; Foreign object types are GOOPS classes: print through write/display.
;; The map argument of a procedure that reads one kind of map (ring
;; buffers, perf buffers, histograms, stacks): the declared map M
;; (object or name) if its kind is one of KIND, else an error naming WHO.
(define (map-of-kind m who kind)
  (let ((obj (cond ((bpf-map? m) m)
                   ((or (string? m) (symbol? m)) (bpf-map-lookup m))
                   (else #f))))
    (unless obj
      (raise-ebpf-error (if (or (string? m) (symbol? m))
                            'ebpf-map-error
                            'ebpf-validation-error)
                        who
                        (format #f "no map ~s" m)
                        #:fix "give a map made by defbpf-map, or its name (bpf-map-names lists them)"))
    (unless (memq (bpf-map-kind obj) kind)
      (raise-ebpf-error 'ebpf-validation-error who
                        (format #f "map ~a is a ~a map, not ~a"
                                (bpf-map-name obj) (bpf-map-kind obj)
                                (string-join (map symbol->string kind) " or "))
                        #:fix (case (car kind)
                                ((ringbuf) "declare it with #:kind 'ringbuf (or use bpf-perf-poll for a perf-event-array)")
                                ((perf-event-array) "declare it with #:kind 'perf-event-array (or use bpf-ringbuf-poll for a ringbuf)")
                                ((histogram) "declare it with #:kind 'histogram and fill it with hist! or lhist!")
                                ((stack-trace) "give the stack-trace map that stack-id recorded into")
                                (else "give a map of the right kind"))))
    obj))

(define (print-map m port)
  (let ((v (%bpf-map-info m)))
    (format port "#<bpf-map ~a ~a key:~a value:~a fd:~a>"
            (vector-ref v 0) (vector-ref v 1) (vector-ref v 2)
            (vector-ref v 3) (or (vector-ref v 5) "-"))))

(define (print-type t port)
  (format port "#<bpf-type ~s size:~a>" (bpf-type-spec t) (bpf-type-size t)))

(define-method (write (m <bpf-map>) port) (print-map m port))
(define-method (display (m <bpf-map>) port) (print-map m port))
(define-method (write (t <bpf-type>) port) (print-type t port))
(define-method (display (t <bpf-type>) port) (print-type t port))
