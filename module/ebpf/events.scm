;;; (ebpf events) --- events into Scheme, aggregations printed as bpftrace does.
;;; Copyright (C) 2026 the guile-ebpf authors.  GPL-3.0-or-later.
;;;
;;; Ring buffers: a reader per map (libbpf's ring_buffer, in the C core)
;;; takes records decoded by the map's record type; the handler runs here,
;;; in Scheme, after the C side has returned.  A consumer thread drains a
;;; ring in the background: by default it switches the ring's wake-ups off
;;; (emit! then submits with BPF_RB_NO_WAKEUP) and drains it every few
;;; milliseconds, the fastest way to move many small events; with
;;; #:interval-ms #f it sleeps until the kernel wakes it.  Records a full
;;; ring refused are counted by emit! in the ring's control map, so
;;; bpf-ringbuf-stats can say how many were lost.
;;;
;;; Perf buffers, the trace pipe, histograms and maps printed in
;;; bpftrace's text format, stacks symbolized, and the probes a glob
;;; matches (as `bpftrace -l' lists them) complete the module.

(define-module (ebpf events)
  #:use-module ((ebpf core) #:select (%bpf-ringbuf-control %bpf-record-type
                                      %bpf-ringbuf-open %bpf-ringbuf-take
                                      %bpf-ringbuf-reader-info
                                      %bpf-ringbuf-close! %bpf-perf-open
                                      %bpf-perf-take %bpf-perf-reader-info
                                      %bpf-perf-close! %bpf-symbolize %bpf-symbol %bpf-stack-key
                                      %bpf-btf-functions %bpf-tracefs))
  #:use-module (ebpf error)
  #:use-module (ebpf map)
  #:use-module ((ebpf syntax) #:select (glob->regexp))
  #:use-module ((ebpf deploy) #:select (tracepoints-matching
                                        bpf-program-names bpf-program-lookup
                                        bpf-program-source))
  #:use-module ((ebpf fn) #:select (bpf-fn? bpf-fn-ast))
  #:use-module ((ebpf features) #:select (bpf-features))
  #:use-module (system vm elf)
  #:use-module (ice-9 ftw)
  #:use-module (srfi srfi-1)
  #:use-module (srfi srfi-9)
  #:use-module (srfi srfi-11)
  #:use-module (ice-9 atomic)
  #:use-module (ice-9 binary-ports)
  #:use-module (ice-9 format)
  #:use-module (ice-9 match)
  #:use-module (ice-9 rdelim)
  #:use-module (ice-9 regex)
  #:use-module (ice-9 threads)
  #:use-module (rnrs bytevectors)
  ;; For (ebpf script), not re-exported by (ebpf):
  #:export (format-key write-histogram linear-histogram hist-buckets buckets)
  #:export (bpf-ringbuf-poll
            bpf-ringbuf-start!
            bpf-ringbuf-stop!
            bpf-ringbuf-running?
            bpf-ringbuf-fd
            bpf-ringbuf-stats
            bpf-ringbuf-wakeup
            bpf-ringbuf-set-wakeup!
            bpf-ringbuf-close!
            bpf-ringbuf-names
            bpf-record-type
            bpf-perf-poll
            bpf-perf-fd
            bpf-perf-stats
            bpf-perf-close!
            bpf-trace-pipe
            bpf-hist
            bpf-print-hist
            bpf-print-map
            bpf-stack-addresses
            bpf-stack-symbols
            bpf-ksym
            bpf-usym
            bpf-list-probes
            bpf-probe-info))

(define (map-object m who kind)
  ;; The declared map M (object or name) of KIND, or an error.
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

(define (bpf-record-type map)
  "Return the @code{<bpf-type>} the records of @var{map} (a ringbuf or
perf-event-array map, or its name) are decoded by: its declared
@code{#:value}, else the type the loaded programs @code{emit!} into it;
@code{#f} when records are handed over as bytevectors."
  (%bpf-record-type (map-object map 'bpf-record-type '(ringbuf perf-event-array))))

;;; ------------------------------------------------------------------
;;; Ring buffers.

(define-record-type <ring>
  (make-ring map reader pending pending-at delivered errors thread stop mode)
  ring?
  (map ring-map)
  (reader ring-reader set-ring-reader!)
  ;; Taken, not yet handled: the records of the vector PENDING from
  ;; index PENDING-AT on.
  (pending ring-pending set-ring-pending!)
  (pending-at ring-pending-at set-ring-pending-at!)
  (delivered ring-delivered set-ring-delivered!)
  (errors ring-errors set-ring-errors!)         ; handler exceptions
  (thread ring-thread set-ring-thread!)
  (stop ring-stop)                              ; atomic box: #t to stop
  (mode ring-mode set-ring-mode!))              ; wake-up mode we set

(define rings (make-weak-key-hash-table))      ; <bpf-map> -> <ring>
(define rings-lock (make-mutex))

(define (ring-of rb who)
  (let ((m (map-object rb who '(ringbuf))))
    (with-mutex rings-lock
      (or (hashq-ref rings m)
          (let ((r (make-ring m (%bpf-ringbuf-open m) #() 0 0 0 #f
                              (make-atomic-box #f) #f)))
            (hashq-set! rings m r)
            r)))))

(define (bpf-ringbuf-names)
  "Return the names of the ring buffers this process has read from."
  (with-mutex rings-lock
    (sort (hash-map->list (lambda (m r) (bpf-map-name m)) rings) string<?)))

(define (deliver! r handler events)
  ;; Hand the vector EVENTS to HANDLER in order.  What is left when
  ;; HANDLER raises stays pending, for the next poll.
  (let ((n (vector-length events)))
    (set-ring-pending! r events)
    (let lp ((i 0))
      (when (< i n)
        (set-ring-pending-at! r (+ i 1))
        (set-ring-delivered! r (+ 1 (ring-delivered r)))
        (handler (vector-ref events i))
        (lp (+ i 1))))
    (set-ring-pending! r #())
    (set-ring-pending-at! r 0)))

(define (take-pending! r)
  ;; The records taken and not yet handled, as a vector; none remain.
  (let ((v (ring-pending r)) (at (ring-pending-at r)))
    (set-ring-pending! r #())
    (set-ring-pending-at! r 0)
    (if (zero? at) v (vector-copy v at))))

;; Records taken per crossing into C: a bounded batch keeps the live
;; set small while the handler runs, so the collector stays cheap.
(define take-chunk 8192)

(define (chunk max)
  (if (and (exact-integer? max) (> max take-chunk)) take-chunk max))

(define (not-while-running r who)
  (when (ring-thread r)
    (raise-ebpf-error 'ebpf-error who
                      (format #f "ring buffer ~a has a consumer thread"
                              (bpf-map-name (ring-map r)))
                      #:fix "stop it first with bpf-ringbuf-stop!, or let it handle the events")))

(define (check-handler handler who)
  (unless (procedure? handler)
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "handler ~s is not a procedure" handler)
                      #:fix "give a procedure of one argument, the decoded event")))

(define* (bpf-ringbuf-poll rb handler #:key (timeout-ms 100) (max 65536))
  "Call @var{handler} on each record waiting in ring buffer @var{rb} (a
ringbuf map or its name), oldest first, and return how many it handled.
When the ring is empty, wait up to @var{timeout-ms} milliseconds (0: do
not wait; -1: for ever) for records.  At most @var{max} records are
taken per call.

Each record is decoded by the map's record type: the map's
@code{#:value} (a @code{defbpf-struct} record, an integer ...), else the
type loaded programs @code{emit!} into it, else a bytevector.

If @var{handler} raises, the exception propagates and the records not
yet handled are kept: the next poll hands them over first.  Raises
@code{ebpf-error} while a consumer thread (@code{bpf-ringbuf-start!})
owns the ring, @code{ebpf-validation-error} for a map of another kind."
  (check-handler handler 'bpf-ringbuf-poll)
  (let* ((r (ring-of rb 'bpf-ringbuf-poll))
         (_ (not-while-running r 'bpf-ringbuf-poll))
         (before (ring-delivered r))
         (pending (take-pending! r))
         (reader (ring-reader r)))
    (deliver! r handler pending)
    ;; Take in chunks until MAX records are taken or the ring is empty;
    ;; only the first take waits, and only when nothing was pending.
    (let lp ((left max) (ms (if (zero? (vector-length pending)) timeout-ms 0)))
      ;; A bad MAX goes to the C take, which names it.
      (let* ((want (chunk left))
             (events (%bpf-ringbuf-take reader ms want 'wait)))
        (deliver! r handler events)
        (when (and (= (vector-length events) want) (> left want))
          (lp (- left want) 0))))
    (- (ring-delivered r) before)))

(define wakeup-flags '((adaptive . 0) (batch . 1) (every . 2)))

(define (bpf-ringbuf-set-wakeup! rb mode)
  "Set how @code{emit!} into ring buffer @var{rb} wakes its consumers:
@code{adaptive} (the kernel's default: a wake-up when the consumer has
caught up), @code{batch} (no wake-ups, @code{BPF_RB_NO_WAKEUP}: a
consumer drains the ring on an interval, the fastest way to move many
small events) or @code{every} (a wake-up per record,
@code{BPF_RB_FORCE_WAKEUP}).  Takes effect at once, in every program that
emits into @var{rb}; no reload.  Raises @code{ebpf-validation-error} for
an unknown mode."
  (let* ((m (map-object rb 'bpf-ringbuf-set-wakeup! '(ringbuf)))
         (flag (assq-ref wakeup-flags mode)))
    (unless flag
      (raise-ebpf-error 'ebpf-validation-error 'bpf-ringbuf-set-wakeup!
                        (format #f "unknown wake-up mode ~s" mode)
                        #:fix "use adaptive, batch or every"))
    (bpf-map-set! (%bpf-ringbuf-control m #t) 1 flag)
    mode))

(define (bpf-ringbuf-wakeup rb)
  "Return the wake-up mode of ring buffer @var{rb}: @code{adaptive},
@code{batch} or @code{every} (see @code{bpf-ringbuf-set-wakeup!})."
  (let* ((m (map-object rb 'bpf-ringbuf-wakeup '(ringbuf)))
         (ctl (%bpf-ringbuf-control m #f))
         (flag (if ctl (vector-ref (bpf-map-ref ctl 1) 0) 0)))
    (or (any (match-lambda ((k . v) (and (= v flag) k))) wakeup-flags)
        flag)))

(define (report-handler-error r port key args)
  (false-if-exception
   (begin
     (format port "bpf-ringbuf: the handler of ring buffer ~a raised an exception (the consumer goes on):~%"
             (bpf-map-name (ring-map r)))
     (print-exception port #f key args)
     (force-output port))))

(define (deliver-reporting! r handler events port)
  ;; Deliver EVENTS; a handler exception is reported to PORT and
  ;; counted, and delivery goes on with the next event.
  (let retry ((l events))
    (catch #t
      (lambda () (deliver! r handler l))
      (lambda (key . args)
        (set-ring-errors! r (+ 1 (ring-errors r)))
        (report-handler-error r port key args)
        (retry (take-pending! r))))))

(define (consume-loop r handler interval timeout max port)
  (let ((reader (ring-reader r))
        (stop (ring-stop r))
        (max (chunk max)))
    (let loop ((full? #f))
      (unless (atomic-box-ref stop)
        (let ((events (if interval
                          (%bpf-ringbuf-take reader (if full? 0 interval) max 'sleep)
                          (%bpf-ringbuf-take reader timeout max 'wait))))
          (deliver-reporting! r handler events port)
          (loop (= (vector-length events) max)))))
    ;; Stopping: hand over what is left, so nothing emitted before the
    ;; stop is lost.
    (let drain ()
      (let ((events (%bpf-ringbuf-take reader 0 max 'wait)))
        (unless (zero? (vector-length events))
          (deliver-reporting! r handler events port)
          (drain))))))

(define* (bpf-ringbuf-start! rb handler #:key (interval-ms 10)
                             (timeout-ms 100) (max 65536)
                             (error-port (current-error-port)))
  "Start a background thread that calls @var{handler} on every record of
ring buffer @var{rb}, and return @var{rb}.  The REPL (or the rest of the
program) stays usable; @code{bpf-ringbuf-stop!} stops it.

By default the ring's wake-ups are switched off (@code{batch}, see
@code{bpf-ringbuf-set-wakeup!}) and the thread drains the ring every
@var{interval-ms} milliseconds, at once again when a drain was full: the
fastest mode for many small events.  With @var{interval-ms} @code{#f} the
thread sleeps until the kernel wakes it (adaptive wake-ups), checking for
a stop every @var{timeout-ms}.

An exception raised by @var{handler} is printed on @var{error-port} and
counted (@code{handler-errors} in @code{bpf-ringbuf-stats}); the
consumer goes on with the next record.  Raises @code{ebpf-error} if a
consumer thread already runs on @var{rb}."
  (check-handler handler 'bpf-ringbuf-start!)
  (let ((r (ring-of rb 'bpf-ringbuf-start!)))
    (not-while-running r 'bpf-ringbuf-start!)
    (unless (or (not interval-ms) (and (exact-integer? interval-ms)
                                       (> interval-ms 0)))
      (raise-ebpf-error 'ebpf-validation-error 'bpf-ringbuf-start!
                        (format #f "bad #:interval-ms ~s" interval-ms)
                        #:fix "give a positive number of milliseconds, or #f to be woken by the kernel"))
    (let ((mode (if interval-ms 'batch 'adaptive)))
      (bpf-ringbuf-set-wakeup! (ring-map r) mode)
      (set-ring-mode! r mode))
    (atomic-box-set! (ring-stop r) #f)
    (let ((pending (take-pending! r)))
      (set-ring-thread!
       r
       (call-with-new-thread
        (lambda ()
          (deliver-reporting! r handler pending error-port)
          (consume-loop r handler interval-ms timeout-ms max error-port)))))
    (ring-map r)))

(define (bpf-ringbuf-running? rb)
  "Return @code{#t} if a consumer thread runs on ring buffer @var{rb}."
  (let ((m (map-object rb 'bpf-ringbuf-running? '(ringbuf))))
    (and=> (with-mutex rings-lock (hashq-ref rings m))
           (lambda (r) (and (ring-thread r) #t)))))

(define (bpf-ringbuf-stop! rb)
  "Stop the consumer thread of ring buffer @var{rb}, after it has handed
over every record already in the ring, and return
@code{bpf-ringbuf-stats}.  The ring's wake-ups are set back to
@code{adaptive}.  Does nothing if no consumer runs."
  (let* ((m (map-object rb 'bpf-ringbuf-stop! '(ringbuf)))
         (r (with-mutex rings-lock (hashq-ref rings m))))
    (when (and r (ring-thread r))
      (atomic-box-set! (ring-stop r) #t)
      (join-thread (ring-thread r))
      (set-ring-thread! r #f)
      (when (eq? (ring-mode r) 'batch)
        (bpf-ringbuf-set-wakeup! m 'adaptive))
      (set-ring-mode! r #f))
    (bpf-ringbuf-stats m)))

(define (bpf-ringbuf-fd rb)
  "Return a file descriptor that becomes readable when ring buffer
@var{rb} has records and wake-ups are on (@code{adaptive} or
@code{every}): wait on it with @code{select} (or Fibers), then call
@code{bpf-ringbuf-poll} with @code{#:timeout-ms 0}."
  (car (%bpf-ringbuf-reader-info (ring-reader (ring-of rb 'bpf-ringbuf-fd)))))

(define (bpf-ringbuf-stats rb)
  "Return an alist about ring buffer @var{rb}: @code{delivered} (records
handed to handlers), @code{dropped} (records @code{emit!} could not
write because the ring was full, summed over CPUs; @code{#f} when no
program of this process emits into it with @code{emit!}),
@code{handler-errors}, @code{pending} (taken, not yet handled),
@code{wakeup} and @code{running}."
  (let* ((r (ring-of rb 'bpf-ringbuf-stats))
         (m (ring-map r))
         (ctl (%bpf-ringbuf-control m #f)))
    `((delivered . ,(ring-delivered r))
      (dropped . ,(and ctl (bpf-map-ref/sum ctl 0)))
      (handler-errors . ,(ring-errors r))
      (pending . ,(- (vector-length (ring-pending r)) (ring-pending-at r)))
      (wakeup . ,(bpf-ringbuf-wakeup m))
      (running . ,(and (ring-thread r) #t)))))

(define (bpf-ringbuf-close! rb)
  "Stop the consumer of ring buffer @var{rb} if one runs and release this
process's reader of it; records left in the ring stay there.  Return the
last @code{bpf-ringbuf-stats}."
  (let* ((m (map-object rb 'bpf-ringbuf-close! '(ringbuf)))
         (stats (bpf-ringbuf-stop! m))
         (r (with-mutex rings-lock (hashq-ref rings m))))
    (when r
      (%bpf-ringbuf-close! (ring-reader r))
      (with-mutex rings-lock (hashq-remove! rings m)))
    stats))

;;; ------------------------------------------------------------------
;;; Perf buffers.

(define-record-type <perf>
  (make-perf map reader delivered lost)
  perf?
  (map perf-map)
  (reader perf-reader)
  (delivered perf-delivered set-perf-delivered!)
  (lost perf-lost set-perf-lost!))

(define perfs (make-weak-key-hash-table))

(define (perf-of m who pages)
  (let ((obj (map-object m who '(perf-event-array))))
    (with-mutex rings-lock
      (or (hashq-ref perfs obj)
          (let ((p (make-perf obj (%bpf-perf-open obj pages) 0 0)))
            (hashq-set! perfs obj p)
            p)))))

(define (report-lost map count)
  (format (current-error-port) "bpf-perf-poll: ~a: lost ~a sample~:p~%"
          (bpf-map-name map) count))

(define* (bpf-perf-poll perf handler #:key (timeout-ms 100) (pages 64)
                        (on-lost report-lost))
  "Call @var{handler} on each sample waiting in the perf buffers of
perf-event-array @var{perf} (the map or its name) and return how many it
handled; when there are none, wait up to @var{timeout-ms} milliseconds
(0: do not wait; -1: for ever).  Samples are decoded as ring buffer
records are (see @code{bpf-ringbuf-poll}); samples of one CPU arrive in
order.  The first poll opens one buffer of @var{pages} pages per CPU.

Samples the kernel dropped because a buffer was full are never silent:
@code{(@var{on-lost} perf count)} is called with their number (by default
a line on the current error port), and @code{bpf-perf-stats} counts
them.  Raises @code{ebpf-validation-error} for a map of another kind."
  (check-handler handler 'bpf-perf-poll)
  (let* ((p (perf-of perf 'bpf-perf-poll pages)))
    (match (%bpf-perf-take (perf-reader p) timeout-ms)
      ((samples . lost)
       (when (> lost 0)
         (set-perf-lost! p (+ (perf-lost p) lost))
         (when on-lost (on-lost (perf-map p) lost)))
       (let lp ((l samples) (n 0))
         (if (pair? l)
             (begin
               (set-perf-delivered! p (+ 1 (perf-delivered p)))
               (handler (car l))
               (lp (cdr l) (+ n 1)))
             n))))))

(define (bpf-perf-fd map)
  "Return a file descriptor that becomes readable when a perf buffer of
@var{map} has samples (for @code{select} or Fibers)."
  (vector-ref (%bpf-perf-reader-info (perf-reader (perf-of map 'bpf-perf-fd 64))) 0))

(define (bpf-perf-stats map)
  "Return an alist about perf-event-array @var{map}: @code{delivered}
(samples handed to handlers) and @code{lost} (samples the kernel dropped
because a buffer was full)."
  (let ((p (perf-of map 'bpf-perf-stats 64)))
    `((delivered . ,(perf-delivered p))
      (lost . ,(perf-lost p)))))

(define (bpf-perf-close! map)
  "Release this process's perf buffers of @var{map}."
  (let* ((obj (map-object map 'bpf-perf-close! '(perf-event-array)))
         (p (with-mutex rings-lock (hashq-ref perfs obj))))
    (when p
      (%bpf-perf-close! (perf-reader p))
      (with-mutex rings-lock (hashq-remove! perfs obj)))
    (if #f #f)))

;;; ------------------------------------------------------------------
;;; The trace pipe.

(define (tracefs)
  (or (%bpf-tracefs #t)
      (raise-ebpf-error 'ebpf-error 'bpf-trace-pipe
                        "tracefs is not mounted and could not be mounted"
                        #:fix "mount it: mount -t tracefs tracefs /sys/kernel/tracing")))

(define (bpf-trace-pipe . args)
  "Copy the kernel's trace pipe, where @code{printk} writes, to a port for
a while, and return the number of lines copied.  Arguments, in any
order: @code{#:duration-ms N} (default 1000), @code{#:match STRING}
(copy only lines containing it) and the port (default: the current
output port).  Lines are copied as the kernel writes them, e.g.
@samp{guile-42 [001] ...21 812.50: bpf_trace_printk: opened 3}.  Reading
consumes them: another reader of the pipe does not see them.  Raises
@code{ebpf-error} when tracefs cannot be found or mounted."
  (let-values (((port duration pattern)
                (let loop ((l args) (port (current-output-port))
                           (duration 1000) (pattern #f))
                  (match l
                    (() (values port duration pattern))
                    ((#:duration-ms (? real? n) . rest) (loop rest port n pattern))
                    ((#:match (? string? s) . rest) (loop rest port duration s))
                    (((? output-port? p) . rest) (loop rest p duration pattern))
                    (_ (raise-ebpf-error
                        'ebpf-validation-error 'bpf-trace-pipe
                        (format #f "bad arguments ~s" args)
                        #:fix "call (bpf-trace-pipe #:duration-ms N [#:match STRING] [PORT])"))))))
    (let* ((fd (open-fdes (string-append (tracefs) "/trace_pipe")
                          (logior O_RDONLY O_NONBLOCK)))
           (in (fdes->inport fd))
           (deadline (+ (get-internal-real-time)
                        (* duration (/ internal-time-units-per-second 1000))))
           (count 0)
           (partial ""))
      (define (emit-lines! text)
        (let* ((all (string-append partial text))
               (lines (string-split all #\newline)))
          (set! partial (last lines))
          (for-each (lambda (line)
                      (when (or (not pattern) (string-contains line pattern))
                        (display line port)
                        (newline port)
                        (set! count (+ count 1))))
                    (drop-right lines 1))))
      (dynamic-wind
        (const #t)
        (lambda ()
          (let loop ()
            (let ((left (- deadline (get-internal-real-time))))
              (when (> left 0)
                (let* ((usecs (quotient (* left 1000000)
                                        internal-time-units-per-second))
                       (ready (car (select (list in) '() '()
                                           (quotient usecs 1000000)
                                           (remainder usecs 1000000)))))
                  (when (pair? ready)
                    (let ((bv (get-bytevector-some in)))
                      (unless (eof-object? bv)
                        (emit-lines! (utf8->string bv)))))
                  (loop)))))
          (force-output port)
          count)
        (lambda () (close-port in))))))

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
  (let* ((m (map-object hist 'bpf-hist '(histogram per-cpu-array per-cpu-hash)))
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
  (let* ((m (map-object hist 'bpf-print-hist '(histogram per-cpu-array per-cpu-hash)))
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
                         (format port "~a[~a]:~%" title (format-key k))
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
symbolized frame per line.  @var{name} replaces the
@samp{@@NAME} prefix (@code{\"@@\"} prints @samp{@@[KEY]: VALUE}).
A histogram map is printed by @code{bpf-print-hist}."
  (let ((m (map-object table 'bpf-print-map
                       '(hash array per-cpu-hash per-cpu-array lru-hash
                         lru-per-cpu-hash lpm-trie histogram))))
    (if (eq? (bpf-map-kind m) 'histogram)
        (bpf-print-hist m port #:top top #:name name)
        (print-map-entries m port top name))))

(define (print-map-entries m port top name)
  (let* ((title (map-title m name))
         (stack-key-text (or (stack-key-printer m) format-key))
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

;;; ------------------------------------------------------------------
;;; Stacks.

(define (stack-key-frames note k)
  ;; The frames of key K of a map whose keys are stacks, NOTE being
  ;; (STACKMAP . MODE) as the lowering noted it (see %bpf-stack-key).
  (let* ((stackmap (car note))
         (id (logand k #xffffffff))
         (valid? (< id #x80000000)))   ; a failed capture: negative errno
    (case (cdr note)
      ((kernel) (if valid?
                    (%bpf-symbolize (bpf-stack-addresses stackmap id) #f)
                    '()))
      ((user) (if valid?
                  (let ((addrs (bpf-stack-addresses stackmap id))
                        (pid (ash k -32)))
                    (if (file-exists? (format #f "/proc/~a/maps" pid))
                        (%bpf-symbolize addrs pid)
                        (map (lambda (a) (format #f "0x~x" a)) addrs)))
                  '()))
      (else (if (and (>= k 0) valid?) (bpf-stack-symbols stackmap k) '())))))

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

(define (symbol-text who addr pid)
  (unless (and (exact-integer? addr) (>= addr 0))
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "bad address ~s" addr)
                      #:fix "give an address as a non-negative integer"))
  (match (%bpf-symbol addr pid)
    ((name . 0) name)
    ((name . off) (format #f "~a+0x~x" name off))
    (#f (format #f "0x~x" addr))))

(define (bpf-ksym addr)
  "Return the kernel symbol covering address @var{addr}, as
@code{\"vfs_read+0x1a\"} (the offset in hexadecimal, omitted when
zero), or @code{\"0xADDRESS\"} when no symbol of /proc/kallsyms covers
it.  Raises @code{ebpf-validation-error} for a bad address."
  (symbol-text 'bpf-ksym addr #f))

(define (bpf-usym pid addr)
  "Return the symbol covering user address @var{addr} of process
@var{pid}, named from the ELF symbol tables of the files it maps, as
@code{\"main+0x10\"} (the offset in hexadecimal, omitted when zero),
or @code{\"0xADDRESS\"} when none covers it or the process is gone.
Raises @code{ebpf-validation-error} for a bad address or process id."
  (unless (and (exact-integer? pid) (> pid 0))
    (raise-ebpf-error 'ebpf-validation-error 'bpf-usym
                      (format #f "bad process id ~s" pid)
                      #:fix "give a process id (a positive integer)"))
  (symbol-text 'bpf-usym addr pid))

(define kernel-space #xffff800000000000)

(define (bpf-stack-addresses stackmap id)
  "Return the addresses (innermost first) of the stack that
@code{(stack-id ctx STACKMAP)} recorded under @var{id} in
@var{stackmap}, or @code{'()} if it holds none.  Raises
@code{ebpf-validation-error} for a negative @var{id} (the error
@code{bpf_get_stackid} returned)."
  (let ((m (map-object stackmap 'bpf-stack-addresses '(stack-trace))))
    (unless (and (exact-integer? id) (>= id 0))
      (raise-ebpf-error 'ebpf-validation-error 'bpf-stack-addresses
                        (format #f "bad stack id ~s~a" id
                                (if (and (exact-integer? id) (< id 0))
                                    (format #f " (stack-id failed with errno ~a)" (- id))
                                    ""))
                        #:fix "give an id stack-id returned (>= 0); -14 (EFAULT) means no stack, -17 (EEXIST) a hash collision"))
    (let ((v (bpf-map-ref m id)))
      (cond
       ((not v) '())
       ((bytevector? v)
        (let lp ((i 0) (acc '()))
          (if (> (+ i 8) (bytevector-length v))
              (reverse acc)
              (let ((a (bytevector-u64-native-ref v i)))
                (if (zero? a)
                    (reverse acc)
                    (lp (+ i 8) (cons a acc)))))))
       (else '())))))

(define* (bpf-stack-symbols stackmap id #:key (pid (getpid)))
  "Return the frames of the stack recorded under @var{id} in
@var{stackmap} (see @code{bpf-stack-addresses}) as strings, innermost
first, the way bpftrace prints stacks: @samp{SYMBOL+OFFSET} (decimal),
or @samp{0xADDRESS} where no symbol covers the address.  Kernel stacks
are named from /proc/kallsyms; user stacks (recorded with
@code{#:user? #t}) from the ELF symbol tables of the files that process
@var{pid} (default: this one) maps, so give the pid of the process the
stack came from while it still runs."
  (let ((addrs (bpf-stack-addresses stackmap id)))
    (cond ((null? addrs) '())
          ((>= (car addrs) kernel-space) (%bpf-symbolize addrs #f))
          (else (%bpf-symbolize addrs pid)))))

;;; ------------------------------------------------------------------
;;; Probes.

(define traceable #f)
(define (traceable-functions)
  ;; Functions ftrace can hook (available_filter_functions), or #f when
  ;; that list cannot be read.
  (unless traceable
    (set! traceable
          (or (false-if-exception
               (let ((file (string-append (%bpf-tracefs)
                                          "/available_filter_functions"))
                     (table (make-hash-table 100000)))
                 (call-with-input-file file
                   (lambda (in)
                     (let lp ()
                       (let ((line (read-line in)))
                         (unless (eof-object? line)
                           (let ((sp (string-index line #\space)))
                             (hash-set! table (if sp (substring line 0 sp) line) #t))
                           (lp))))))
                 table))
              'none)))
  (and (hash-table? traceable) traceable))

(define btf-functions #f)
(define (kernel-functions)
  (unless btf-functions
    (set! btf-functions
          (catch #t %bpf-btf-functions (lambda _ '()))))
  btf-functions)

(define (fentry-targets rx)
  (let ((ok (traceable-functions)))
    (filter (lambda (f)
              (and (regexp-exec rx f)
                   (not (string-prefix? "bpf_lsm_" f))
                   (or (not ok) (hash-ref ok f))))
            (kernel-functions))))

(define (lsm-hooks rx)
  (filter-map (lambda (f)
                (and (string-prefix? "bpf_lsm_" f)
                     (let ((hook (substring f 8)))
                       (and (regexp-exec rx hook) hook))))
              (kernel-functions)))

(define (elf-of path who)
  (unless (and (string? path) (file-exists? path))
    (raise-ebpf-error 'ebpf-validation-error who
                      (format #f "no binary ~s" path)
                      #:fix "give the path of an ELF file, e.g. uprobe:/bin/bash:read*"))
  (catch #t
    (lambda () (parse-elf (call-with-input-file path get-bytevector-all #:binary #t)))
    (lambda _
      (raise-ebpf-error 'ebpf-validation-error who
                        (format #f "~a is not an ELF file" path)
                        #:fix "give the path of an executable or shared library"))))

(define (elf-functions path rx)
  ;; Defined function symbols of PATH (.symtab and .dynsym) matching RX.
  (let* ((elf (elf-of path 'bpf-list-probes))
         (names (make-hash-table)))
    (for-each
     (lambda (sec)
       (when (memv (elf-section-type sec) (list SHT_SYMTAB SHT_DYNSYM))
         (let ((n (elf-symbol-table-len sec))
               (strtab (elf-section elf (elf-section-link sec))))
           (do ((i 1 (+ i 1))) ((>= i n))
             (let ((sym (elf-symbol-table-ref elf sec i strtab)))
               (when (and (= (elf-symbol-type sym) STT_FUNC)
                          (not (zero? (elf-symbol-shndx sym)))
                          (not (zero? (elf-symbol-value sym)))
                          (regexp-exec rx (elf-symbol-name sym)))
                 (hash-set! names (elf-symbol-name sym) #t)))))))
     (elf-sections elf))
    (sort (hash-map->list (lambda (k v) k) names) string<?)))

(define (c-string bv start)
  (let lp ((i start))
    (if (or (>= i (bytevector-length bv)) (zero? (bytevector-u8-ref bv i)))
        (values (utf8->string (let ((out (make-bytevector (- i start))))
                                (bytevector-copy! bv start out 0 (- i start))
                                out))
                (+ i 1))
        (lp (+ i 1)))))

(define (elf-usdt-notes path)
  ;; (PROVIDER . NAME) of the SystemTap SDT notes of PATH.
  (let* ((elf (elf-of path 'bpf-list-probes))
         (sec (elf-section-by-name elf ".note.stapsdt"))
         (bv (elf-bytes elf))
         (acc '()))
    (when sec
      (let ((end (+ (elf-section-offset sec) (elf-section-size sec)))
            (align (lambda (n) (* 4 (quotient (+ n 3) 4)))))
        (let lp ((off (elf-section-offset sec)))
          (when (< (+ off 12) end)
            (let* ((namesz (bytevector-u32-native-ref bv off))
                   (descsz (bytevector-u32-native-ref bv (+ off 4)))
                   (type (bytevector-u32-native-ref bv (+ off 8)))
                   (desc (+ off 12 (align namesz))))
              (when (= type 3)
                ;; Three addresses (pc, base, semaphore), then strings.
                (let*-values (((provider next) (c-string bv (+ desc 24)))
                              ((name _) (c-string bv next)))
                  (set! acc (cons (cons provider name) acc))))
              (lp (+ desc (align descsz))))))))
    (delete-duplicates (reverse acc))))

(define (trampoline-problem)
  ;; Why fentry, fexit and lsm cannot attach here, or #f.
  (let ((f (false-if-exception (bpf-features))))
    (and f (not (assq-ref f 'fentry))
         (format #f "this kernel refuses trampolines (~a)"
                 (or (assq-ref f 'fentry-error) "fentry unsupported")))))

(define (tracepoint-fields tp)
  ;; ((TYPE . NAME) ...) of tracepoint "G:N", its common_ fields left out.
  (let* ((root (%bpf-tracefs))
         (sep (string-index tp #\:))
         (file (and root sep
                    (string-append root "/events/" (substring tp 0 sep) "/"
                                   (substring tp (+ sep 1)) "/format")))
         (rx (make-regexp "field:([^;]*);")))
    (if (not (and file (file-exists? file)))
        '()
        (call-with-input-file file
          (lambda (in)
            (let lp ((acc '()))
              (let ((line (read-line in)))
                (if (eof-object? line)
                    (reverse acc)
                    (let ((m (regexp-exec rx line)))
                      (if (not m)
                          (lp acc)
                          (let* ((decl (string-trim-both (match:substring m 1)))
                                 (arr (string-index decl #\[))
                                 (base (if arr (substring decl 0 arr) decl))
                                 (sp (string-rindex base (char-set #\space #\*)))
                                 (name (substring base (+ sp 1)))
                                 (type (string-trim-both (string-append (substring base 0 (+ sp 1))
                                                                        (if arr (substring decl arr) "")))))
                            (if (string-prefix? "common_" name)
                                (lp acc)
                                (lp (cons (cons type name) acc))))))))))))))

(define (bpf-probe-info probe)
  "Return what is known about @var{probe} (one of the strings
@code{bpf-list-probes} returns) as an alist: @code{(probe . PROBE)},
@code{(available . #t or #f)}, @code{(reason . TEXT)} when it is not,
and for a tracepoint @code{(fields (TYPE . NAME) ...)} from its format
file, as @command{bpftrace -lv} shows them."
  (let* ((colon (string-index probe #\:))
         (kind (if colon (substring probe 0 colon) ""))
         (rest (if colon (substring probe (+ colon 1)) probe))
         (problem (and (member kind '("fentry" "fexit" "lsm")) (trampoline-problem))))
    `((probe . ,probe)
      (available . ,(not problem))
      ,@(if problem `((reason . ,problem)) '())
      ,@(if (equal? kind "tracepoint") `((fields . ,(tracepoint-fields rest))) '()))))

(define* (bpf-list-probes #:optional (glob "*"))
  "Return the attach points matching @var{glob} as @command{bpftrace -l}
lists them, sorted within each kind: @samp{tracepoint:CATEGORY:NAME},
@samp{rawtracepoint:NAME}, @samp{fentry:FUNCTION} (kernel functions with
BTF that ftrace can hook: targets of fentry and fexit programs),
@samp{lsm:HOOK}, @samp{uprobe:PATH:SYMBOL} (the functions of binary
PATH) and @samp{usdt:PATH:PROVIDER:NAME} (its SystemTap SDT notes).
@var{glob} uses @code{*}, @code{?} and @code{[...]}; a kind prefix
(@code{tracepoint:}, @code{rawtracepoint:}, @code{fentry:},
@code{kfunc:}, @code{fexit:}, @code{lsm:}, @code{uprobe:PATH:},
@code{usdt:PATH:}) restricts the search to that kind; without one,
@samp{CATEGORY:NAME} searches tracepoints and a bare name every kernel
kind.  Where this kernel refuses trampolines, fentry, fexit and lsm
points are still listed; @code{bpf-probe-info} says they cannot attach.
Examples: @code{(bpf-list-probes \"syscalls:sys_enter_open*\")},
@code{(bpf-list-probes \"lsm:file_*\")},
@code{(bpf-list-probes \"uprobe:/bin/bash:read*\")}."
  (unless (string? glob)
    (raise-ebpf-error 'ebpf-validation-error 'bpf-list-probes
                      (format #f "bad glob ~s" glob)
                      #:fix "give a string such as \"syscalls:sys_enter_open*\""))
  (let* ((colon (string-index glob #\:))
         (kind (and colon (substring glob 0 colon)))
         (rest (if colon (substring glob (+ colon 1)) glob))
         (tps (lambda (g)
                (map (lambda (t) (string-append "tracepoint:" t))
                     (tracepoints-matching g))))
         (raw (lambda (g)
                (let ((rx (glob->regexp g)))
                  (sort (delete-duplicates
                         (filter-map (lambda (t)
                                       (let ((n (substring t (+ 1 (string-index t #\:)))))
                                         (and (regexp-exec rx n)
                                              (string-append "rawtracepoint:" n))))
                                     (tracepoints-matching "*:*")))
                        string<?))))
         (fentry (lambda (g prefix)
                   (map (lambda (f) (string-append prefix f))
                        (fentry-targets (glob->regexp g)))))
         (lsm (lambda (g)
                (map (lambda (h) (string-append "lsm:" h))
                     (lsm-hooks (glob->regexp g)))))
         (path+glob (lambda (r)
                      ;; "PATH:GLOB" or "PATH" (every symbol).
                      (let ((c (string-index r #\:)))
                        (if c
                            (values (substring r 0 c) (substring r (+ c 1)))
                            (values r "*"))))))
    (cond
     ((not kind)
      (append (tps (string-append "*:" glob))
              (raw glob)
              (fentry glob "fentry:")
              (lsm glob)))
     ((member kind '("tracepoint" "t"))
      (tps (if (string-index rest #\:) rest (string-append "*:" rest))))
     ((member kind '("rawtracepoint" "rt")) (raw rest))
     ((member kind '("fentry" "kfunc" "f")) (fentry rest "fentry:"))
     ((member kind '("fexit" "kretfunc")) (fentry rest "fexit:"))
     ((equal? kind "lsm") (lsm rest))
     ((member kind '("uprobe" "u" "uretprobe" "ur"))
      (let-values (((path g) (path+glob rest)))
        (map (lambda (s) (string-append (if (member kind '("uretprobe" "ur")) "uretprobe:" "uprobe:")
                                        path ":" s))
             (elf-functions path (glob->regexp g)))))
     ((equal? kind "usdt")
      (let-values (((path g) (path+glob rest)))
        (let ((rx (glob->regexp g)))
          (filter-map (match-lambda
                        ((provider . name)
                         (and (or (regexp-exec rx name)
                                  (regexp-exec rx (string-append provider ":" name)))
                              (string-append "usdt:" path ":" provider ":" name))))
                      (elf-usdt-notes path)))))
     (else (tps glob)))))
