;;; (ebpf print) --- histograms and maps, printed as bpftrace prints them.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Part of (ebpf events), which re-exports the public names.  A
;;; histogram map holds one count per bucket (log2, or linear for
;;; lhist!), per key and per CPU: bpf-hist reads it back as buckets,
;;; bpf-print-hist and bpf-print-map print histograms and maps in
;;; bpftrace's text format, byte for byte: labels with K/M/G suffixes,
;;; bars of @ scaled to 52 columns in single precision, keys bare, stack
;;; keys as symbolized frames.  The shell's @-maps are printed with the
;;; same pieces (format-key, write-histogram, linear-histogram, buckets).

(define-module (ebpf print)
  #:use-module ((ebpf core) #:select (%bpf-stack-key %bpf-struct-field-specs))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module ((ebpf stacks) #:select (stack-key-frames))
  #:use-module ((ebpf deploy) #:select (bpf-program-names bpf-program-lookup
                                        bpf-program-source))
  #:use-module ((ebpf fn) #:select (bpf-fn? bpf-fn-ast))
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (rnrs bytevectors)
  ;; For (ebpf script), not re-exported by (ebpf events):
  #:export (format-key write-histogram linear-histogram hist-buckets buckets
            hist-key-text)
  #:export (bpf-hist
            bpf-print-hist
            bpf-print-map))

;;; ------------------------------------------------------------------
;;; Histograms.

(define (sum-vector v)
  (if (vector? v) (apply + (vector->list v)) v))

;; Buckets 0..63 of a log2 histogram, and 64 for negative values.
(define hist-buckets 65)
(define negative-bucket 64)

(define (histogram-data m)
  ;; (values keyed? data): for an unkeyed histogram a vector of
  ;; hist-buckets counts summed over CPUs; for a keyed one an alist
  ;; ((KEY . vector) ...).
  (let* ((raw (bpf-map->alist m))
         (entries (if (and (pair? raw) (not (pair? (caar raw)))
                           (eq? (bpf-map-kind m) 'per-cpu-hash))
                      (split-raw-keys raw (bpf-map-key-size m))
                      raw)))
    (if (or (null? entries) (pair? (caar entries)))
        (let ((table (make-hash-table)))
          (for-each (match-lambda
                      (((key . slot) . counts)
                       (let ((v (or (hash-ref table key)
                                    (let ((v (make-vector hist-buckets 0)))
                                      (hash-set! table key v)
                                      v))))
                         (when (< slot hist-buckets)
                           (vector-set! v slot (+ (vector-ref v slot)
                                                  (sum-vector counts)))))))
                    entries)
          (values #t (hash-map->list cons table)))
        (let ((v (make-vector hist-buckets 0)))
          (for-each (match-lambda
                      ((slot . counts)
                       (when (< slot hist-buckets)
                         (vector-set! v slot (sum-vector counts)))))
                    entries)
          (values #f v)))))

;; A keyed histogram reopened from its pin has lost its key type: its
;; keys are the raw bytes of struct { KEY key; __u32 slot; }.
(define (raw-key-bytes k size)
  (cond ((bytevector? k) k)
        ((exact-integer? k)
         (let ((bv (make-bytevector size 0)))
           (bytevector-uint-set! bv 0 k (native-endianness) size)
           bv))
        (else (make-bytevector size 0))))

(define (raw-user-key bv n)
  ;; The first N bytes of BV as the key they most likely are: an integer
  ;; of 4 or 8 bytes, a NUL-padded string, or else the bytes.
  (let ((text (let lp ((i 0))
                (if (and (< i n) (<= 32 (bytevector-u8-ref bv i) 126))
                    (lp (+ i 1))
                    i))))
    (cond ((= n 4) (bytevector-u32-native-ref bv 0))
          ((= n 8) (bytevector-u64-native-ref bv 0))
          ((and (> text 0) (< text n)
                (let lp ((i text))
                  (or (= i n) (and (zero? (bytevector-u8-ref bv i)) (lp (+ i 1))))))
           (utf8->string (sub-bytevector bv 0 text)))
          (else (sub-bytevector bv 0 n)))))

(define (sub-bytevector bv start end)
  (let ((out (make-bytevector (- end start))))
    (bytevector-copy! bv start out 0 (- end start))
    out))

(define (split-raw-keys entries size)
  ;; ((RAW . counts) ...) -> (((KEY . SLOT) . counts) ...).  The slot
  ;; follows KEY at its alignment: with an 8-byte-aligned key it sits 8
  ;; bytes from the end, before 4 bytes of padding (zero in every entry).
  (let* ((bvs (map (lambda (e) (raw-key-bytes (car e) size)) entries))
         (padded? (and (>= size 16) (zero? (modulo size 8))
                       (every (lambda (bv)
                                (zero? (bytevector-u32-native-ref bv (- size 4))))
                              bvs)))
         (off (if padded? (- size 8) (- size 4))))
    (if (< off 1)
        entries
        (map (lambda (bv e)
               (cons (cons (raw-user-key bv off) (bytevector-u32-native-ref bv off))
                     (cdr e)))
             bvs entries))))

(define (check-linear linear who)
  (match linear
    (#f #f)
    (((? exact-integer? lo) (? exact-integer? hi) (? exact-integer? step))
     (unless (and (>= lo 0) (> hi lo) (> step 0)
                  (<= (+ (quotient (- hi lo) step) 2) 64))
       (raise-ebpf-error 'ebpf-validation-error who
                         (format #f "bad #:linear ~s" linear)
                         #:fix "give the MIN MAX STEP of the lhist! that filled the map, with MAX > MIN >= 0 and at most 62 steps"))
     linear)
    (_ (raise-ebpf-error 'ebpf-validation-error who
                         (format #f "bad #:linear ~s" linear)
                         #:fix "give #:linear '(MIN MAX STEP), as in (lhist! M V MIN MAX STEP)"))))

;; The (MIN MAX STEP) of the lhist! forms that declared programs apply to
;; map M, when they agree on one: what #:linear defaults to.
(define (lhist-range m)
  (define (same-name? a b)
    (string=? (string-map (lambda (c) (if (char=? c #\-) #\_ c)) a)
              (string-map (lambda (c) (if (char=? c #\-) #\_ c)) b)))
  (define (walk node acc)
    (match node
      ((or ('lhist! ('symbol (? symbol? map) . _) _
                    ('int lo . _) ('int hi . _) ('int step . _) . _)
           ('lhist! ('symbol (? symbol? map) . _) _ _    ; keyed
                    ('int lo . _) ('int hi . _) ('int step . _) . _))
       (if (same-name? (symbol->string map) (bpf-map-name m))
           (cons (list lo hi step) acc)
           acc))
      ((a . d) (walk d (walk a acc)))   ; also through dotted pairs
      (_ acc)))
  (let ((ranges (delete-duplicates
                 (fold (lambda (name acc)
                         (let* ((p (bpf-program-lookup name))
                                (src (and p (bpf-program-source p))))
                           (if (bpf-fn? src) (walk (bpf-fn-ast src) acc) acc)))
                       '() (bpf-program-names)))))
    (and (= (length ranges) 1) (car ranges))))

(define (nonzero-range v)
  ;; First and last index of V holding a non-zero count, or #f.
  (let ((n (vector-length v)))
    (let lp ((i 0) (lo #f) (hi #f))
      (if (= i n)
          (and lo (cons lo hi))
          (if (> (vector-ref v i) 0)
              (lp (+ i 1) (or lo i) i)
              (lp (+ i 1) lo hi))))))

(define (log2-ordered counts)
  ;; COUNTS in value order: the negative bucket first, then 0, 1, 2-3 ...
  (list->vector (cons (vector-ref counts negative-bucket)
                      (list-head (vector->list counts) negative-bucket))))

(define (buckets counts linear)
  ;; ((low high count) ...) over the non-zero range of COUNTS.
  (define ordered (if linear counts (log2-ordered counts)))
  (match (nonzero-range ordered)
    (#f '())
    ((lo . hi)
     (map (lambda (i)
            (let ((c (vector-ref ordered i)))
              (match linear
                (#f (case i
                      ((0) (list #f 0 c))
                      ((1) (list 0 1 c))
                      (else (list (expt 2 (- i 2)) (expt 2 (- i 1)) c))))
                ((mn mx step)
                 (let ((last (+ (quotient (- mx mn) step) 1)))
                   (cond ((= i 0) (list #f mn c))
                         ((>= i last) (list mx #f c))
                         (else (list (+ mn (* (- i 1) step))
                                     (min mx (+ mn (* i step)))
                                     c))))))))
          (iota (+ (- hi lo) 1) lo)))))

(define no-key (list 'no-key))

(define* (bpf-hist hist #:optional (key no-key) #:key linear)
  "Return the histogram in @var{hist} (a @code{histogram} map or its name,
or the per-CPU array or hash such a map is when reopened from its pin)
as a list of @code{(LOW HIGH COUNT)}, one per bucket from the first to
the last non-zero one, counts summed over CPUs.  A bucket holds the
values @var{v} with LOW <= @var{v} < HIGH; @code{hist!} buckets are
powers of two ((0 1 c) holds 0, and (#f 0 c) the negative values).  For a map filled by @code{(lhist! M V
MIN MAX STEP)} the buckets are linear: the first bucket is then
@code{(#f MIN c)} (below MIN) and the last @code{(MAX #f c)}.  MIN, MAX
and STEP are those of the @code{lhist!} that the bpf-fn of a declared
program applies to the map, or @code{#:linear '(MIN MAX STEP)}.

For a keyed histogram give @var{key}; without it the result is an alist
@code{((KEY . BUCKETS) ...)} sorted by key."
  (let* ((m (map-of-kind hist 'bpf-hist '(histogram per-cpu-array per-cpu-hash)))
         (linear (check-linear (or linear (lhist-range m)) 'bpf-hist)))
    (let-values (((keyed? data) (histogram-data m)))
      (cond
       ((not keyed?) (buckets data linear))
       ((not (eq? key no-key))
        (buckets (or (assoc-ref data key) (make-vector hist-buckets 0))
                 linear))
       (else
        (map (match-lambda ((k . v) (cons k (buckets v linear))))
             (sort data (lambda (a b) (key<? (car a) (car b))))))))))

;; bpftrace's labels: an integer prints as itself and two adjacent
;; integers make a one-value bucket "[n]"; a string is a label with a
;; K/M/G... suffix, never one value.
(define (log2-label i)
  ;; The label of bpftrace's log2 index I (I >= 3): 2^(I-1) with the
  ;; suffix of its power of 1024.
  (let* ((power (- i 1))
         (decade (quotient power 10)))
    (string-append (number->string (expt 2 (- power (* 10 decade))))
                   (if (zero? decade)
                       ""
                       (string (string-ref "KMGTPE" (- decade 1)))))))

(define (log2-histogram counts)
  ;; Our bucket b (0 holds 0, b >= 1 holds [2^(b-1), 2^b)) is bpftrace's
  ;; index b + 1; its index 0, the negative values, is our bucket 64.
  (let ((v (log2-ordered counts)))
    (match (nonzero-range v)
      (#f (values* #f '() '()))
      ((lo . hi)
       (values* (cond ((= lo 0) #f)          ; "(..., 0)"
                      ((<= (- lo 1) 2) (- lo 1))
                      (else (log2-label (- lo 1))))
                (map (lambda (i) (if (<= i 2) i (log2-label i)))
                     (iota (+ (- hi lo) 1) lo))
                (map (lambda (i) (vector-ref v i))
                     (iota (+ (- hi lo) 1) lo)))))))

(define (values* lower labels counts) (list lower labels counts))

(define (linear-label n step)
  (cond ((not (zero? (modulo step 1024))) n)
        ((zero? n) "0")
        ((zero? (modulo n (* 1024 1024)))
         (string-append (number->string (quotient n (* 1024 1024))) "M"))
        ((zero? (modulo n 1024))
         (string-append (number->string (quotient n 1024)) "K"))
        (else (number->string n))))

(define (linear-histogram counts linear)
  (match-let (((mn mx step) linear))
    (match (nonzero-range counts)
      (#f (values* #f '() '()))
      ((lo . hi)
       (values* (and (not (zero? lo))
                     (linear-label (+ mn (* (- lo 1) step)) step))
                (filter-map (lambda (i)
                              (and (<= (+ mn (* i step)) mx)
                                   (linear-label (+ mn (* i step)) step)))
                            (iota (+ (- hi lo) 1) lo))
                (map (lambda (i) (vector-ref counts i))
                     (iota (+ (- hi lo) 1) lo)))))))

(define (label->string l) (if (string? l) l (number->string l)))

(define (one-value? a b)
  ;; Labels are integers or strings.
  (and (number? a) (number? b) (= (+ a 1) b)))

(define (float32 x)
  ;; X rounded to single precision, as C's float.
  (let ((bv (make-bytevector 4)))
    (bytevector-ieee-single-native-set! bv 0 (exact->inexact x))
    (bytevector-ieee-single-native-ref bv 0)))

(define (bar-width count max-count)
  ;; (int) ((count / (float) max) * 52), in single precision as bpftrace.
  (let ((q (float32 (/ (float32 count) (float32 max-count)))))
    (inexact->exact (truncate (float32 (* q 52))))))

(define (pad-right s n)
  (if (< (string-length s) n)
      (string-append s (make-string (- n (string-length s)) #\space))
      s))

(define (pad-left s n)
  (if (< (string-length s) n)
      (string-append (make-string (- n (string-length s)) #\space) s)
      s))

(define (write-histogram hist port)
  (match hist
    ((lower labels counts)
     (let ((max-count (fold max 0 counts))
           (nlabels (length labels))
           (labels (list->vector labels)))
       (let lp ((i 0) (cs counts))
         (when (pair? cs)
           (let* ((label (lambda (j) (vector-ref labels j)))
                  (header
                   (cond
                    ((= i 0)
                     (cond ((not lower)
                            (format #f "(..., ~a)" (label->string (label 0))))
                           ((zero? nlabels)
                            (format #f "[~a, ...)" (label->string lower)))
                           ((one-value? lower (label 0))
                            (format #f "[~a]" (label->string lower)))
                           (else
                            (format #f "[~a, ~a)" (label->string lower)
                                    (label->string (label 0))))))
                    ((>= i nlabels)
                     (format #f "[~a, ...)" (label->string (label (- i 1)))))
                    ((one-value? (label (- i 1)) (label i))
                     (format #f "[~a]" (label->string (label (- i 1)))))
                    (else
                     (format #f "[~a, ~a)" (label->string (label (- i 1)))
                             (label->string (label i))))))
                  (bar (make-string (bar-width (car cs) max-count) #\@)))
             (display (pad-right header 16) port)
             (display (pad-left (number->string (car cs)) 8) port)
             (display " |" port)
             (display (pad-right bar 52) port)
             (display "|\n" port)
             (lp (+ i 1) (cdr cs)))))))))

(define (format-key k)
  ;; As bpftrace prints a map key: strings bare, tuples without their
  ;; parentheses.
  (cond ((string? k) k)
        ((number? k) (number->string k))
        ((symbol? k) (symbol->string k))
        ((vector? k) (string-join (map format-key (vector->list k)) ", "))
        ((and (pair? k) (list? k))
         (string-join (map (lambda (x)
                             (format-key (if (pair? x) (cdr x) x)))
                           k)
                      ", "))
        ((record? k)
         (let* ((rtd (record-type-descriptor k))
                (fields (record-type-fields rtd)))
           (string-join (map (lambda (f)
                               (format-key ((record-accessor rtd f) k)))
                             fields)
                        ", ")))
        (else (format #f "~a" k))))

(define (key<? a b)
  (cond ((and (real? a) (real? b)) (< a b))
        ((and (string? a) (string? b)) (string<? a b))
        (else (string<? (format-key a) (format-key b)))))

(define (value->number v)
  (cond ((vector? v) (if (every real? (vector->list v))
                         (apply + (vector->list v))
                         v))
        (else v)))

(define (top-of entries top)
  ;; The last TOP of ENTRIES (sorted ascending), as bpftrace's print(@, N).
  (if (and top (> (length entries) top))
      (drop entries (- (length entries) top))
      entries))

(define (map-title m name)
  (or name (string-append "@" (bpf-map-name m))))

(define hist-key-text
  ;; How bpf-print-hist writes a key, when not as format-key does: the
  ;; shell's @-maps know their keys' kinds (stacks, probes).
  (make-parameter #f))

(define* (bpf-print-hist hist #:optional (port (current-output-port))
                         #:key key linear top name)
  "Print the histogram in @var{hist} (a @code{histogram} map or its name,
or a pinned one reopened, see @code{bpf-hist}) on @var{port} exactly as bpftrace prints one: a @samp{@@NAME:} line, one
line per bucket from the first to the last non-zero one (the range in
power-of-two labels with K, M, G ... suffixes, the count, a bar of
@samp{@@} scaled to the largest count, 52 wide), and a blank line:

@example
@@lat:
[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[2, 4)                 0 |                                                    |
[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
@end example

A keyed histogram prints one such block per key, titled
@samp{@@NAME[KEY]:}, in increasing order of total count (only the
@var{top} largest if given), or only @var{key}'s.  For a map filled by
@code{lhist!} the buckets are linear, as for @code{bpf-hist}.  @var{name} replaces
the title's @samp{@@NAME}."
  (let* ((m (map-of-kind hist 'bpf-print-hist '(histogram per-cpu-array per-cpu-hash)))
         (linear (check-linear (or linear (lhist-range m)) 'bpf-print-hist))
         (title (map-title m name))
         (shape (lambda (counts)
                  (if linear
                      (linear-histogram counts linear)
                      (log2-histogram counts)))))
    (let-values (((keyed? data) (histogram-data m)))
      (if (not keyed?)
          (begin
            (format port "~a:~%" title)
            (write-histogram (shape data) port)
            (newline port))
          (let* ((data (if key
                           (filter (lambda (e) (equal? (car e) key)) data)
                           data))
                 (totals (map (lambda (e)
                                (cons e (apply + (vector->list (cdr e)))))
                              data))
                 (sorted (sort totals
                               (lambda (a b)
                                 (or (< (cdr a) (cdr b))
                                     (and (= (cdr a) (cdr b))
                                          (key<? (caar a) (caar b))))))))
            (for-each (match-lambda
                        (((k . counts) . total)
                         (format port "~a[~a]:~%" title
                                 ((or (hist-key-text) format-key) k))
                         (write-histogram (shape counts) port)
                         (newline port)))
                      (top-of sorted top)))))
    (force-output port)))

(define* (bpf-print-map table #:optional (port (current-output-port))
                        #:key top name)
  "Print the entries of @var{table} (a map or its name) on @var{port} as
bpftrace prints a map: one @samp{@@NAME[KEY]: VALUE} line per entry,
sorted by increasing value (per-CPU values summed), only the @var{top}
largest if given.  Keys print bare (strings without quotes, struct keys
as their fields separated by @samp{, }); keys that programs made with
@code{(kstack)}, @code{(ustack)} or @code{stack-id} print as stacks, one
symbolized frame per line, and so do the @code{kstack} and @code{ustack}
fields of a struct key.  @var{name} replaces the
@samp{@@NAME} prefix (@code{\"@@\"} prints @samp{@@[KEY]: VALUE}).
A histogram map is printed by @code{bpf-print-hist}."
  (let ((m (map-of-kind table 'bpf-print-map
                       '(hash array per-cpu-hash per-cpu-array lru-hash
                         lru-per-cpu-hash lpm-trie histogram))))
    (if (eq? (bpf-map-kind m) 'histogram)
        (bpf-print-hist m port #:top top #:name name)
        (print-map-entries m port top name))))

(define (print-map-entries m port top name)
  (let* ((title (map-title m name))
         (stack-key-text (or (stack-key-printer m)
                             (stack-fields-printer m)
                             format-key))
         (entries (map (match-lambda ((k . v) (cons k (value->number v))))
                       (bpf-map->alist m)))
         (sorted (sort entries
                       (lambda (a b)
                         (if (and (real? (cdr a)) (real? (cdr b))
                                  (not (= (cdr a) (cdr b))))
                             (< (cdr a) (cdr b))
                             (key<? (car a) (car b)))))))
    (for-each (match-lambda
                ((k . v)
                 (format port "~a[~a]: ~a~%" title
                         (stack-key-text k)
                         (if (real? v) v (format-key v)))))
              (top-of sorted top))
    (force-output port)))

(define (frames-text frames)
  ;; A stack as bpftrace prints it in a key: a newline, then one
  ;; indented frame per line.
  (string-append "\n" (string-concatenate
                       (map (lambda (f) (string-append "    " f "\n"))
                            frames))))

(define (stack-fields-printer m)
  ;; For a map whose key is a struct with kstack or ustack fields, a
  ;; procedure formatting a key with those fields as frames (their ids
  ;; are in gebpf-stacks, where (kstack) and (ustack) record), else #f.
  (let* ((specs (false-if-exception
                 (%bpf-struct-field-specs (bpf-map-key-type m))))
         (modes (map (lambda (f)
                       (case (cdr f) ((kstack) 'kernel) ((ustack) 'user) (else #f)))
                     (or specs '()))))
    (and (any identity modes)
         (lambda (k)
           (if (record? k)
               (let ((rtd (record-type-descriptor k)))
                 (string-join-fields
                  (map (lambda (f mode)
                         (let ((v ((record-accessor rtd (car f)) k)))
                           (if mode
                               (frames-text
                                (stack-key-frames (cons "gebpf-stacks" mode) v))
                               (format-key v))))
                       specs modes)))
               (format-key k))))))

(define (string-join-fields texts)
  ;; Fields joined by ", ", but only "," before a stack's newline.
  (string-concatenate
   (cons (car texts)
         (map (lambda (t) (string-append (if (string-prefix? "\n" t) "," ", ") t))
              (cdr texts)))))

(define (stack-key-printer m)
  ;; For a map whose keys are stacks, a procedure formatting a key as
  ;; bpftrace prints a stack key (a newline, one indented frame per
  ;; line), else #f.
  (let ((note (%bpf-stack-key m)))
    (and note
         (lambda (k)
           (if (exact-integer? k)
               (string-append
                "\n"
                (string-concatenate
                 (map (lambda (f) (string-append "    " f "\n"))
                      (stack-key-frames note k))))
               (format-key k))))))
